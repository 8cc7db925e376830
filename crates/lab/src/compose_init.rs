//! `authlab compose-init`: the one-shot set-up of the docker-compose demo.
//!
//! What `authlab up` does in memory for its own processes, a compose
//! project needs on a shared volume before the first replica starts: users
//! in the directory, a cookie secret every session replica shares, a key
//! set every JWT replica shares, the orders services' introspection secret
//! (which the auth replicas accept), the gateway's public-key files, and
//! HAProxy's config. The init container runs at every `docker compose up`,
//! so every step is safe to repeat:
//!
//! * the seed rewrites the same users (`UserDirectory::seed`), which also
//!   puts back roles and passwords changed since;
//! * the cookie secret, the introspection secret and the key set are
//!   written only when absent: replacing them would log every user out, and
//!   replicas started before the init ran again would disagree with those
//!   started after;
//! * `haproxy.cfg` and the gateway's key files are always rewritten, so
//!   changed flags (slots, balance, ports) and keys take effect at the next
//!   HAProxy start.
//!
//! The key set is ES256 unless told otherwise: the orders gateway is
//! HAProxy 2.6's `jwt_verify`, which has no EdDSA. A volume that already
//! holds a key set of another algorithm keeps it (replacing keys would
//! invalidate every token) and gets no gateway frontend; `docker compose
//! down -v` starts over with ES256.
//!
//! Secrets and keys are created under a temporary name and renamed into
//! place without replacing anything, so a crash halfway leaves no empty
//! secret behind for the next run to keep.

