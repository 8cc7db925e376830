//! What to run: the stack, the scenario, how many users, for how long.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LoadError;

/// Which server the simulated users talk to. Both serve the same routes
/// (`authlab_core::api`); only the credential differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stack {
    /// A session cookie, kept in the user's own cookie jar.
    Session,
    /// A bearer access token plus a refresh token, kept by the user.
    Jwt,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::Session => "session",
            Stack::Jwt => "jwt",
        }
    }
}

impl std::fmt::Display for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What each simulated user does (see [`crate::scenarios`] for the why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioKind {
    /// Log in once, then `/me`, `/orders` and now and then `/admin/stats`;
    /// log in again whenever a request answers 401.
    Browse,
    /// JWT only: Browse, plus `POST /token/refresh` shortly before the
    /// access token expires, and on a 401 before falling back to a login.
    Refresh,
    /// `GET /health` only: no credential, no store; the ceiling of the path.
    Baseline,
    /// A login's whole life: Browse for a visit of 10–30 s, then
    /// `POST /logout` and a fresh login; on the JWT stack also refreshing as
    /// in Refresh. What a soak runs, so every write path is exercised.
    Lifecycle,
}

/// Whom the simulated users log in as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// The demo users: goose user `i` is `alice`, `bob`, `carol` for
    /// `i % 3` = 0, 1, 2 (password `authlab-demo`); only carol is an admin.
    Demo,
    /// Seeded load users: goose user `i` is `user{offset + i % count}`
    /// (password `authlab-load`). `count` is how many of them, from `offset`
    /// on, exist; users wrap around when there are more goose users than that.
    LoadUsers { offset: usize, count: usize },
}

impl Credentials {
    /// Username and password of goose user `index`.
    pub fn for_user(&self, index: usize) -> (String, &'static str) {
        use authlab_core::directory::{DEMO_PASSWORD, LOAD_PASSWORD};
        const DEMO: [&str; 3] = ["alice", "bob", "carol"];
        match self {
            Credentials::Demo => (DEMO[index % DEMO.len()].to_owned(), DEMO_PASSWORD),
            Credentials::LoadUsers { offset, count } => (
                format!("user{}", offset + index % (*count).max(1)),
                LOAD_PASSWORD,
            ),
        }
    }
}

/// A lifecycle visit: long enough for a few token refreshes at a short
/// access lifetime, short enough that a minute sees several logouts per user.
pub const DEFAULT_VISIT: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(30));

/// One goose run, configured in code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadPlan {
    /// Base URL of an HAProxy frontend or a node, e.g. `http://127.0.0.1:41231`.
    /// Only loopback targets are accepted, unless `allow_remote`.
    pub host: String,
    /// Accept a `host` that is not this machine (a deployment the caller
    /// names on purpose, e.g. a compose project's HAProxy). Off by default:
    /// a caller has to opt in, in code as on the command line.
    #[serde(default)]
    pub allow_remote: bool,
    pub stack: Stack,
    pub scenario: ScenarioKind,
    /// Concurrent goose users.
    pub users: usize,
    /// Users started per second.
    pub hatch_rate: f64,
    /// How long to hold all users once they have started. goose counts in
    /// whole seconds: a fraction is rounded up.
    pub run_time: Duration,
    /// `(min, max)` pause between two transactions of one user; `None` = none.
    pub think_time: Option<(Duration, Duration)>,
    /// goose `--throttle-requests`: at most this many requests per second
    /// from all users together. Turns coordinated-omission mitigation on.
    pub throttle_rps: Option<usize>,
    pub credentials: Credentials,
    /// Lifecycle: `(shortest, longest)` time a user stays logged in before
    /// it logs out and in again.
    pub visit: (Duration, Duration),
    /// A request that takes longer fails (goose `--timeout`). It also bounds
    /// how long the end of a run can wait for a stalled request.
    pub request_timeout: Duration,
}

