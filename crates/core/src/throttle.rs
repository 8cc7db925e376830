//! Login throttling: refuse an attempt *before* it costs an Argon2 verification.
//!
//! A login is the one request a client can make expensive for us: at the
//! default Argon2id cost a verification is ~15 ms of a core, so a hundred
//! parallel wrong-password attempts pin a 2-core node and starve every other
//! request. Three checks stand in front of the hash, in this order:
//!
//! 1. **per client** (the client's IP address, IPv6 by its /64): `burst`
//!    attempts at once, then one more per `period`;
//! 2. **per username** (ASCII-lowercased; names that cannot exist share one
//!    bucket, since they only ever cost a decoy verification): the same
//!    shape with its own numbers, so an attacker spraying one account is
//!    stopped whatever addresses it comes from;
//! 3. **concurrent verifications per node**: a semaphore, so that even a
//!    flood from many addresses for many names can take at most that many
//!    cores from the rest of the traffic. An attempt waits for a permit at
//!    most `queue_timeout`.
//!
//! Every attempt is charged, successful or not: the outcome is only known
//! after the hash, and charging afterwards would let a burst of parallel
//! attempts all pass the check before the first one fails. The bursts are
//! sized so that a person who logs in a few times in a row never notices.
//! The client limit is checked first, so an attempt refused for its address
//! does not also use up the username's budget.
//!
//! Refusals answer `429 too_many_attempts` with `Retry-After` (whole seconds,
//! rounded up) when a limit is reached, and `503 login_busy` with
//! `Retry-After: 1` when the node is busy verifying (or its key tables are
//! full): the first is the client's doing, the second is not.
//!
//! # Behind a proxy
//!
//! Behind HAProxy every connection comes from HAProxy. The client address is
//! then taken from `X-Forwarded-For`, but only when the connection's peer is
//! in `--trusted-proxies`: the list is read right to left, skipping trusted
//! proxies, and the first other address is the client. Anyone else's
//! `X-Forwarded-For` is ignored, so a client cannot pick its own key. The
//! rule is [`crate::forwarded`]'s, the one every forwarded header obeys.
//!
//! # Memory
//!
//! Keys live in governor's keyed limiters (a `DashMap` per limit). A key whose
//! bucket has refilled is indistinguishable from a new one and is dropped by
//! `retain_recent`, which runs every [`PRUNE_EVERY`] checks and, at most once
//! a second, whenever a table reaches `--login-throttle-max-keys`. A key
//! therefore lives about `burst × period` after its last attempt, and a
//! table never holds more than `max_keys` entries: while one is full, new
//! attempts answer `503 login_busy` rather than grow it.

use std::{
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use actix_web::HttpRequest;
use governor::{
    clock::{Clock, MonotonicClock},
    state::keyed::DashMapStateStore,
    Quota, RateLimiter,
};
use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    config::ConfigError,
    directory::{is_valid_username, User, UserDirectory},
    error::ApiError,
    forwarded::TrustedProxies,
    metrics::{Metrics, MetricsError},
};

// Kept here too: callers named it `throttle::AddressRange` before the
// forwarded-header rules moved to their own module.
pub use crate::forwarded::AddressRange;

/// A keyed table is pruned once per this many checks.
pub const PRUNE_EVERY: u64 = 1024;

/// While a table is full, prune it at most this often: pruning walks the
/// whole table, and doing it on every refused attempt would hand an attacker
/// a way to burn our CPU.
const FULL_PRUNE_INTERVAL: Duration = Duration::from_secs(1);

/// Username key shared by every name the directory cannot hold.
const INVALID_USERNAME_KEY: &str = "";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Switch {
    On,
    Off,
}

