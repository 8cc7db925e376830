//! The console in a real browser: Debian's chromium, headless, driven over
//! WebDriver (chromedriver) by fantoccini. What a presenter does, clicked:
//! start traffic, stop the store, see the session side fail and the JWT side
//! hold, start it again, log alice out and watch her credentials' counters.
//!
//! `scripts/setup.sh` installs chromium and chromium-driver; without them
//! this test fails and says so rather than passing on nothing.
//!
//! `click_to_effect` (ignored by default: it stops and starts the store five
//! times) prints the time from a click to its effect on the page:
//! `cargo test -p lab --test console_browser -- --ignored --nocapture`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod console_support;

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use console_support::{spec, with_console};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// The flags the console's browser tests run chromium with: headless, no
/// sandbox (tests run as root), and nothing that would reach the network.
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1440,1000",
];

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let program = which("chromedriver").expect(
            "chromedriver is missing: run scripts/setup.sh (Debian's chromium and chromium-driver)",
        );
        let port = supervise::free_port().unwrap();
        let mut command = Command::new(program);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        supervise::die_with_parent(&mut command);
        let child = command.spawn().expect("starting chromedriver");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn browser(&self) -> Client {
        let chromium = which("chromium").expect("chromium is missing: run scripts/setup.sh");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": CHROMIUM_FLAGS,
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a chromium session from chromedriver")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(program))
        .find(|path| path.is_file())
}

