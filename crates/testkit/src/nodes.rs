//! Real server nodes inside the test process, against real Redis processes.

use std::time::Duration;

use actix_web::dev::ServerHandle;
use authlab_core::{
    directory::{SeedArgs, SeedCommand},
    password::HashCost,
};
use jwt_server::{JwtServerConfig, SigningAlgorithm};
use session_server::{Application, SessionServerConfig};

use crate::redis::RedisServer;

/// A node serving on a loopback port; stopped when dropped.
pub struct TestNode {
    pub port: u16,
    pub node: String,
    handle: ServerHandle,
}

impl TestNode {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Graceful stop, as SIGTERM would do.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        // Not awaited: the server stops with the test's runtime at the latest.
        drop(self.handle.stop(false));
    }
}

/// Seeds the demo users (cheap hashes) and `load_users` load users.
pub async fn seed(user_directory_url: &str, load_users: usize) {
    SeedCommand {
        user_directory_url: user_directory_url.to_owned(),
        seed: SeedArgs {
            users: load_users,
            cost: HashCost::LoadTest,
        },
    }
    .run()
    .await
    .expect("seeding the user directory");
}

/// Two Redis processes (user directory, session/token store) with seeded
/// users: everything a node of either stack needs. Separate processes, so a
/// test can stop the store and keep the directory.
pub struct TestEnv {
    pub directory: RedisServer,
    pub store: RedisServer,
}

impl TestEnv {
    pub async fn start() -> Self {
        let directory = RedisServer::start();
        let store = RedisServer::start();
        seed(&directory.url(0), 0).await;
        Self { directory, store }
    }

    /// A session-node configuration pointing at this environment.
    pub fn config(&self) -> SessionServerConfig {
        SessionServerConfig::local(&self.directory.url(0), &self.store.url(0))
    }

    pub async fn spawn_node(&self) -> TestNode {
        self.spawn_node_with(|_| {}).await
    }

    pub async fn spawn_node_with(&self, adjust: impl FnOnce(&mut SessionServerConfig)) -> TestNode {
        let mut config = self.config();
        adjust(&mut config);
        spawn_session_node(config).await
    }
}

impl TestEnv {
    /// A JWT-node configuration (HS256 test secret, mode `none`) pointing at this environment.
    pub fn jwt_config(&self) -> JwtServerConfig {
        JwtServerConfig::local(&self.directory.url(0), &self.store.url(0))
    }

    /// A JWT-node configuration signing with a fresh key set of `alg`.
    pub fn jwt_config_for(&self, keys: &jwt_server::keys::KeySetFile) -> JwtServerConfig {
        let mut config = self.jwt_config();
        config.hs256_secret = None;
        config.keyset_json = Some(keys.to_json());
        config
    }

    pub async fn spawn_jwt_node_with(&self, adjust: impl FnOnce(&mut JwtServerConfig)) -> TestNode {
        let mut config = self.jwt_config();
        adjust(&mut config);
        spawn_jwt_node(config).await
    }
}

/// A fresh key set for `alg` (what `jwt-server keys generate` writes).
pub fn key_set(alg: SigningAlgorithm) -> jwt_server::keys::KeySetFile {
    jwt_server::keys::KeySetFile::generate(alg).expect("key generation")
}

/// Alice's access token signed with `keys`' active key, its claims edited
/// first: a genuine signature on claims a test chooses (expired, another
/// audience, …).
pub fn signed_with(
    keys: &jwt_server::keys::KeySetFile,
    edit: impl FnOnce(&mut jwt_server::tokens::AccessClaims),
) -> String {
    use jwt_server::{
        keys::KeySet,
        tokens::{TokenService, TokenSettings},
    };
    let keys = KeySet::from_file(keys).expect("a usable key set");
    let service = TokenService::new(keys, TokenSettings::default());
    let user = authlab_core::directory::User {
        username: "alice".into(),
        name: "Alice".into(),
        roles: vec!["user".into()],
    };
    let (_, mut claims) = service.issue(&user, "family").expect("signing");
    edit(&mut claims);
    service.sign(&claims).expect("signing")
}

/// Builds the real JWT application on a free port and serves it in the background.
pub async fn spawn_jwt_node(config: JwtServerConfig) -> TestNode {
    let app = jwt_server::Application::build(config)
        .await
        .expect("jwt node starts");
    let node = TestNode {
        port: app.port(),
        node: app.node().to_owned(),
        handle: app.handle(),
    };
    tokio::spawn(app.run_until_stopped());
    wait_until_listening(node.port).await;
    node
}

/// Builds the real session application on a free port and serves it in the background.
pub async fn spawn_session_node(config: SessionServerConfig) -> TestNode {
    let app = Application::build(config)
        .await
        .expect("session node starts");
    let node = TestNode {
        port: app.port(),
        node: app.node().to_owned(),
        handle: app.handle(),
    };
    tokio::spawn(app.run_until_stopped());
    wait_until_listening(node.port).await;
    node
}

async fn wait_until_listening(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("node on port {port} never accepted a connection");
}