use std::{
    io::Write,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use authlab_core::{
    directory::{SeedArgs, SeedCommand},
    password::HashCost,
};
use jwt_server::{keys::KeySetFile, tokens::TokenSettings, SigningAlgorithm};
use session_server::configuration::MIN_COOKIE_SECRET_BYTES;

use crate::{
    haproxy::{BindTls, HaproxyConfig, JwtGateway, StackEntry},
    orders::{self, OrdersVariant},
    spec::{random_secret, COOKIE_SECRET_LEN},
    tls::{Frontend, LabCa, SERVER_NAMES},
    Balance, LabError,
};

pub const COOKIE_SECRET_FILE: &str = "cookie-secret";
pub const KEYS_FILE: &str = "jwt-keys.json";
pub const HAPROXY_FILE: &str = "haproxy.cfg";
/// The orders services' client secret for `/introspect` (client id `orders`).
pub const INTROSPECTION_SECRET_FILE: &str = "introspection-secret";
/// What the auth servers require of an introspection client's secret.
const MIN_INTROSPECTION_SECRET_BYTES: usize = 16;
/// Directory of the gateway's public keys, one `<kid>.pem` each.
pub const GATEWAY_KEYS_DIR: &str = "gateway";

/// Everything the init container is told, each flag with an `AUTHLAB_*` variable.
#[derive(Debug, Clone, clap::Args)]
pub struct ComposeInit {
    /// Directory on the shared volume the replicas and HAProxy read their files from.
    #[arg(long, env = "AUTHLAB_CONFIG_DIR", default_value = "/authlab/config")]
    pub config_dir: PathBuf,
    /// Redis holding the user directory.
    #[arg(
        long,
        env = "AUTHLAB_USER_DIRECTORY_URL",
        default_value = "redis://users:6379/0"
    )]
    pub user_directory_url: String,
    /// Load users to seed (user0 …, password `authlab-load`) besides the demo users.
    #[arg(long, env = "AUTHLAB_SEED_USERS", default_value_t = 1000)]
    pub users: usize,
    /// How long to retry the seed while the user directory is not answering yet.
    #[arg(long, env = "AUTHLAB_DIRECTORY_WAIT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub directory_wait: Duration,
    /// Algorithm of the JWT key set, when one is generated. ES256, because
    /// the orders gateway (HAProxy 2.6's jwt_verify) cannot verify EdDSA.
    #[arg(long, env = "AUTHLAB_JWT_ALG", value_enum, default_value = "ES256")]
    pub alg: SigningAlgorithm,
    /// Replicas each HAProxy backend can hold (`server-template` slots):
    /// the most `docker compose up --scale session=N` can use.
    #[arg(long, env = "AUTHLAB_HAPROXY_SLOTS", default_value_t = 10)]
    pub slots: usize,
    #[arg(
        long,
        env = "AUTHLAB_BALANCE",
        value_enum,
        default_value = "roundrobin"
    )]
    pub balance: Balance,
    /// Compose service of the session replicas (the name Docker's DNS resolves).
    #[arg(long, env = "AUTHLAB_SESSION_SERVICE", default_value = "session")]
    pub session_service: String,
    /// Compose service of the JWT replicas.
    #[arg(long, env = "AUTHLAB_JWT_SERVICE", default_value = "jwt")]
    pub jwt_service: String,
    /// Port every replica listens on inside its container.
    #[arg(long, env = "AUTHLAB_NODE_PORT", default_value_t = 8080)]
    pub node_port: u16,
    /// HAProxy's session frontend, inside its container.
    #[arg(long, env = "AUTHLAB_SESSION_FRONTEND_PORT", default_value_t = 8080)]
    pub session_port: u16,
    /// HAProxy's JWT frontend, inside its container.
    #[arg(long, env = "AUTHLAB_JWT_FRONTEND_PORT", default_value_t = 8081)]
    pub jwt_port: u16,
    /// HAProxy's stats page (/stats) and health URI (/healthz), inside its container.
    #[arg(long, env = "AUTHLAB_STATS_PORT", default_value_t = 8404)]
    pub stats_port: u16,
    /// HAProxy's runtime API (TCP), inside its container.
    #[arg(long, env = "AUTHLAB_RUNTIME_API_PORT", default_value_t = 9999)]
    pub runtime_api_port: u16,
    /// No orders frontends (and no introspection secret or gateway keys).
    #[arg(long, env = "AUTHLAB_NO_ORDERS")]
    pub no_orders: bool,
    /// HAProxy's frontend for the orders service verifying with the JWKS, inside its container.
    #[arg(
        long,
        env = "AUTHLAB_ORDERS_JWKS_FRONTEND_PORT",
        default_value_t = 8090
    )]
    pub orders_jwks_port: u16,
    /// … for the orders service asking the session stack's /introspect.
    #[arg(
        long,
        env = "AUTHLAB_ORDERS_INTROSPECTION_FRONTEND_PORT",
        default_value_t = 8091
    )]
    pub orders_introspection_port: u16,
    /// … for the one caching introspection answers.
    #[arg(
        long,
        env = "AUTHLAB_ORDERS_INTROSPECTION_CACHED_FRONTEND_PORT",
        default_value_t = 8092
    )]
    pub orders_introspection_cached_port: u16,
    /// … for the one behind HAProxy's jwt_verify gateway.
    #[arg(
        long,
        env = "AUTHLAB_ORDERS_GATEWAY_FRONTEND_PORT",
        default_value_t = 8093
    )]
    pub orders_gateway_port: u16,
    /// TLS at HAProxy's frontends, with a CA and certificate generated anew
    /// into `<config-dir>/tls/` at every start (clients trust `tls/ca.pem`).
    #[arg(long, env = "AUTHLAB_TLS")]
    pub tls: bool,
    /// Offer HTTP/2 in ALPN (`h2,http/1.1`); needs --tls.
    #[arg(long, env = "AUTHLAB_H2")]
    pub h2: bool,
}

/// Directory of the generated CA and HAProxy's certificate.
pub const TLS_DIR: &str = "tls";

impl ComposeInit {
    fn frontend(&self) -> Frontend {
        Frontend {
            tls: self.tls,
            h2: self.h2,
        }
    }