impl LoadPlan {
    /// A plan with small defaults: 8 users started at once, 10 s, demo
    /// users, no think time, no throttle, 5 s request timeout.
    pub fn new(host: impl Into<String>, stack: Stack, scenario: ScenarioKind) -> Self {
        Self {
            host: host.into(),
            allow_remote: false,
            stack,
            scenario,
            users: 8,
            hatch_rate: 8.0,
            run_time: Duration::from_secs(10),
            think_time: None,
            throttle_rps: None,
            credentials: Credentials::Demo,
            visit: DEFAULT_VISIT,
            request_timeout: Duration::from_secs(5),
        }
    }

    /// The goose scenario name this plan runs, as the binary names it:
    /// `session-browse`, `jwt-refresh-think`, `baseline`, …
    pub fn scenario_name(&self) -> String {
        scenario_name(self.stack, self.scenario, self.think_time.is_some())
    }

    /// Whole seconds goose will hold the users for.
    pub fn run_time_secs(&self) -> usize {
        let secs = self.run_time.as_secs() + u64::from(self.run_time.subsec_nanos() > 0);
        usize::try_from(secs.max(1)).unwrap_or(usize::MAX)
    }

    /// Seconds goose needs to start every user.
    pub fn ramp_secs(&self) -> f64 {
        self.users as f64 / self.hatch_rate
    }

    /// Everything `run` checks before it asks goose to do anything.
    pub fn validate(&self) -> Result<(), LoadError> {
        let invalid = |reason: String| Err(LoadError::Plan(reason));
        check_target(&self.host, self.allow_remote)?;
        if self.users == 0 {
            return invalid("users must be at least 1".into());
        }
        if !(self.hatch_rate.is_finite() && self.hatch_rate > 0.0) {
            return invalid(format!(
                "hatch_rate must be a positive number, not {}",
                self.hatch_rate
            ));
        }
        if self.run_time.is_zero() {
            return invalid("run_time must be more than 0".into());
        }
        if self.request_timeout < Duration::from_millis(1) {
            return invalid("request_timeout must be at least 1 ms".into());
        }
        if let Some((min, max)) = self.think_time {
            if min > max {
                return invalid(format!(
                    "think_time min {min:?} is more than its max {max:?}"
                ));
            }
        }
        if self.throttle_rps == Some(0) {
            return invalid("throttle_rps must be at least 1 (None for no throttle)".into());
        }
        if let Credentials::LoadUsers { count: 0, .. } = self.credentials {
            return invalid("Credentials::LoadUsers needs count >= 1".into());
        }
        if self.scenario == ScenarioKind::Refresh && self.stack != Stack::Jwt {
            return invalid("the refresh scenario needs the JWT stack".into());
        }
        if self.visit.0.is_zero() || self.visit.0 > self.visit.1 {
            return invalid(format!(
                "visit must be (shortest, longest) with 0 < shortest <= longest, not {:?}",
                self.visit
            ));
        }
        Ok(())
    }
}

/// `session-browse`, `jwt-refresh-think`, `baseline`, …: the names the binary
/// registers scenarios under. goose's machine name drops the hyphens.
pub fn scenario_name(stack: Stack, kind: ScenarioKind, think: bool) -> String {
    let base = match kind {
        ScenarioKind::Baseline => "baseline".to_owned(),
        ScenarioKind::Browse => format!("{stack}-browse"),
        ScenarioKind::Refresh => format!("{stack}-refresh"),
        ScenarioKind::Lifecycle => format!("{stack}-lifecycle"),
    };
    if think {
        format!("{base}-think")
    } else {
        base
    }
}

/// Where a load run would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// This machine.
    Loopback,
    /// Another host, accepted because the caller allowed remote targets.
    Remote,
}

/// Refuses any target that is not this machine: a load generator pointed at
/// the wrong host is an attack on someone else.
pub fn check_loopback(host: &str) -> Result<(), LoadError> {
    check_target(host, false).map(drop)
}

