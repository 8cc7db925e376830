//! What the console's buttons do, and what each one teaches.
//!
//! A click becomes one [`Action`] (the JSON body of `POST /api/control`).
//! The console carries out some actions itself (its load, the inspector's
//! logins and logouts); the rest change the cluster and go to a
//! [`Controller`](super::Controller), which owns that knowledge:
//!
//! * for `authlab up`, the cluster's processes belong to the `authlab`
//!   process's main task, so the controller sends the action there and
//!   waits for the answer ([`carry_out`] runs on that side). Processes are
//!   started from one long-lived thread on purpose (see [`crate::cluster`]):
//!   a node restarted from a web worker's thread would die with that thread.
//!
//! Every action names the claim it demonstrates ([`Action::claim`]) and says
//! so in one sentence on the page ([`CONTROLS`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use jwt_server::RevocationMode;

use super::load::LoadSettings;
use crate::{runtime_api::ServerState, Cluster, Latency, Stack};

/// One click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    LoadStart(LoadSettings),
    LoadStop,
    StoreStop,
    StoreStart,
    StorePause,
    StoreResume,
    /// Added to every round trip between the nodes and the store: 0, 1 or 5 ms.
    StoreLatency {
        ms: u32,
    },
    NodeKill {
        node: String,
    },
    NodeRestart {
        node: String,
    },
    NodeDrain {
        node: String,
    },
    NodeReady {
        node: String,
    },
    AliceLogin,
    AliceLogout,
    AliceLogoutAll,
    CarolLogin,
    CarolDemote,
    CarolPromote,
    RotateKey,
    Revocation {
        mode: String,
    },
}

/// The store latencies the page offers.
pub const STORE_LATENCIES_MS: [u32; 3] = [0, 1, 5];

/// A control as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ControlInfo {
    /// The `action` it sends.
    pub action: &'static str,
    pub label: &'static str,
    /// The claim it demonstrates (`C3`), or `""`.
    pub claim: &'static str,
    /// One sentence: what to watch for.
    pub teaches: &'static str,
}

/// Every control, in the order of the page's control groups.
pub const CONTROLS: &[ControlInfo] = &[
    ControlInfo {
        action: "store-stop",
        label: "Stop store",
        claim: "C3",
        teaches: "Every node of the session stack needs the shared store for every request: stop it and the session side fails, while JWT nodes go on checking the tokens already handed out by themselves (new logins and refreshes fail too: refresh tokens live in the store).",
    },
    ControlInfo {
        action: "store-start",
        label: "Start store",
        claim: "C3",
        teaches: "The store comes back empty (no persistence): the session stack recovers by itself, but every user has to log in again.",
    },
    ControlInfo {
        action: "store-pause",
        label: "Pause store",
        claim: "C3",
        teaches: "A store that hangs instead of refusing: session requests wait out the store timeout, then fail with 503.",
    },
    ControlInfo {
        action: "store-resume",
        label: "Resume store",
        claim: "C3",
        teaches: "The paused store answers again, with every session intact.",
    },
    ControlInfo {
        action: "store-latency",
        label: "Store latency",
        claim: "C4",
        teaches: "Every session request waits for a store round trip: added store latency shows in the session stack's p50, not in the JWT stack's.",
    },
    ControlInfo {
        action: "node-kill",
        label: "Kill",
        claim: "C1",
        teaches: "HAProxy sends a dead node's users to the others; with a shared store or a self-contained token nobody has to log in again.",
    },
    ControlInfo {
        action: "node-drain",
        label: "Drain",
        claim: "C5",
        teaches: "A drained node gets no new requests; any other node serves the same users, because none of them holds state of its own.",
    },
    ControlInfo {
        action: "alice-logout",
        label: "Log alice out (this session)",
        claim: "C7",
        teaches: "A session ends on every node the moment it is deleted from the store; alice's JWT is still accepted until it expires.",
    },
    ControlInfo {
        action: "alice-logout-all",
        label: "Log alice out everywhere",
        claim: "C7",
        teaches: "Ending every session of a user is one store operation; a JWT already handed out cannot be called back without a denylist.",
    },
    ControlInfo {
        action: "carol-demote",
        label: "Demote carol",
        claim: "C8",
        teaches: "The session stack rewrites the roles inside carol's sessions; her JWT still says admin, and nodes believe it until it expires.",
    },
    ControlInfo {
        action: "rotate-key",
        label: "Rotate signing key",
        claim: "C14",
        teaches: "New tokens carry a new kid; tokens signed with the old key stay valid until they expire, and anyone verifying with the published keys picks the new one up.",
    },
    ControlInfo {
        action: "revocation",
        label: "JWT revocation",
        claim: "C7",
        teaches: "With a denylist every JWT request asks the store again, and a logout takes effect at once: the JWT stack buys revocation with the session stack's dependency.",
    },
];