    fn validate(&self) -> Result<(), LabError> {
        let invalid = |reason: String| Err(LabError::Config(reason));
        self.frontend().validate()?;
        if self.slots == 0 {
            return invalid("--slots must be at least 1".into());
        }
        for (flag, service) in [
            ("--session-service", &self.session_service),
            ("--jwt-service", &self.jwt_service),
        ] {
            let ok = !service.is_empty()
                && service
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return invalid(format!("{flag} {service:?} is not a DNS name"));
            }
        }
        let ports = [
            ("--session-port", self.session_port),
            ("--jwt-port", self.jwt_port),
            ("--stats-port", self.stats_port),
            ("--runtime-api-port", self.runtime_api_port),
            ("--orders-jwks-port", self.orders_jwks_port),
            (
                "--orders-introspection-port",
                self.orders_introspection_port,
            ),
            (
                "--orders-introspection-cached-port",
                self.orders_introspection_cached_port,
            ),
            ("--orders-gateway-port", self.orders_gateway_port),
        ];
        for (i, (flag, port)) in ports.iter().enumerate() {
            if *port == 0 {
                return invalid(format!("{flag} must not be 0"));
            }
            if let Some((other, _)) = ports[..i].iter().find(|(_, p)| p == port) {
                return invalid(format!(
                    "{flag} and {other} are both {port}: HAProxy binds each once"
                ));
            }
        }
        Ok(())
    }

    /// Frontend port of an orders variant inside HAProxy's container.
    pub fn orders_port(&self, variant: OrdersVariant) -> u16 {
        match variant {
            OrdersVariant::Jwks => self.orders_jwks_port,
            OrdersVariant::Introspection => self.orders_introspection_port,
            OrdersVariant::IntrospectionCached => self.orders_introspection_cached_port,
            OrdersVariant::Gateway => self.orders_gateway_port,
        }
    }

    /// The compose service of an orders variant: `orders-jwks`, …
    pub fn orders_service(variant: OrdersVariant) -> String {
        variant.node_name()
    }

    /// The compose-mode HAProxy config these flags describe; `gateway` is
    /// the `jwt_verify` frontend, when the key set allows one.
    pub fn haproxy_config(&self, gateway: Option<JwtGateway>) -> HaproxyConfig {
        let mut stacks = vec![
            StackEntry::templated(
                "session",
                self.session_port,
                &self.session_service,
                self.node_port,
                self.slots,
            ),
            StackEntry::templated(
                "jwt",
                self.jwt_port,
                &self.jwt_service,
                self.node_port,
                self.slots,
            ),
        ];
        if !self.no_orders {
            stacks.extend(
                OrdersVariant::ALL
                    .into_iter()
                    // No gateway, no frontend: never an unguarded gateway-mode node.
                    .filter(|v| *v != OrdersVariant::Gateway || gateway.is_some())
                    .map(|variant| {
                        StackEntry::templated(
                            &variant.haproxy_name(),
                            self.orders_port(variant),
                            &Self::orders_service(variant),
                            self.node_port,
                            self.slots,
                        )
                    }),
            );
        }
        let mut config =
            HaproxyConfig::compose(self.balance, self.stats_port, self.runtime_api_port, stacks);
        config.gateway = gateway.filter(|_| !self.no_orders);
        config.tls = BindTls::for_frontend(
            self.frontend(),
            &self
                .config_dir
                .join(TLS_DIR)
                .join(crate::tls::SERVER_FILE)
                .display()
                .to_string(),
        );
        config
    }

    /// Runs every step; returns one line per step, for the init container's log.
    /// No line holds a secret.
    pub async fn run(&self) -> Result<Vec<String>, LabError> {
        self.validate()?;
        std::fs::create_dir_all(&self.config_dir)
            .map_err(|e| LabError::Io(format!("creating {}: {e}", self.config_dir.display())))?;
        let mut lines = vec![
            self.seed().await?,
            self.cookie_secret()?,
            self.introspection_secret()?,
            self.keys()?,
        ];
        let (gateway, line) = self.gateway_keys()?;
        lines.push(line);
        lines.push(self.certificates()?);
        lines.push(self.write_haproxy_config(gateway)?);
        lines.push(self.check_haproxy_config()?);
        Ok(lines)
    }

    async fn seed(&self) -> Result<String, LabError> {
        let command = SeedCommand {
            user_directory_url: self.user_directory_url.clone(),
            seed: SeedArgs {
                users: self.users,
                // As `authlab up`: the demo exists to be clicked through and
                // loaded, and real-cost hashes would make every login an
                // Argon2 benchmark.
                cost: HashCost::LoadTest,
            },
        };
        let deadline = Instant::now() + self.directory_wait;
        let report = loop {
            match command.run().await {
                Ok(report) => break report,
                // Compose may start this container while Redis is still loading.
                Err(error) if Instant::now() < deadline => {
                    tracing::info!(%error, "user directory not answering yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(error) => {
                    return Err(LabError::Config(format!(
                        "seeding the user directory: {error}"
                    )))
                }
            }
        };
        Ok(format!(
            "seeded {} demo users + {} load users",
            report.demo_users, report.load_users
        ))
    }

    /// Always written, even with `--no-orders`: the auth replicas read it at
    /// start, and an orders service added later must find the same one.
    fn introspection_secret(&self) -> Result<String, LabError> {
        let path = self.config_dir.join(INTROSPECTION_SECRET_FILE);
        if path.exists() {
            let secret = std::fs::read_to_string(&path)
                .map_err(|e| LabError::Io(format!("reading {}: {e}", path.display())))?;
            if secret.trim_end().len() < MIN_INTROSPECTION_SECRET_BYTES {
                return Err(LabError::Config(format!(
                    "{} holds fewer than {MIN_INTROSPECTION_SECRET_BYTES} bytes; delete it to have a new one written",
                    path.display()
                )));
            }
            return Ok(format!("kept existing {INTROSPECTION_SECRET_FILE}"));
        }
        let secret = random_secret();
        create_new(&path, |file| file.write_all(secret.as_bytes()))?;
        Ok(format!(
            "wrote {INTROSPECTION_SECRET_FILE} (client id {}, {COOKIE_SECRET_LEN} random characters, mode 0600)",
            orders::INTROSPECTION_CLIENT_ID
        ))
    }

    /// One public-key PEM per `kid` of the key set into `gateway/`, readable
    /// by HAProxy's user (they are public), and the gateway they make; none
    /// when the key set's algorithm is one `jwt_verify` cannot verify.
    fn gateway_keys(&self) -> Result<(Option<JwtGateway>, String), LabError> {
        if self.no_orders {
            return Ok((None, "no orders services (--no-orders)".into()));
        }
        let keys = KeySetFile::read(&self.config_dir.join(KEYS_FILE), false)
            .map_err(|e| LabError::Config(e.to_string()))?;
        if let Some(reason) = OrdersVariant::Gateway.unsupported(keys.alg) {
            tracing::warn!(%reason, "no gateway frontend");
            return Ok((
                None,
                format!("no gateway frontend: {reason}; `docker compose down -v` generates an ES256 key set"),
            ));
        }
        let dir = self.config_dir.join(GATEWAY_KEYS_DIR);
        let files = orders::write_gateway_keys(&keys, &dir, &dir.display().to_string())?;
        for file in &files {
            std::fs::set_permissions(&file.path, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| LabError::Io(format!("{}: {e}", file.path)))?;
        }
        let tokens = TokenSettings::default();
        let count = files.len();
        let gateway = orders::gateway(
            &OrdersVariant::Gateway.haproxy_name(),
            &keys,
            files,
            &tokens.issuer,
            &tokens.audience,
        )?;
        Ok((
            Some(gateway),
            format!("wrote {count} public key(s) for the gateway into {GATEWAY_KEYS_DIR}/"),
        ))
    }

    fn cookie_secret(&self) -> Result<String, LabError> {
        let path = self.config_dir.join(COOKIE_SECRET_FILE);
        if path.exists() {
            let secret = std::fs::read_to_string(&path)
                .map_err(|e| LabError::Io(format!("reading {}: {e}", path.display())))?;
            // The session replicas would refuse it; say so here, where it can be fixed.
            if secret.trim_end().len() < MIN_COOKIE_SECRET_BYTES {
                return Err(LabError::Config(format!(
                    "{} holds fewer than {MIN_COOKIE_SECRET_BYTES} bytes; delete it to have a new one written",
                    path.display()
                )));
            }
            return Ok(format!("kept existing {COOKIE_SECRET_FILE}"));
        }
        let secret = random_secret();
        create_new(&path, |file| file.write_all(secret.as_bytes()))?;
        Ok(format!(
            "wrote {COOKIE_SECRET_FILE} ({COOKIE_SECRET_LEN} random characters, mode 0600)"
        ))
    }

    fn keys(&self) -> Result<String, LabError> {
        let path = self.config_dir.join(KEYS_FILE);
        if path.exists() {
            // Read as a JWT replica will, so a broken or world-readable file fails here.
            let existing = KeySetFile::read(&path, false).map_err(|e| {
                LabError::Config(format!("{e}; delete it to have a new one written"))
            })?;
            return Ok(format!("kept existing {KEYS_FILE} ({})", existing.alg));
        }
        let keys = KeySetFile::generate(self.alg).map_err(|e| LabError::Config(e.to_string()))?;
        let staged = staging_file(&self.config_dir)?;
        keys.write(staged.path())
            .map_err(|e| LabError::Io(e.to_string()))?;
        publish_new(staged, &path)?;
        Ok(format!(
            "wrote {KEYS_FILE} (one {} key, mode 0600)",
            self.alg
        ))
    }

    /// A new CA and server certificate at every start with TLS (nothing
    /// depends on keeping them, unlike the keys and secrets); without TLS,
    /// none left from an earlier start, so no container mistakes their
    /// presence for TLS being on.
    fn certificates(&self) -> Result<String, LabError> {
        let dir = self.config_dir.join(TLS_DIR);
        if !self.tls {
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| LabError::Io(format!("removing {}: {e}", dir.display())))?;
            }
            return Ok("TLS off: the frontends speak clear text".into());
        }
        let files = LabCa::generate(&SERVER_NAMES)?.write(&dir)?;
        // HAProxy's container runs as another user: it must be able to read
        // the key. It is a throwaway key, made for this start, for a CA
        // nothing outside this project trusts, on a volume only the
        // project's containers mount.
        std::fs::set_permissions(&files.server, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| LabError::Io(format!("{}: {e}", files.server.display())))?;
        Ok(format!(
            "generated a CA and HAProxy's certificate into {TLS_DIR}/ ({}); clients trust {TLS_DIR}/{}",
            self.frontend().describe(),
            crate::tls::CA_FILE
        ))
    }

    fn write_haproxy_config(&self, gateway: Option<JwtGateway>) -> Result<String, LabError> {
        let path = self.config_dir.join(HAPROXY_FILE);
        let text = self.haproxy_config(gateway).render()?;
        let mut staged = staging_file(&self.config_dir)?;
        let io = |e: std::io::Error| LabError::Io(format!("writing {}: {e}", path.display()));
        staged.write_all(text.as_bytes()).map_err(io)?;
        // HAProxy's container runs as another user than this one: it must be able to read it.
        staged
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
        staged.persist(&path).map_err(|e| io(e.error))?;
        let orders = if self.no_orders {
            String::new()
        } else {
            format!(
                "; orders jwks :{}, introspection :{}, introspection-cached :{}, gateway :{}",
                self.orders_jwks_port,
                self.orders_introspection_port,
                self.orders_introspection_cached_port,
                self.orders_gateway_port
            )
        };
        Ok(format!(
            "wrote {HAPROXY_FILE} (session :{}, jwt :{}, stats :{}, runtime API :{}{orders}; {} {} slots per stack)",
            self.session_port,
            self.jwt_port,
            self.stats_port,
            self.runtime_api_port,
            self.slots,
            self.balance.algorithm(),
        ))
    }

    fn check_haproxy_config(&self) -> Result<String, LabError> {
        let path = self.config_dir.join(HAPROXY_FILE);
        if on_path("haproxy").is_none() {
            tracing::info!("no haproxy on PATH; not checking {}", path.display());
            return Ok(format!(
                "skipped checking {HAPROXY_FILE}: no haproxy on PATH (HAProxy checks it as it starts)"
            ));
        }
        crate::haproxy::check_config(&path)?;
        Ok(format!("checked {HAPROXY_FILE} with haproxy -c: valid"))
    }
}

/// A file in `dir` only this user can read (tempfile creates it 0600),
/// renamed into place when complete.
fn staging_file(dir: &Path) -> Result<tempfile::NamedTempFile, LabError> {
    tempfile::Builder::new()
        .prefix(".authlab-init-")
        .tempfile_in(dir)
        .map_err(|e| LabError::Io(format!("creating a file in {}: {e}", dir.display())))
}

/// Renames `staged` to `path` unless something is there already: two init
/// containers racing keep the first one's secret, never a mix.
fn publish_new(staged: tempfile::NamedTempFile, path: &Path) -> Result<(), LabError> {
    staged
        .persist_noclobber(path)
        .map(drop)
        .map_err(|e| LabError::Io(format!("creating {}: {}", path.display(), e.error)))
}

fn create_new(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), LabError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut staged = staging_file(dir)?;
    fill(staged.as_file_mut())
        .and_then(|()| staged.as_file().sync_all())
        .map_err(|e| LabError::Io(format!("writing {}: {e}", path.display())))?;
    publish_new(staged, path)
}

/// The first executable `name` in `$PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
