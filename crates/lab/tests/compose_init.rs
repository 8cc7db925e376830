//! `authlab compose-init` as the init container runs it, twice (every
//! `docker compose up` runs it again): the real binary, a real user
//! directory, files the real servers and HAProxy accept.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{os::unix::fs::PermissionsExt, path::Path, process::Command};

use jwt_server::keys::KeySetFile;
use session_server::SessionServerConfig;
use testkit::RedisServer;

fn compose_init(dir: &Path, directory_url: &str, path_env: Option<&str>) -> Vec<String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authlab"));
    command.args([
        "compose-init",
        "--config-dir",
        dir.to_str().unwrap(),
        "--user-directory-url",
        directory_url,
        "--users",
        "50",
    ]);
    if let Some(path) = path_env {
        command.env("PATH", path);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn sets_up_once_and_keeps_secrets_on_every_later_run() {
    let redis = RedisServer::start();
    let root = tempfile::tempdir().unwrap();
    // The volume's directory may not exist yet.
    let dir = root.path().join("config");

    let first = compose_init(&dir, &redis.url(0), None);
    assert_eq!(
        first,
        [
            "seeded 3 demo users + 50 load users",
            "wrote cookie-secret (48 random characters, mode 0600)",
            "wrote introspection-secret (client id orders, 48 random characters, mode 0600)",
            "wrote jwt-keys.json (one ES256 key, mode 0600)",
            "wrote 1 public key(s) for the gateway into gateway/",
            "TLS off: the frontends speak clear text",
            "wrote haproxy.cfg (session :8080, jwt :8081, stats :8404, runtime API :9999; orders jwks :8090, introspection :8091, introspection-cached :8092, gateway :8093; 10 roundrobin slots per stack)",
            "checked haproxy.cfg with haproxy -c: valid",
        ]
    );
    let secret_path = dir.join("cookie-secret");
    let keys_path = dir.join("jwt-keys.json");
    let config_path = dir.join("haproxy.cfg");
    let introspection_path = dir.join("introspection-secret");
    assert_eq!(mode(&introspection_path), 0o600);
    assert!(std::fs::read_to_string(&introspection_path).unwrap().len() >= 16);
    let secret = std::fs::read(&secret_path).unwrap();
    let keys = std::fs::read(&keys_path).unwrap();
    assert_eq!(secret.len(), 48);
    assert!(secret.iter().all(u8::is_ascii_alphanumeric));
    assert_eq!(mode(&secret_path), 0o600);
    assert_eq!(mode(&keys_path), 0o600);
    assert_eq!(mode(&config_path), 0o644);
    // Nothing printed gives the secret away.
    let secret_text = String::from_utf8(secret.clone()).unwrap();
    assert!(first.iter().all(|line| !line.contains(&secret_text)));

    // The servers accept what was written, as their flags would read it.
    let mut session = SessionServerConfig::local(&redis.url(0), &redis.url(1));
    session.cookie_secret = None;
    session.cookie_secret_file = Some(secret_path.clone());
    session.cluster_nodes = 3;
    session.validate().unwrap();
    let key_set = KeySetFile::read(&keys_path, false).unwrap();
    assert_eq!(key_set.alg, jwt_server::SigningAlgorithm::Es256);
    let config = std::fs::read_to_string(&config_path).unwrap();
    assert!(config.contains("server-template session 10 session:8080 check resolvers docker"));
    for service in [
        "orders-jwks",
        "orders-introspection",
        "orders-introspection-cached",
        "orders-gateway",
    ] {
        assert!(
            config.contains(&format!(
                "server-template {} 10 {service}:8080 check",
                service.replace('-', "_")
            )),
            "{service}:\n{config}"
        );
    }
    // The gateway's key: public, readable by HAProxy's user, named in the config.
    let kid = &key_set.keys[0].kid;
    let pem = dir.join("gateway").join(format!("{kid}.pem"));
    assert_eq!(mode(&pem), 0o644);
    assert!(std::fs::read_to_string(&pem)
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(config.contains(&format!("jwt_verify('ES256','{}')", pem.display())));

    // The users are in the directory.
    let alice: Option<String> =
        testkit::redis::command(&redis.url(0), &["HGET", "authlab:user:alice", "roles"]).await;
    assert_eq!(alice.as_deref(), Some("user"));
    let last: i64 =
        testkit::redis::command(&redis.url(0), &["EXISTS", "authlab:user:user49"]).await;
    assert_eq!(last, 1);

    // Second run, in an image without haproxy, after someone edited the config.
    std::fs::write(&config_path, "stale\n").unwrap();
    let second = compose_init(&dir, &redis.url(0), Some("/nonexistent"));
    assert_eq!(
        second,
        [
            "seeded 3 demo users + 50 load users",
            "kept existing cookie-secret",
            "kept existing introspection-secret",
            "kept existing jwt-keys.json (ES256)",
            "wrote 1 public key(s) for the gateway into gateway/",
            "TLS off: the frontends speak clear text",
            "wrote haproxy.cfg (session :8080, jwt :8081, stats :8404, runtime API :9999; orders jwks :8090, introspection :8091, introspection-cached :8092, gateway :8093; 10 roundrobin slots per stack)",
            "skipped checking haproxy.cfg: no haproxy on PATH (HAProxy checks it as it starts)",
        ]
    );
    assert_eq!(std::fs::read(&secret_path).unwrap(), secret);
    assert_eq!(std::fs::read(&keys_path).unwrap(), keys);
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), config);
    // No staging files left on the volume.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
}

