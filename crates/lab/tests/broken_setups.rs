//! A verdict rule that cannot fail is worth nothing, so the rules that
//! matter most are run end to end against a set-up broken on purpose, and
//! must turn:
//!
//! * c7 with a "denylist" set-up that does not deny (revocation `none`);
//! * c5 with a JWT stack that asks the store on every request (a denylist);
//! * c12 with a JWT node whose clock leeway lets an expired token through;
//! * c11 with DPoP off on the JWT nodes (the "bound" token is a plain bearer
//!   token, which the thief's copy then uses).
//! * c14 with an "outage" that leaves the auth nodes running: the
//!   introspection route keeps answering, and the verdict must not hold.
//!
//! Each runs the real experiment in quick mode, on real processes.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use jwt_server::RevocationMode;
use lab::{
    experiment::{RunSettings, Runnable},
    experiments::{self, c11::StolenToken, Attacks, Downstream, Revocation, ScaleOut},
    results::{RunResults, Verdict},
};

async fn verdict_of(experiment: Box<dyn Runnable>) -> Verdict {
    let root = tempfile::tempdir().unwrap();
    let settings = RunSettings {
        engine: std::sync::Arc::new(lab::Local),
        only: Vec::new(),
        quick: true,
        root: root.path().into(),
        launcher: env!("CARGO_BIN_EXE_authlab").into(),
    };
    let dir = experiments::run_these(vec![experiment], &settings)
        .await
        .unwrap();
    let results = RunResults::read(&dir).unwrap();
    let experiment = &results.experiments[0];
    assert!(experiment.error.is_none(), "{:?}", experiment.error);
    experiment.verdicts[0].verdict.clone()
}

#[tokio::test]
async fn c7_turns_when_the_denylist_does_not_deny() {
    let verdict = verdict_of(Box::new(Revocation {
        denylist: RevocationMode::None,
    }))
    .await;
    assert!(
        matches!(&verdict, Verdict::DoesNotHold(why) if why.contains("denylist did not revoke")),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn c5_turns_when_the_jwt_stack_asks_the_store_on_every_request() {
    let verdict = verdict_of(Box::new(ScaleOut {
        jwt_revocation: RevocationMode::Denylist,
    }))
    .await;
    assert!(
        matches!(&verdict, Verdict::DoesNotHold(why) if why.starts_with("JWT /me made")),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn c12_turns_when_the_server_accepts_an_expired_token() {
    let verdict = verdict_of(Box::new(Attacks {
        leeway: Some(Duration::from_secs(120)),
    }))
    .await;
    assert!(
        matches!(&verdict, Verdict::DoesNotHold(why) if why.starts_with("the real server accepted")),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn c11_turns_when_the_server_does_not_bind_tokens() {
    let verdict = verdict_of(Box::new(StolenToken {
        dpop: jwt_server::DpopMode::Off,
    }))
    .await;
    assert!(
        matches!(&verdict, Verdict::DoesNotHold(why) if why.contains("as Bearer: accepted 3 of 3")),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn c14_turns_when_the_auth_service_is_not_really_stopped() {
    let verdict = verdict_of(Box::new(Downstream {
        stop_auth_service: false,
    }))
    .await;
    assert!(
        matches!(&verdict, Verdict::Inconclusive(why) if why.contains("it was not down")),
        "{verdict:?}"
    );
}