/// The login-throttling options, flattened into every node's flags.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct LoginThrottleArgs {
    /// Throttle logins (per client, per username, concurrent verifications).
    /// `off` removes all three: for load tests that log in thousands of users.
    #[arg(long, env = "AUTHLAB_LOGIN_THROTTLE", value_enum, default_value = "on")]
    pub login_throttle: Switch,
    /// Login attempts one client address may make at once; 0 = no per-client limit.
    #[arg(long, env = "AUTHLAB_LOGIN_CLIENT_BURST", default_value_t = 20)]
    pub login_client_burst: u32,
    /// After its burst, a client gets one more attempt per this period.
    #[arg(long, env = "AUTHLAB_LOGIN_CLIENT_PERIOD", default_value = "1s", value_parser = humantime::parse_duration)]
    #[serde(with = "crate::config::duration_serde")]
    pub login_client_period: Duration,
    /// Login attempts for one username at once, from anywhere; 0 = no per-username limit.
    #[arg(long, env = "AUTHLAB_LOGIN_USER_BURST", default_value_t = 5)]
    pub login_user_burst: u32,
    /// After its burst, a username gets one more attempt per this period.
    #[arg(long, env = "AUTHLAB_LOGIN_USER_PERIOD", default_value = "10s", value_parser = humantime::parse_duration)]
    #[serde(with = "crate::config::duration_serde")]
    pub login_user_period: Duration,
    /// Password verifications running at once on this node; 0 = unbounded.
    /// Default: half the CPUs (at least 1), so a flood leaves the other half to other requests.
    #[arg(long, env = "AUTHLAB_LOGIN_CONCURRENCY")]
    pub login_concurrency: Option<usize>,
    /// How long an attempt may wait for a verification slot before `503 login_busy`.
    #[arg(long, env = "AUTHLAB_LOGIN_QUEUE_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    #[serde(with = "crate::config::duration_serde")]
    pub login_queue_timeout: Duration,
    /// Most keys each limit (clients, usernames) keeps; while a table is full, new attempts get 503.
    #[arg(
        long,
        env = "AUTHLAB_LOGIN_THROTTLE_MAX_KEYS",
        default_value_t = 100_000
    )]
    pub login_throttle_max_keys: usize,
}

impl Default for LoginThrottleArgs {
    /// The production defaults, as the flags have them.
    fn default() -> Self {
        Self {
            login_throttle: Switch::On,
            login_client_burst: 20,
            login_client_period: Duration::from_secs(1),
            login_user_burst: 5,
            login_user_period: Duration::from_secs(10),
            login_concurrency: None,
            login_queue_timeout: Duration::from_secs(2),
            login_throttle_max_keys: 100_000,
        }
    }
}

impl LoginThrottleArgs {
    /// No throttling at all: in-process test nodes and load tests.
    pub fn off() -> Self {
        Self {
            login_throttle: Switch::Off,
            ..Self::default()
        }
    }