#[tokio::test]
async fn an_eddsa_key_set_it_keeps_gets_no_gateway_frontend() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    // A volume from before the gateway: its key set is kept, tokens stay valid.
    KeySetFile::generate(jwt_server::SigningAlgorithm::EdDsa)
        .unwrap()
        .write(&dir.path().join("jwt-keys.json"))
        .unwrap();
    let lines = compose_init(dir.path(), &redis.url(0), None);
    assert!(
        lines.contains(&"kept existing jwt-keys.json (EdDSA)".to_string()),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("no gateway frontend:") && l.contains("down -v")),
        "{lines:?}"
    );
    let config = std::fs::read_to_string(dir.path().join("haproxy.cfg")).unwrap();
    assert!(config.contains("frontend orders_jwks_front"), "{config}");
    // Never a frontend to a gateway-mode node that nothing guards.
    assert!(!config.contains("orders_gateway"), "{config}");
    assert!(!config.contains("jwt_verify"), "{config}");
}

#[test]
fn refuses_a_short_secret_it_would_otherwise_keep() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cookie-secret"), "too short\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_authlab"))
        .args(["compose-init", "--users", "0", "--config-dir"])
        .arg(dir.path())
        .args(["--user-directory-url", &redis.url(0)])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fewer than 32 bytes"), "{stderr}");
    assert!(!stderr.contains("too short"), "{stderr}");
    assert!(!dir.path().join("jwt-keys.json").exists());
}

#[test]
fn with_tls_it_generates_a_certificate_each_start_and_haproxy_binds_with_it() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_authlab"))
            .args(["compose-init", "--users", "0", "--config-dir"])
            .arg(dir.path())
            .args(["--user-directory-url", &redis.url(0)])
            .args(extra)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, out) = run(&["--tls", "--h2"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("generated a CA and HAProxy's certificate into tls/ (TLS, ALPN h2,http/1.1)"),
        "{out}"
    );
    assert!(
        out.contains("checked haproxy.cfg with haproxy -c: valid"),
        "{out}"
    );
    let tls = dir.path().join("tls");
    let config = std::fs::read_to_string(dir.path().join("haproxy.cfg")).unwrap();
    let bind = format!(
        "bind *:8081 ssl crt {} alpn h2,http/1.1\n",
        tls.join("haproxy.pem").display()
    );
    assert!(config.contains(&bind), "{config}");
    // HAProxy's container user reads the key; the stats page stays clear.
    assert_eq!(mode(&tls.join("haproxy.pem")), 0o644);
    assert!(config.contains("bind *:8404\n"), "{config}");
    let first_ca = std::fs::read_to_string(tls.join("ca.pem")).unwrap();

    // A new certificate at every start; none left once TLS is off.
    assert!(run(&["--tls"]).0);
    assert_ne!(
        std::fs::read_to_string(tls.join("ca.pem")).unwrap(),
        first_ca
    );
    let (ok, out) = run(&[]);
    assert!(ok && out.contains("TLS off"), "{out}");
    assert!(!tls.exists());
    // HTTP/2 is offered in the TLS handshake: without TLS it is refused.
    let (ok, out) = run(&["--h2"]);
    assert!(!ok && out.contains("needs --tls"), "{out}");
}
