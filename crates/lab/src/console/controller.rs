//! Who carries a cluster action out. The console decides *what* to do to
//! the cluster ([`ClusterAction`]); the [`Controller`] it was started with
//! knows *how*, because that depends on who owns the processes: the
//! `authlab` process that started them (`authlab up`), or Docker (the
//! compose demo, reached only through HAProxy and the store's protocol).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{
    compose::ComposeControls,
    controls::{ClusterAction, ControlError},
};

/// One request to the owner of the cluster.
pub struct Request {
    pub action: ClusterAction,
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// Carries cluster actions out, the way this cluster allows.
#[derive(Clone)]
pub enum Controller {
    /// `authlab up`: hands each action to the task that owns the processes.
    Local(mpsc::Sender<Request>),
    /// The docker-compose demo: HAProxy's runtime API and the store's own
    /// protocol, since the console gets no Docker socket.
    Compose(Arc<ComposeControls>),
}

impl Controller {
    /// A controller and the receiving end its owner must serve with
    /// [`carry_out`](super::carry_out).
    pub fn channel() -> (Self, mpsc::Receiver<Request>) {
        let (requests, receiver) = mpsc::channel(8);
        (Self::Local(requests), receiver)
    }

    pub async fn apply(&self, action: ClusterAction) -> Result<String, ControlError> {
        let requests = match self {
            Controller::Compose(controls) => return controls.apply(action).await,
            Controller::Local(requests) => requests,
        };
        let (reply, answer) = oneshot::channel();
        requests
            .send(Request { action, reply })
            .await
            .map_err(|_| ControlError::Unavailable("the cluster is shutting down".into()))?;
        answer
            .await
            .map_err(|_| ControlError::Unavailable("the cluster is shutting down".into()))?
            .map_err(ControlError::Failed)
    }
}