    /// Verification slots: the flag, or half the CPUs; `None` = unbounded.
    pub fn concurrency(&self) -> Option<usize> {
        match self.login_concurrency {
            Some(0) => None,
            Some(n) => Some(n),
            None => {
                let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                Some((cpus / 2).max(1))
            }
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        for (flag, period) in [
            ("login-client-period", self.login_client_period),
            ("login-user-period", self.login_user_period),
        ] {
            if period < Duration::from_millis(1) || period > Duration::from_secs(24 * 3600) {
                return Err(ConfigError::invalid(flag, "must be between 1ms and 24h"));
            }
        }
        if self.login_queue_timeout > Duration::from_secs(60) {
            return Err(ConfigError::invalid(
                "login-queue-timeout",
                "at most 60s (a login waiting longer has been given up on)",
            ));
        }
        if self.login_throttle_max_keys == 0 {
            return Err(ConfigError::invalid(
                "login-throttle-max-keys",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// What a keyed limit said about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Admitted,
    /// Over the limit; the bucket admits again after this long.
    Refused(Duration),
    /// The table is at its key cap and pruning freed nothing.
    Full,
}

/// One keyed limit with its housekeeping.
struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, DashMapStateStore<K>, MonotonicClock>,
    clock: MonotonicClock,
    max_keys: usize,
    checks: AtomicU64,
    last_full_prune: Mutex<Option<Instant>>,
    keys: prometheus::IntGauge,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    fn new(
        burst: u32,
        period: Duration,
        max_keys: usize,
        keys: prometheus::IntGauge,
    ) -> Option<Self> {
        let burst = NonZeroU32::new(burst)?;
        let quota = Quota::with_period(period)?.allow_burst(burst);
        Some(Self {
            limiter: RateLimiter::new(quota, DashMapStateStore::default(), MonotonicClock),
            clock: MonotonicClock,
            max_keys,
            checks: AtomicU64::new(0),
            last_full_prune: Mutex::new(None),
            keys,
        })
    }

    fn check(&self, key: &K) -> Verdict {
        let checks = self.checks.fetch_add(1, Ordering::Relaxed);
        if checks.is_multiple_of(PRUNE_EVERY) {
            self.prune();
        }
        if self.limiter.len() >= self.max_keys {
            let pruned = self.may_prune_while_full();
            if pruned {
                self.prune();
            }
            if self.limiter.len() >= self.max_keys {
                // Logged only when it prunes, so at most once a second.
                if pruned {
                    tracing::warn!(
                        max_keys = self.max_keys,
                        "a login throttle table is full; new attempts answer 503 until keys expire"
                    );
                }
                return Verdict::Full;
            }
        }
        match self.limiter.check_key(key) {
            Ok(()) => Verdict::Admitted,
            Err(not_until) => Verdict::Refused(not_until.wait_time_from(self.clock.now())),
        }
    }

    fn may_prune_while_full(&self) -> bool {
        // A poisoned lock only means another thread panicked mid-update of an
        // Instant; the value is still usable.
        let mut last = self
            .last_full_prune
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        match *last {
            Some(at) if now.duration_since(at) < FULL_PRUNE_INTERVAL => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.keys
            .set(i64::try_from(self.limiter.len()).unwrap_or(i64::MAX));
    }

    fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// Holds a verification slot until the password check it was given to ends.
pub struct Admission {
    _permit: Option<OwnedSemaphorePermit>,
}

/// The throttle in front of `UserDirectory::authenticate`, one per node:
/// logins go through [`LoginThrottle::authenticate`], never to the directory
/// directly.
pub struct LoginThrottle {
    directory: Arc<UserDirectory>,
    clients: Option<KeyedLimit<IpAddr>>,
    users: Option<KeyedLimit<String>>,
    verifications: Option<Arc<Semaphore>>,
    queue_timeout: Duration,
    trusted_proxies: TrustedProxies,
    throttled: IntCounterVec,
}

impl LoginThrottle {
    pub fn new(
        args: &LoginThrottleArgs,
        trusted_proxies: TrustedProxies,
        metrics: &Metrics,
        directory: Arc<UserDirectory>,
    ) -> Result<Self, MetricsError> {
        let throttled = metrics.counter_vec(
            "login_throttled_total",
            "Login attempts refused before any password verification, by reason",
            &["reason"],
        )?;
        let keys = IntGaugeVec::new(
            Opts::new(
                "authlab_login_throttle_keys",
                "Keys held by each login limit after its last pruning",
            ),
            &["limit"],
        )?;
        metrics.registry().register(Box::new(keys.clone()))?;
        let on = args.login_throttle == Switch::On;
        let max_keys = args.login_throttle_max_keys;
        Ok(Self {
            directory,
            clients: on
                .then(|| {
                    KeyedLimit::new(
                        args.login_client_burst,
                        args.login_client_period,
                        max_keys,
                        keys.with_label_values(&["client"]),
                    )
                })
                .flatten(),
            users: on
                .then(|| {
                    KeyedLimit::new(
                        args.login_user_burst,
                        args.login_user_period,
                        max_keys,
                        keys.with_label_values(&["username"]),
                    )
                })
                .flatten(),
            verifications: on
                .then(|| args.concurrency())
                .flatten()
                .map(|n| Arc::new(Semaphore::new(n))),
            queue_timeout: args.login_queue_timeout,
            trusted_proxies,
            throttled,
        })
    }

    /// The address a login is charged to: the peer, or, when the peer is a
    /// trusted proxy, the client its `X-Forwarded-For` names.
    pub fn client_address(&self, request: &HttpRequest) -> Option<IpAddr> {
        self.trusted_proxies.origin(request).client
    }

    /// Charges the attempt to its client and username and takes a
    /// verification slot, or says why not. Call it before any hashing.
    pub async fn admit(
        &self,
        client: Option<IpAddr>,
        username: &str,
    ) -> Result<Admission, ApiError> {
        if let (Some(limit), Some(client)) = (&self.clients, client) {
            self.judge(
                "client",
                limit.check(&client_key(client)),
                "too many login attempts from this address",
            )?;
        }
        if let Some(limit) = &self.users {
            self.judge(
                "username",
                limit.check(&username_key(username)),
                "too many login attempts for this username",
            )?;
        }
        let Some(verifications) = &self.verifications else {
            return Ok(Admission { _permit: None });
        };
        match tokio::time::timeout(self.queue_timeout, verifications.clone().acquire_owned()).await
        {
            Ok(Ok(permit)) => Ok(Admission {
                _permit: Some(permit),
            }),
            // Timed out (or, never in practice, the semaphore was closed).
            _ => {
                self.throttled.with_label_values(&["busy"]).inc();
                Err(ApiError::LoginBusy(
                    "the server is verifying as many passwords as it allows at once".into(),
                ))
            }
        }
    }

    fn judge(&self, limit: &str, verdict: Verdict, message: &str) -> Result<(), ApiError> {
        match verdict {
            Verdict::Admitted => Ok(()),
            Verdict::Refused(wait) => {
                self.throttled.with_label_values(&[limit]).inc();
                let retry_after = whole_seconds(wait);
                Err(ApiError::TooManyAttempts {
                    message: format!("{message}; retry in {retry_after} s"),
                    retry_after,
                })
            }
            Verdict::Full => {
                self.throttled.with_label_values(&["full"]).inc();
                Err(ApiError::LoginBusy(format!(
                    "too many {limit}s are being throttled at the moment"
                )))
            }
        }
    }

    /// The whole login check: throttle, then Argon2 while holding the slot.
    /// `Ok(None)` for a wrong password or an unknown user, as the directory says.
    pub async fn authenticate(
        &self,
        request: &HttpRequest,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, ApiError> {
        let admission = self.admit(self.client_address(request), username).await?;
        Ok(self
            .directory
            .authenticate_holding(username, password, admission)
            .await?)
    }

    /// Keys currently held by the (client, username) limits.
    pub fn keys(&self) -> (usize, usize) {
        (
            self.clients.as_ref().map_or(0, KeyedLimit::len),
            self.users.as_ref().map_or(0, KeyedLimit::len),
        )
    }
}

/// Seconds for `Retry-After`: rounded up, and at least 1 (0 would invite an
/// immediate retry that is refused again).
pub fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// The key of a client address: IPv4 as is, IPv6 by its /64, the smallest
/// block a single subscriber is normally given (keying single IPv6
/// addresses would hand every client 2^64 keys).
fn client_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

/// The key of a username: lowercased, so `Alice` and `alice` share a budget;
/// names the directory cannot hold share one key (they can never log in, and
/// would otherwise each bring a fresh bucket, and memory, of their own).
fn username_key(username: &str) -> String {
    if is_valid_username(username) {
        username.to_ascii_lowercase()
    } else {
        INVALID_USERNAME_KEY.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[derive(clap::Parser)]
    #[command(no_binary_name = true)]
    struct Flags {
        #[command(flatten)]
        throttle: LoginThrottleArgs,
    }

    #[test]
    fn flag_defaults_are_the_documented_defaults() {
        use clap::Parser;
        let parsed = Flags::try_parse_from(Vec::<String>::new())
            .unwrap()
            .throttle;
        let defaults = LoginThrottleArgs::default();
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            serde_json::to_value(&defaults).unwrap()
        );
        let set = Flags::try_parse_from(["--login-throttle", "off", "--login-user-burst", "0"])
            .unwrap()
            .throttle;
        assert_eq!(set.login_throttle, Switch::Off);
        assert_eq!(set.login_user_burst, 0);
    }

    #[test]
    fn keys_group_ipv6_by_64_and_names_by_case() {
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1")),
            client_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(username_key("Alice"), "alice");
        assert_eq!(
            username_key("bad name"),
            username_key("x".repeat(65).as_str())
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(10)), 10);
    }

    fn throttle(adjust: impl FnOnce(&mut LoginThrottleArgs)) -> LoginThrottle {
        let mut args = LoginThrottleArgs::default();
        adjust(&mut args);
        let metrics = Metrics::new("test").unwrap();
        // Never contacted: these tests stop at `admit`.
        let store = crate::redis_client::RedisStore::new(
            "user directory",
            "redis://127.0.0.1:1/0",
            &Default::default(),
            metrics.store("user_directory"),
        )
        .unwrap();
        LoginThrottle::new(
            &args,
            TrustedProxies::none(),
            &metrics,
            Arc::new(UserDirectory::new(store)),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn limits_refuse_with_the_wait_and_other_keys_pass() {
        let throttle = throttle(|a| {
            a.login_user_burst = 2;
            a.login_user_period = Duration::from_secs(30);
            a.login_client_burst = 100;
            a.login_concurrency = Some(0);
        });
        let client = Some(ip("192.0.2.1"));
        for _ in 0..2 {
            throttle.admit(client, "alice").await.unwrap();
        }
        match throttle.admit(client, "ALICE").await {
            Err(ApiError::TooManyAttempts { retry_after, .. }) => {
                assert!((14..=30).contains(&retry_after), "{retry_after}")
            }
            Err(other) => panic!("expected 429, got {other}"),
            Ok(_) => panic!("expected 429, got an admission"),
        }
        throttle.admit(client, "bob").await.unwrap();
    }

    #[tokio::test]
    async fn the_client_limit_is_checked_first_and_spares_the_username() {
        let throttle = throttle(|a| {
            a.login_client_burst = 1;
            a.login_client_period = Duration::from_secs(60);
            a.login_user_burst = 1;
        });
        throttle.admit(Some(ip("192.0.2.1")), "bob").await.unwrap();
        assert!(throttle
            .admit(Some(ip("192.0.2.1")), "alice")
            .await
            .is_err());
        // alice's one attempt is still there for another address.
        throttle
            .admit(Some(ip("192.0.2.2")), "alice")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_busy_node_answers_login_busy_after_the_queue_timeout() {
        let throttle = throttle(|a| {
            a.login_concurrency = Some(1);
            a.login_queue_timeout = Duration::from_millis(50);
        });
        let held = throttle.admit(None, "alice").await.unwrap();
        match throttle.admit(None, "bob").await {
            Err(ApiError::LoginBusy(_)) => {}
            Err(other) => panic!("expected login_busy, got {other}"),
            Ok(_) => panic!("a second slot was handed out"),
        }
        drop(held);
        throttle.admit(None, "bob").await.unwrap();
    }

    #[tokio::test]
    async fn tables_stay_within_their_key_cap() {
        let throttle = throttle(|a| {
            a.login_throttle_max_keys = 10;
            a.login_user_burst = 0;
            a.login_concurrency = Some(0);
            a.login_client_period = Duration::from_secs(60);
        });
        let mut busy = 0;
        for i in 0..50u8 {
            match throttle.admit(Some(ip(&format!("192.0.2.{i}"))), "x").await {
                Ok(_) => {}
                Err(ApiError::LoginBusy(_)) => busy += 1,
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(busy, 40);
        assert_eq!(throttle.keys(), (10, 0));
    }

    #[tokio::test]
    async fn off_admits_everything() {
        let throttle = throttle(|a| *a = LoginThrottleArgs::off());
        for _ in 0..1000 {
            throttle
                .admit(Some(ip("192.0.2.1")), "alice")
                .await
                .unwrap();
        }
        assert_eq!(throttle.keys(), (0, 0));
    }
}
