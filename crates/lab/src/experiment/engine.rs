//! `--engine`: what starts the clusters of `authlab run`, `up` and `console`.
//!
//! The experiments, the console and `up` program against
//! [`harness::Engine`] and never name one; this is the one place the lab
//! turns the user's choice into an engine. A swarm runs the `authlab` image,
//! tagged as docker-compose.yml tags it: `AUTHLAB_TAG`, `local` when unset or
//! empty.

use std::sync::Arc;

use crate::{Engine, LabError, Local};

/// The engine a command runs its clusters on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    /// Processes on this machine's loopback.
    #[default]
    Local,
    /// Docker Swarm stacks on the swarm the docker CLI points at.
    Swarm,
}

/// The image tag a swarm runs, from `AUTHLAB_TAG`'s value (compose's
/// `${AUTHLAB_TAG:-local}`: empty counts as unset).
pub fn image_tag(var: Option<String>) -> String {
    var.filter(|tag| !tag.trim().is_empty())
        .unwrap_or_else(|| "local".to_owned())
}

impl EngineChoice {
    /// The name the engine goes by ([`Engine::name`]), before connecting.
    pub fn name(self) -> &'static str {
        match self {
            EngineChoice::Local => "local",
            EngineChoice::Swarm => "swarm",
        }
    }

    /// The engine, connected (a swarm answers its manager first).
    pub async fn connect(self) -> Result<Arc<dyn Engine>, LabError> {
        Ok(match self {
            EngineChoice::Local => Arc::new(Local),
            EngineChoice::Swarm => {
                let tag = image_tag(std::env::var("AUTHLAB_TAG").ok());
                Arc::new(harness::Swarm::connect(&tag).await?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_tag_defaults_as_compose_does() {
        assert_eq!(image_tag(None), "local");
        assert_eq!(image_tag(Some(String::new())), "local");
        assert_eq!(image_tag(Some("offline-test".into())), "offline-test");
    }

    #[tokio::test]
    async fn each_choice_is_the_engine_it_names() {
        assert_eq!(EngineChoice::Local.connect().await.unwrap().name(), "local");
    }
}