impl Action {
    /// The `action` tag this action is sent with.
    pub fn name(&self) -> &'static str {
        match self {
            Action::LoadStart(_) => "load-start",
            Action::LoadStop => "load-stop",
            Action::StoreStop => "store-stop",
            Action::StoreStart => "store-start",
            Action::StorePause => "store-pause",
            Action::StoreResume => "store-resume",
            Action::StoreLatency { .. } => "store-latency",
            Action::NodeKill { .. } => "node-kill",
            Action::NodeRestart { .. } => "node-restart",
            Action::NodeDrain { .. } => "node-drain",
            Action::NodeReady { .. } => "node-ready",
            Action::AliceLogin => "alice-login",
            Action::AliceLogout => "alice-logout",
            Action::AliceLogoutAll => "alice-logout-all",
            Action::CarolLogin => "carol-login",
            Action::CarolDemote => "carol-demote",
            Action::CarolPromote => "carol-promote",
            Action::RotateKey => "rotate-key",
            Action::Revocation { .. } => "revocation",
        }
    }

    /// The claim this action demonstrates, if any.
    pub fn claim(&self) -> Option<&'static str> {
        let name = match self {
            Action::NodeRestart { .. } => "node-kill",
            Action::NodeReady { .. } => "node-drain",
            Action::CarolPromote | Action::CarolLogin => "carol-demote",
            Action::AliceLogin => "alice-logout",
            other => other.name(),
        };
        CONTROLS
            .iter()
            .find(|c| c.action == name)
            .map(|c| c.claim)
            .filter(|c| !c.is_empty())
    }
}

/// A node of the cluster: its stack, its place in that stack, its name
/// (also its server name in HAProxy).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRef {
    pub stack: Stack,
    pub index: usize,
    pub name: String,
}

/// A change to the cluster itself, resolved against its nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterAction {
    StoreStop,
    StoreStart,
    StorePause,
    StoreResume,
    StoreLatency(Duration),
    NodeKill(NodeRef),
    NodeRestart(NodeRef),
    NodeState(NodeRef, ServerState),
    RotateKey,
    Revocation(RevocationMode),
}

/// Why a control was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The request names something that does not exist or is out of bounds.
    #[error("{0}")]
    Invalid(String),
    /// Not possible on this cluster (e.g. no JWT stack, no store process).
    #[error("{0}")]
    Unavailable(String),
    /// The cluster was asked and failed.
    #[error("{0}")]
    Failed(String),
}

/// The owner's side: carries out one action on the cluster it owns.
pub async fn carry_out(cluster: &mut dyn Cluster, action: ClusterAction) -> Result<String, String> {
    let result = match action {
        ClusterAction::StoreStop => {
            cluster.stop_store();
            Ok("session store stopped (its data is gone)".to_owned())
        }
        ClusterAction::StoreStart => cluster
            .start_store()
            .map(|()| "session store started".to_owned()),
        ClusterAction::StorePause => cluster.pause_store().map(|()| {
            "session store paused (SIGSTOP): it accepts connections and answers nothing".to_owned()
        }),
        ClusterAction::StoreResume => cluster
            .resume_store()
            .map(|()| "session store resumed".to_owned()),
        ClusterAction::StoreLatency(delay) => cluster
            .set_store_latency(Latency {
                delay,
                jitter: Duration::ZERO,
            })
            .map(|()| format!("store latency now {} ms", delay.as_millis())),
        ClusterAction::NodeKill(node) => cluster.kill_node(node.stack, node.index).map(|()| {
            format!(
                "{} killed (SIGKILL); HAProxy's health check marks it down",
                node.name
            )
        }),
        ClusterAction::NodeRestart(node) => cluster
            .restart_node(node.stack, node.index)
            .await
            .map(|()| format!("{} restarted and ready", node.name)),
        ClusterAction::NodeState(node, state) => cluster
            .set_node_state(node.stack, node.index, state)
            .map(|()| format!("{}: HAProxy state {}", node.name, state.keyword())),
        ClusterAction::Revocation(mode) => cluster.set_revocation(mode).await.map(|()| {
            format!(
                "JWT nodes restarted one by one with revocation {}",
                revocation_name(mode)
            )
        }),
        ClusterAction::RotateKey => match cluster.stage_key().await {
            Ok(_) => cluster
                .activate_staged_key()
                .await
                .map(|kid| format!("new tokens are signed with kid {kid}")),
            Err(e) => Err(e),
        },
    };
    result.map_err(|e| e.to_string())
}

/// The mode as the nodes' `--revocation` names it.
pub fn revocation_name(mode: RevocationMode) -> String {
    harness::spec::flag_value(&mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_from_the_json_the_page_sends() {
        let kill: Action =
            serde_json::from_str(r#"{"action":"node-kill","node":"session-2"}"#).unwrap();
        assert_eq!(
            kill,
            Action::NodeKill {
                node: "session-2".into()
            }
        );
        let load: Action =
            serde_json::from_str(r#"{"action":"load-start","users":5,"rate":2.0}"#).unwrap();
        assert_eq!(
            load,
            Action::LoadStart(LoadSettings {
                users: 5,
                rate: 2.0
            })
        );
        assert!(serde_json::from_str::<Action>(r#"{"action":"format-disk"}"#).is_err());
        assert!(serde_json::from_str::<Action>(r#"{"action":"node-kill"}"#).is_err());
    }

    #[test]
    fn every_control_is_an_action_that_names_its_claim() {
        for control in CONTROLS {
            let mut body = serde_json::json!({ "action": control.action });
            match control.action {
                "store-latency" => body["ms"] = 1.into(),
                "node-kill" | "node-drain" => body["node"] = "n".into(),
                "revocation" => body["mode"] = "denylist".into(),
                _ => {}
            }
            let action: Action =
                serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(action.name(), control.action);
            assert_eq!(action.claim(), Some(control.claim));
        }
    }

    #[test]
    fn the_undo_of_an_action_teaches_the_same_claim() {
        assert_eq!(Action::NodeRestart { node: "x".into() }.claim(), Some("C1"));
        assert_eq!(Action::CarolPromote.claim(), Some("C8"));
        assert_eq!(Action::LoadStop.claim(), None);
    }
}