/// [`check_loopback`], except that with `allow_remote` any http(s) URL with a
/// host passes too, as [`Target::Remote`], so the caller can say where the
/// load is going before it starts.
pub fn check_target(host: &str, allow_remote: bool) -> Result<Target, LoadError> {
    let refuse = || LoadError::NotLoopback {
        host: host.to_owned(),
    };
    let url = url::Url::parse(host).map_err(|_| refuse())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse());
    }
    let remote = || {
        if allow_remote {
            Ok(Target::Remote)
        } else {
            Err(refuse())
        }
    };
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => return Err(refuse()),
    };
    if loopback {
        Ok(Target::Loopback)
    } else {
        remote()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_pass() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/",
            "http://[::1]:9000",
            "http://localhost:1",
        ] {
            assert!(check_loopback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://example.com",
            "http://127.0.0.1.example.com",
            "http://user@example.com",
            "ftp://127.0.0.1",
            "127.0.0.1:8080",
            "",
        ] {
            assert!(
                matches!(check_loopback(bad), Err(LoadError::NotLoopback { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn remote_targets_pass_only_when_allowed() {
        for (host, allowed) in [
            ("http://127.0.0.1:8080", Some(Target::Loopback)),
            ("http://localhost:1", Some(Target::Loopback)),
            ("http://haproxy:8080", Some(Target::Remote)),
            ("https://10.0.0.1", Some(Target::Remote)),
            ("ftp://haproxy", None),
            ("haproxy:8080", None),
            ("", None),
        ] {
            match allowed {
                Some(target) => assert_eq!(check_target(host, true).unwrap(), target, "{host}"),
                None => assert!(
                    matches!(check_target(host, true), Err(LoadError::NotLoopback { .. })),
                    "{host}"
                ),
            }
        }
        assert_eq!(
            check_target("http://127.0.0.1:1", false).unwrap(),
            Target::Loopback
        );
        assert!(matches!(
            check_target("http://haproxy:8080", false),
            Err(LoadError::NotLoopback { .. })
        ));
    }

    #[test]
    fn a_plan_goes_remote_only_when_it_says_so() {
        let mut plan = LoadPlan::new("http://haproxy:8080", Stack::Session, ScenarioKind::Browse);
        let error = plan.validate().unwrap_err();
        assert!(
            matches!(&error, LoadError::NotLoopback { host } if host == "http://haproxy:8080"),
            "{error}"
        );
        plan.allow_remote = true;
        plan.validate().unwrap();
        plan.host = "http://127.0.0.1:8080".into();
        plan.validate().unwrap();
        // Plans recorded before the field existed read back as loopback-only.
        let mut json = serde_json::to_value(&plan).unwrap();
        json.as_object_mut().unwrap().remove("allow_remote");
        let read: LoadPlan = serde_json::from_value(json).unwrap();
        assert!(!read.allow_remote);
    }

    #[test]
    fn names_and_credentials() {
        assert_eq!(
            scenario_name(Stack::Session, ScenarioKind::Browse, false),
            "session-browse"
        );
        assert_eq!(
            scenario_name(Stack::Jwt, ScenarioKind::Refresh, true),
            "jwt-refresh-think"
        );
        assert_eq!(
            scenario_name(Stack::Jwt, ScenarioKind::Baseline, false),
            "baseline"
        );
        assert_eq!(Credentials::Demo.for_user(5).0, "carol");
        let load = Credentials::LoadUsers {
            offset: 10,
            count: 3,
        };
        assert_eq!(load.for_user(4).0, "user11");
    }

    #[test]
    fn validation_refuses_nonsense() {
        let plan = LoadPlan::new("http://127.0.0.1:1", Stack::Session, ScenarioKind::Refresh);
        assert!(matches!(plan.validate(), Err(LoadError::Plan(_))));
        let mut plan = LoadPlan::new("http://127.0.0.1:1", Stack::Jwt, ScenarioKind::Refresh);
        assert!(plan.validate().is_ok());
        plan.hatch_rate = 0.0;
        assert!(plan.validate().is_err());
        plan.hatch_rate = 1.0;
        plan.run_time = Duration::from_millis(1500);
        assert_eq!(plan.run_time_secs(), 2);
        plan.visit = (Duration::from_secs(3), Duration::from_secs(2));
        assert!(plan.validate().is_err());
        plan.visit = (Duration::ZERO, Duration::from_secs(2));
        assert!(plan.validate().is_err());
        plan.visit = (Duration::from_secs(2), Duration::from_secs(2));
        assert!(plan.validate().is_ok());
    }
}
