//! The console's own traffic: a few simulated users per stack, hard-capped.
//!
//! A fault is only visible if something is asking the cluster for work. Each
//! simulated user behaves like a person at a browser, not like a benchmark:
//! it logs in once (as one of the seeded load users, `user0` …), then asks
//! for `/me` and `/orders` in turn at a steady pace. When its credential
//! stops working it does what a client would: the JWT user refreshes its
//! access token, and logs in again if the refresh is refused; the session
//! user logs in again. Every request it sends, logins and refreshes included,
//! ends in the stack's [`Window`], so a refused credential shows as failures
//! for exactly as long as it lasts.
//!
//! The caps ([`MAX_USERS`], [`MAX_RATE`], [`MAX_RUN`]) are what keeps a demo
//! on a laptop from turning into a load test: at most 100 requests per
//! second per stack, and the load stops by itself after 30 minutes.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::{
    clock::Clock,
    window::{Outcome, Window},
};
use crate::Stack;

/// Most simulated users per stack.
pub const MAX_USERS: usize = 20;
/// Most requests per second one simulated user sends.
pub const MAX_RATE: f64 = 5.0;
/// Longest the load runs before it stops by itself.
pub const MAX_RUN: Duration = Duration::from_secs(30 * 60);
/// The seeded load users' password (`authlab up --users`).
pub const LOAD_PASSWORD: &str = "authlab-load";
/// Longest one request of a simulated user may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a user waits after a refused login before trying again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How much load to send.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadSettings {
    /// Simulated users per stack.
    pub users: usize,
    /// Requests per second per user.
    pub rate: f64,
}

impl Default for LoadSettings {
    fn default() -> Self {
        Self {
            users: 10,
            rate: 2.0,
        }
    }
}

impl LoadSettings {
    /// The settings if they are inside the caps and `seeded` load users exist
    /// for them; otherwise why not.
    pub fn checked(self, seeded: usize) -> Result<Self, String> {
        if seeded == 0 {
            return Err(
                "this cluster has no load users to log in (start it with `authlab up --users N`)"
                    .into(),
            );
        }
        let most = MAX_USERS.min(seeded);
        if self.users == 0 || self.users > most {
            return Err(format!(
                "users must be between 1 and {most} (the cap is {MAX_USERS}, and {seeded} load users are seeded)"
            ));
        }
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err(format!(
                "rate must be above 0 and at most {MAX_RATE} requests per second per user"
            ));
        }
        Ok(self)
    }
}

/// What the page shows about the load.
#[derive(Debug, Clone, Serialize)]
pub struct LoadStatus {
    pub running: bool,
    pub settings: LoadSettings,
    /// Seconds until it stops by itself, while running.
    pub stops_in_s: Option<u64>,
    pub max_users: usize,
    pub max_rate: f64,
}

/// One stack's users and the window they report to.
struct StackLoad {
    stack: Stack,
    base: String,
    users: Vec<JoinHandle<()>>,
    window: Arc<Mutex<Window>>,
}

/// The built-in load of both stacks.
pub struct Load {
    client: reqwest::Client,
    clock: Clock,
    stacks: Vec<StackLoad>,
    settings: LoadSettings,
    seeded: usize,
    started: Option<Instant>,
}

impl Load {
    /// `targets`: each stack and the URL of its load balancer.
    pub fn new(
        client: reqwest::Client,
        clock: Clock,
        targets: &[(Stack, String)],
        seeded: usize,
    ) -> Self {
        Self {
            client,
            clock,
            stacks: targets
                .iter()
                .map(|(stack, base)| StackLoad {
                    stack: *stack,
                    base: base.clone(),
                    users: Vec::new(),
                    window: Arc::default(),
                })
                .collect(),
            settings: LoadSettings::default(),
            seeded,
            started: None,
        }
    }

    /// The window the users of `stack` report to.
    pub fn window(&self, stack: Stack) -> Option<Arc<Mutex<Window>>> {
        self.stacks
            .iter()
            .find(|s| s.stack == stack)
            .map(|s| s.window.clone())
    }

    /// Starts the load, or changes a running one to `settings`.
    pub fn start(&mut self, settings: LoadSettings) -> Result<(), String> {
        let settings = settings.checked(self.seeded)?;
        let rate_changed = settings.rate != self.settings.rate;
        self.settings = settings;
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
        for index in 0..self.stacks.len() {
            if rate_changed {
                self.stop_users(index);
            }
            self.resize(index);
        }
        Ok(())
    }

    pub fn stop(&mut self) {
        for index in 0..self.stacks.len() {
            self.stop_users(index);
        }
        self.started = None;
    }

    /// Stops a load that has run for [`MAX_RUN`]; `true` if it did.
    pub fn enforce_limit(&mut self) -> bool {
        if self.started.is_some_and(|s| s.elapsed() >= MAX_RUN) {
            self.stop();
            return true;
        }
        false
    }

    pub fn status(&self) -> LoadStatus {
        LoadStatus {
            running: self.started.is_some(),
            settings: self.settings,
            stops_in_s: self
                .started
                .map(|s| MAX_RUN.saturating_sub(s.elapsed()).as_secs()),
            max_users: MAX_USERS.min(self.seeded),
            max_rate: MAX_RATE,
        }
    }

    fn stop_users(&mut self, index: usize) {
        for user in self.stacks[index].users.drain(..) {
            user.abort();
        }
    }