/// Runs `script` in the page until `check` holds on its result, or panics
/// naming `what` and the last result.
async fn until(
    browser: &Client,
    what: &str,
    within: Duration,
    script: &str,
    check: impl Fn(&Value) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let value = browser.execute(script, Vec::new()).await.unwrap();
        if check(&value) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{what}: not within {within:?}; the page showed {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A stack's health word as the page shows it (`data-health`).
fn health_of(stack: &str) -> String {
    format!("return document.getElementById('{stack}-health').dataset.health;")
}

/// `[stack, access, text]` of each row of a person's counters.
fn counters_of(person: &str) -> String {
    format!(
        "return [...document.querySelectorAll('tbody[data-person=\"{person}\"] tr')]\
         .map(r => [r.dataset.stack, r.querySelector('td').dataset.access, r.querySelector('td').textContent]);"
    )
}

fn rows_all(value: &Value, stack: &str, access: &str) -> bool {
    let rows: Vec<&Value> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter(|row| row[0] == stack)
        .collect();
    !rows.is_empty() && rows.iter().all(|row| row[1] == access)
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
        .click()
        .await
        .unwrap();
}

/// Saves what the browser shows with `css` at the top of the window.
async fn screenshot(browser: &Client, css: &str, name: &str) {
    let scroll =
        format!("document.querySelector('{css}').scrollIntoView(); window.scrollBy(0, -8);");
    browser.execute(&scroll, Vec::new()).await.unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
}

/// Opens the console and starts its traffic; both stacks serving.
async fn open_with_traffic(browser: &Client, url: &str) {
    browser.goto(url).await.unwrap();
    until(
        browser,
        "the live feed connects",
        Duration::from_secs(10),
        "return document.getElementById('connection').textContent;",
        |v| v == "LIVE",
    )
    .await;
    click(browser, "#load-start").await;
    for stack in ["session", "jwt"] {
        until(
            browser,
            &format!("the {stack} stack serves the traffic"),
            Duration::from_secs(10),
            &health_of(stack),
            |v| v == "serving",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presenter_breaks_the_store_and_logs_alice_out() {
    let driver = Driver::start();
    with_console(spec(), None, |url, _| async move {
        let browser = driver.browser().await;
        open_with_traffic(&browser, &url).await;
        // A few seconds of history, so the charts show the fault against it.
        tokio::time::sleep(Duration::from_secs(6)).await;
        screenshot(&browser, "body", "serving.png").await;

        click(&browser, "#store-stop").await;
        until(
            &browser,
            "the session panel shows failures",
            Duration::from_secs(5),
            &health_of("session"),
            |v| v == "failing",
        )
        .await;
        let failures = browser
            .find(Locator::Id("session-failures"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(failures.contains("503"), "{failures}");
        let jwt = browser
            .execute(&health_of("jwt"), Vec::new())
            .await
            .unwrap();
        assert_eq!(jwt, "serving", "the JWT panel turned with the store");
        let store = browser
            .find(Locator::Id("store-health"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(store, "DOWN");
        screenshot(&browser, ".stacks", "store-stopped.png").await;

        click(&browser, "#store-start").await;
        until(
            &browser,
            "the session panel recovers",
            Duration::from_secs(15),
            &health_of("session"),
            |v| v == "serving",
        )
        .await;

        click(&browser, "#alice-logout").await;
        // The JWT counter runs: its text names seconds after the logout, and grows.
        let seconds = |rows: &Value| -> Vec<u64> {
            rows.as_array()
                .into_iter()
                .flatten()
                .filter(|r| r[0] == "jwt")
                .filter_map(|r| {
                    r[2].as_str()?
                        .strip_prefix("accepted ")?
                        .split(' ')
                        .next()?
                        .parse()
                        .ok()
                })
                .collect()
        };
        until(
            &browser,
            "alice's session is refused while her JWT is still accepted",
            Duration::from_secs(5),
            &counters_of("alice"),
            // "accepted" alone until the page has the logout's time: wait
            // for the counter that names seconds.
            |rows| {
                rows_all(rows, "session", "refused")
                    && rows_all(rows, "jwt", "accepted")
                    && !seconds(rows).is_empty()
            },
        )
        .await;
        let first = browser
            .execute(&counters_of("alice"), Vec::new())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2200)).await;
        let later = browser
            .execute(&counters_of("alice"), Vec::new())
            .await
            .unwrap();
        let (first, later) = (seconds(&first), seconds(&later));
        assert!(!first.is_empty(), "no running JWT counter: {first:?}");
        assert!(
            later.iter().zip(&first).all(|(l, f)| l > f),
            "the JWT counters did not run: {first:?} then {later:?}"
        );
        screenshot(&browser, "#inspector", "alice-logged-out.png").await;
        browser.close().await.unwrap();
    })
    .await;
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a figure, not a check: five store stops and five node kills (about a minute)"]
async fn click_to_effect() {
    let driver = Driver::start();
    with_console(spec(), None, |url, _| async move {
        let browser = driver.browser().await;
        open_with_traffic(&browser, &url).await;
        let mut store_down = Vec::new();
        let mut failures_shown = Vec::new();
        let mut failing = Vec::new();
        let mut node = Vec::new();
        let store_badge = "return document.getElementById('store-health').textContent;";
        let node_state = "return document.querySelector('#node-session-2 td.state').textContent;";
        for _ in 0..5 {
            let clicked = Instant::now();
            click(&browser, "#store-stop").await;
            until(
                &browser,
                "the store badge",
                Duration::from_secs(10),
                store_badge,
                |v| v == "DOWN",
            )
            .await;
            store_down.push(clicked.elapsed());
            until(
                &browser,
                "failures",
                Duration::from_secs(10),
                &health_of("session"),
                |v| v == "degraded" || v == "failing",
            )
            .await;
            failures_shown.push(clicked.elapsed());
            until(
                &browser,
                "failing",
                Duration::from_secs(10),
                &health_of("session"),
                |v| v == "failing",
            )
            .await;
            failing.push(clicked.elapsed());
            click(&browser, "#store-start").await;
            until(
                &browser,
                "recovery",
                Duration::from_secs(20),
                &health_of("session"),
                |v| v == "serving",
            )
            .await;
            let clicked = Instant::now();
            click(&browser, "#node-session-2 button[data-action='node-kill']").await;
            until(
                &browser,
                "kill node shows",
                Duration::from_secs(10),
                node_state,
                |v| v.as_str().is_some_and(|s| s.starts_with("DOWN")),
            )
            .await;
            node.push(clicked.elapsed());
            click(
                &browser,
                "#node-session-2 button[data-action='node-restart']",
            )
            .await;
            until(
                &browser,
                "node back",
                Duration::from_secs(20),
                node_state,
                |v| v.as_str().is_some_and(|s| s.starts_with("UP")),
            )
            .await;
        }
        let show = |name: &str, samples: &[Duration]| {
            let ms: Vec<String> = samples
                .iter()
                .map(|d| format!("{}", d.as_millis()))
                .collect();
            println!(
                "click to effect, {name}: median {} ms of 5 (each: {} ms)",
                median(samples.to_vec()).as_millis(),
                ms.join(", ")
            );
        };
        show("stop store, the store's badge DOWN", &store_down);
        show(
            "stop store, the session panel shows failures (DEGRADED or FAILING)",
            &failures_shown,
        );
        show("stop store, the session panel FAILING", &failing);
        show("kill node, its row DOWN", &node);
        browser.close().await.unwrap();
    })
    .await;
}
