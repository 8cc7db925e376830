//! One suite for what both stacks must do alike, written once and run against each.
//!
//! The session server and the JWT server differ in the credential (a cookie
//! the server looks up, a token it verifies) and in little else: the same
//! login throttling, the same JSON errors for a bad request, the same
//! logout-everywhere that no racing login escapes. A check of shared
//! behaviour written twice drifts (one copy gains a case the other lacks),
//! so these checks are written here once, against [`Stack`]: a small adapter
//! that says how a stack starts a node, logs a user in, and tells that a
//! login is over. [`Session`] and [`Jwt`] are the two adapters.
//!
//! * [`throttle`] — login throttling per username, per client, and behind a trusted proxy;
//! * [`api`] — bad input on the routes both stacks serve: malformed logins,
//!   wrong passwords, unknown routes and methods, invalid role changes;
//! * [`index`] — the user → logins index: logout-all ends a login that races it;
//! * [`outage`] — the store faults the outage tests inject (what each stack
//!   must do about them differs, so those checks stay with each server).
//!
//! Each server runs the whole suite from one small test file:
//!
//! ```ignore
//! // crates/session-server/tests/shared.rs
//! testkit::shared_suite!(testkit::suite::Session);
//! ```
//!
//! [`shared_suite!`](crate::shared_suite) turns every suite check into a
//! `#[tokio::test]` of the calling crate, named after the check inside a
//! module named after its file (`throttle::a_username_over_its_limit_…`), so
//! `cargo test -p session-server` runs them and a filter finds them.

use std::time::Duration;

use authlab_core::config::{NodeArgs, RedisClientArgs};

use crate::{Credential, TestClient, TestEnv, TestNode};

pub mod api;
pub mod index;
pub mod outage;
mod stacks;
pub mod throttle;

pub use stacks::{Jwt, Session};

/// The parts of a node's configuration both stacks have, for a check to adjust.
pub struct Common<'a> {
    pub node: &'a mut NodeArgs,
    pub redis: &'a mut RedisClientArgs,
    /// Where the stack keeps its logins: the session store or the token store.
    pub store_url: &'a mut String,
}

/// How the logout-all race of [`index`] is timed on a stack: the store's
/// replies reach the slow node `store_delay` late, and the racing login
/// lands `login_at` after logout-all starts, inside the window between
/// reading the index and deleting what it names.
#[derive(Debug, Clone, Copy)]
pub struct Race {
    pub store_delay: Duration,
    pub login_at: Duration,
}

/// What the suite needs to know about a stack.
// The checks run on a current-thread test runtime and never move these
// futures across threads, so the `Send` bounds `async fn` in a public trait
// cannot promise are not needed.
#[allow(async_fn_in_trait)]
pub trait Stack {
    /// What a login hands the test: a session cookie, or a bearer token with
    /// the token response it came in.
    type Login;

    /// Routes of this stack that only take `POST`.
    const POST_ONLY_ROUTES: &'static [&'static str];

    /// The timing of [`index::logout_all_ends_a_login_that_races_it`].
    const LOGOUT_ALL_RACE: Race;

    /// A node of this stack in `env`, its configuration adjusted by `adjust` first.
    async fn spawn(env: &TestEnv, adjust: impl FnOnce(Common<'_>)) -> TestNode;

    /// Logs demo user `username` in on `node`; panics if the login is refused.
    async fn login(client: &TestClient, node: &TestNode, username: &str) -> Self::Login;

    /// The credential a login's requests carry.
    fn credential(login: &Self::Login) -> &Credential;

    /// Asserts that `login` no longer authenticates anything on `node`
    /// (`what` says why it should not): a session cookie gets 401 at `/me`;
    /// a JWT login's refresh token is refused (its access token lives on
    /// until it expires, by design).
    async fn assert_ended(client: &TestClient, node: &TestNode, login: &Self::Login, what: &str);
}

/// Runs the whole [`suite`](crate::suite) against a stack: one `#[tokio::test]`
/// per check, in a module per suite file. Give it the path of a [`Stack`]
/// (`testkit::suite::Session` or `testkit::suite::Jwt`).
#[macro_export]
macro_rules! shared_suite {
    ($stack:path) => {
        $crate::shared_suite!(@tests $stack;
            throttle {
                a_username_over_its_limit_gets_429_until_retry_after,
                a_client_over_its_limit_gets_429_whatever_name_or_forwarded_for,
                forwarded_for_names_the_client_behind_a_trusted_proxy,
            }
            api {
                malformed_login_bodies_are_json_client_errors,
                wrong_password_and_unknown_user_get_the_same_answer_in_similar_time,
                unknown_routes_and_wrong_methods_answer_json,
                role_changes_validate_their_input,
            }
            index {
                logout_all_ends_a_login_that_races_it,
            }
        );
    };
    (@tests $stack:path; $($suite:ident { $($check:ident),* $(,)? })*) => {
        $(
            mod $suite {
                $(
                    #[::tokio::test]
                    async fn $check() {
                        $crate::suite::$suite::$check::<$stack>().await;
                    }
                )*
            }
        )*
    };
}