    fn resize(&mut self, index: usize) {
        let want = self.settings.users;
        let stack = &mut self.stacks[index];
        while stack.users.len() > want {
            if let Some(user) = stack.users.pop() {
                user.abort();
            }
        }
        while stack.users.len() < want {
            let user = SimUser {
                stack: stack.stack,
                base: stack.base.clone(),
                username: format!("user{}", stack.users.len()),
                period: Duration::from_secs_f64(1.0 / self.settings.rate),
                client: self.client.clone(),
                window: stack.window.clone(),
                clock: self.clock,
            };
            stack.users.push(tokio::spawn(user.run()));
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a simulated user holds once logged in.
enum Held {
    Cookie(String),
    Tokens { access: String, refresh: String },
}

struct SimUser {
    stack: Stack,
    base: String,
    username: String,
    period: Duration,
    client: reqwest::Client,
    window: Arc<Mutex<Window>>,
    clock: Clock,
}

/// What one request came back with, as far as the user's next step goes.
enum Answer {
    Ok(reqwest::Response),
    Status(reqwest::StatusCode, Option<Duration>),
    Failed,
}

impl SimUser {
    /// Runs until its task is aborted; every iteration is one paced request.
    async fn run(self) {
        // Spread the users over the period, so they do not all send at once.
        let offset = rand::rng().random_range(0.0..1.0) * self.period.as_secs_f64();
        tokio::time::sleep(Duration::from_secs_f64(offset)).await;
        let mut tick = tokio::time::interval(self.period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut held: Option<Held> = None;
        let mut next_path = 0usize;
        loop {
            tick.tick().await;
            match held.take() {
                None => held = self.log_in().await,
                Some(credential) => {
                    let path = ["/me", "/orders"][next_path % 2];
                    next_path += 1;
                    held = self.browse(credential, path).await;
                }
            }
        }
    }

    /// Sends one request, records how it ended, and hands back the answer.
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let started = Instant::now();
        let result = request.timeout(REQUEST_TIMEOUT).send().await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (failure, answer) = match result {
            Ok(response) if response.status().is_success() => (None, Answer::Ok(response)),
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs);
                (
                    Some(status.as_u16().to_string()),
                    Answer::Status(status, retry_after),
                )
            }
            Err(error) if error.is_timeout() => (Some("timeout".to_owned()), Answer::Failed),
            Err(_) => (Some("no answer".to_owned()), Answer::Failed),
        };
        if let Ok(mut window) = self.window.lock() {
            window.record(
                self.clock.second(),
                Outcome {
                    failure,
                    latency_ms,
                },
            );
        }
        answer
    }

    async fn log_in(&self) -> Option<Held> {
        let request = self
            .client
            .post(format!("{}/login", self.base))
            .json(&serde_json::json!({"username": self.username, "password": LOAD_PASSWORD}));
        match self.send(request).await {
            Answer::Ok(response) => self.credential_from(response).await,
            Answer::Status(_, retry_after) => {
                // A refused login (throttled, store down): wait, as a person would.
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                tokio::time::sleep(wait.min(MAX_BACKOFF)).await;
                None
            }
            Answer::Failed => None,
        }
    }

    async fn credential_from(&self, response: reqwest::Response) -> Option<Held> {
        match self.stack {
            Stack::Session => authlab_client::response::session_cookie(
                &response,
                authlab_core::wire::SESSION_COOKIE,
            )
            .map(Held::Cookie),
            Stack::Jwt => {
                let tokens: authlab_core::wire::TokenResponse = response.json().await.ok()?;
                Some(Held::Tokens {
                    access: tokens.access_token,
                    refresh: tokens.refresh_token,
                })
            }
        }
    }

    /// One authenticated request; the credential to use next, if any is left.
    async fn browse(&self, held: Held, path: &str) -> Option<Held> {
        let url = format!("{}{path}", self.base);
        let request = match &held {
            Held::Cookie(cookie) => self.client.get(&url).header("cookie", cookie),
            Held::Tokens { access, .. } => self.client.get(&url).bearer_auth(access),
        };
        match (self.send(request).await, held) {
            (
                Answer::Status(reqwest::StatusCode::UNAUTHORIZED, _),
                Held::Tokens { refresh, .. },
            ) => self.refresh(&refresh).await,
            // A refused session: the next tick logs in again.
            (Answer::Status(reqwest::StatusCode::UNAUTHORIZED, _), Held::Cookie(_)) => None,
            (_, held) => Some(held),
        }
    }

    async fn refresh(&self, refresh: &str) -> Option<Held> {
        let request = self
            .client
            .post(format!("{}/token/refresh", self.base))
            .json(&serde_json::json!({ "refresh_token": refresh }));
        match self.send(request).await {
            Answer::Ok(response) => self.credential_from(response).await,
            // Refused or lost: log in again at the next tick.
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_inside_the_caps_pass() {
        let settings = LoadSettings {
            users: MAX_USERS,
            rate: MAX_RATE,
        };
        assert_eq!(settings.checked(1000), Ok(settings));
    }

    #[test]
    fn settings_outside_the_caps_are_refused_with_the_cap() {
        let too_many = LoadSettings {
            users: MAX_USERS + 1,
            rate: 1.0,
        };
        assert!(too_many.checked(1000).unwrap_err().contains("20"));
        let none = LoadSettings {
            users: 0,
            rate: 1.0,
        };
        assert!(none.checked(1000).is_err());
        for rate in [0.0, -1.0, MAX_RATE + 0.5, f64::NAN, f64::INFINITY] {
            let settings = LoadSettings { users: 1, rate };
            assert!(settings.checked(1000).is_err(), "rate {rate} passed");
        }
    }

    #[test]
    fn no_more_users_than_are_seeded() {
        let settings = LoadSettings {
            users: 5,
            rate: 1.0,
        };
        assert!(settings.checked(4).unwrap_err().contains("4 load users"));
        assert!(settings.checked(5).is_ok());
        assert!(settings.checked(0).unwrap_err().contains("--users"));
    }
}
