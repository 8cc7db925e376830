//! How the compose demo carries a cluster action out without the Docker
//! socket: a store crash or pause through the store's own protocol, a node
//! "killed" or drained through HAProxy's runtime API. Whatever would need a
//! container restarted is refused with the reason, so the page can say why.

use std::time::Duration;

use crate::{
    console::controls::{ClusterAction, ControlError},
    fault::Store,
    runtime_api::{RuntimeApi, ServerState},
    Stack,
};

/// How long "Pause store" pauses the compose store: Redis ends a pause when
/// its time is up and not before (it holds `CLIENT UNPAUSE` too).
pub const PAUSE: Duration = Duration::from_secs(15);

/// Cluster actions for the compose demo.
pub struct ComposeControls {
    pub(super) api: RuntimeApi,
    pub(super) store_url: String,
}

/// Why a control that restarts processes is refused in compose.
const NEEDS_DOCKER: &str = "in the compose demo this would restart containers, which needs the Docker socket the console is not given; `authlab up` can do it";

impl ComposeControls {
    pub async fn apply(&self, action: ClusterAction) -> Result<String, ControlError> {
        let unavailable = |what: &str| Err(ControlError::Unavailable(what.to_owned()));
        match action {
            ClusterAction::StoreStop => {
                let url = self.store_url.clone();
                blocking(move || Store::new(&url)?.crash()).await.map(|message| {
                    format!("{message}; Docker's restart policy brings it back, empty")
                })
            }
            ClusterAction::StoreStart => unavailable(
                "in compose the store starts again by itself (restart: unless-stopped), within seconds",
            ),
            ClusterAction::StorePause => {
                let url = self.store_url.clone();
                blocking(move || Store::new(&url)?.pause(PAUSE)).await
            }
            ClusterAction::StoreResume => unavailable(
                "Redis holds every command during CLIENT PAUSE … ALL, CLIENT UNPAUSE included: the pause ends when its 15 s are up",
            ),
            ClusterAction::StoreLatency(_) => unavailable(
                "the compose demo has no latency proxy in front of the store; `authlab up` has one",
            ),
            ClusterAction::NodeKill(node) => self
                .set_state(node.stack, &node.name, ServerState::Maint)
                .await
                .map(|()| {
                    format!(
                        "{}: out of rotation (HAProxy maint); in compose a node is taken out through HAProxy, \
                         since stopping its container would need the Docker socket",
                        node.name
                    )
                }),
            ClusterAction::NodeRestart(node) => self
                .set_state(node.stack, &node.name, ServerState::Ready)
                .await
                .map(|()| format!("{}: back in rotation (HAProxy ready)", node.name)),
            ClusterAction::NodeState(node, state) => self
                .set_state(node.stack, &node.name, state)
                .await
                .map(|()| format!("{}: HAProxy state {}", node.name, state.keyword())),
            ClusterAction::RotateKey | ClusterAction::Revocation(_) => unavailable(NEEDS_DOCKER),
        }
    }

    async fn set_state(
        &self,
        stack: Stack,
        server: &str,
        state: ServerState,
    ) -> Result<(), ControlError> {
        let api = self.api.clone();
        let server = server.to_owned();
        blocking(move || api.set_state(&stack.backend(), &server, state)).await
    }
}

/// Runs a blocking call (a runtime API or Redis round trip) off the async threads.
async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    call: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ControlError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| ControlError::Failed(e.to_string()))?
        .map_err(|e| ControlError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use jwt_server::RevocationMode;

    use super::*;
    use crate::runtime_api::AdminSocket;

    #[tokio::test]
    async fn what_needs_a_restarted_process_is_refused_with_the_reason() {
        let controls = ComposeControls {
            api: RuntimeApi::new(AdminSocket::Tcp("127.0.0.1:1".into())),
            store_url: "redis://127.0.0.1:1/0".into(),
        };
        for action in [
            ClusterAction::RotateKey,
            ClusterAction::Revocation(RevocationMode::Denylist),
            ClusterAction::StoreLatency(Duration::from_millis(5)),
            ClusterAction::StoreResume,
            ClusterAction::StoreStart,
        ] {
            match controls.apply(action.clone()).await {
                Err(ControlError::Unavailable(reason)) => assert!(!reason.is_empty()),
                other => panic!("{action:?}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_reached_is_a_failed_control() {
        let port = supervise::free_port().unwrap();
        let controls = ComposeControls {
            api: RuntimeApi::new(AdminSocket::Tcp(format!("127.0.0.1:{port}"))),
            store_url: format!("redis://127.0.0.1:{port}/0"),
        };
        assert!(matches!(
            controls.apply(ClusterAction::StorePause).await,
            Err(ControlError::Failed(_))
        ));
    }
}
