//! The user directory: who exists, their password hash and their roles.
//!
//! Users live in Redis hashes, one per user:
//!
//! ```text
//! authlab:user:alice  ->  { phc: "$argon2id$...", roles: "user", name: "Alice" }
//! ```
//!
//! The directory is deliberately *not* the session store. Both stacks need it
//! at login, but only the session stack needs a store on every request; an
//! experiment that stops the session store must leave the directory running
//! so it measures the store, not the user database.
//!
//! # Same answer, similar time
//!
//! A login for an unknown user must not be distinguishable from a wrong
//! password, neither by its answer nor by how long it takes. So an unknown
//! user still costs one Argon2 verification: against a decoy hash that the
//! seed command writes with the same cost as the real ones.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::{
    password::{hash_password, verify_password, HashCost, HashError},
    redis_client::{RedisStore, StoreError},
};

const DECOY_KEY: &str = "authlab:directory:decoy";

pub const DEMO_PASSWORD: &str = "authlab-demo";
pub const LOAD_PASSWORD: &str = "authlab-load";
/// Role required by `/admin/*`.
pub const ADMIN_ROLE: &str = "admin";

fn user_key(username: &str) -> String {
    format!("authlab:user:{username}")
}

/// A user as the servers see it after a successful lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub name: String,
    pub roles: Vec<String>,
}

impl User {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Usernames the directory can hold: short, and safe inside a Redis key and a log line.
pub fn is_valid_username(username: &str) -> bool {
    (1..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Roles are short lowercase words; a list has at most 16 of them.
pub fn validate_roles(roles: &[String]) -> Result<(), String> {
    if roles.len() > 16 {
        return Err("at most 16 roles".into());
    }
    for role in roles {
        let ok = (1..=32).contains(&role.len())
            && role
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b));
        if !ok {
            return Err(format!(
                "role {role:?} must be 1 to 32 characters from a-z 0-9 _ -"
            ));
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("password verification task failed: {0}")]
    Task(String),
}

impl From<DirectoryError> for crate::error::ApiError {
    fn from(error: DirectoryError) -> Self {
        match error {
            DirectoryError::Store(store) => store.into(),
            other => {
                tracing::error!(error = %other, "directory error");
                crate::error::ApiError::Internal
            }
        }
    }
}

/// What `seed` should create.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct SeedArgs {
    /// Load-test users to create: user0 .. user{N-1}, password `authlab-load`.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Argon2 cost of the stored hashes; this is what a login will cost.
    #[arg(long, value_enum, default_value = "default")]
    pub cost: HashCost,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedReport {
    pub demo_users: usize,
    pub load_users: usize,
    pub seconds: f64,
}

/// Read and write access to the users in one Redis.
pub struct UserDirectory {
    store: RedisStore,
}

impl UserDirectory {
    pub fn new(store: RedisStore) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &RedisStore {
        &self.store
    }

    /// The user if `password` is theirs; `None` for a wrong password *and* for
    /// an unknown user, after the same amount of Argon2 work.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, DirectoryError> {
        self.authenticate_holding(username, password, ()).await
    }

    /// [`authenticate`](Self::authenticate), keeping `guard` alive until the
    /// Argon2 verification has finished. The login throttle passes its
    /// verification slot here: the hash runs on the blocking pool and goes
    /// on even if the client hangs up and the request future is dropped, so
    /// the slot must be released by the hash, not by the request.
    pub async fn authenticate_holding<G: Send + 'static>(
        &self,
        username: &str,
        password: &str,
        guard: G,
    ) -> Result<Option<User>, DirectoryError> {
        let record = if is_valid_username(username) {
            self.record(username).await?
        } else {
            None
        };
        let (phc, user) = match record {
            Some((phc, user)) => (phc, Some(user)),
            None => (self.decoy_hash().await?, None),
        };
        let password = password.to_owned();
        // Argon2 is milliseconds of pure CPU: off the async worker, or every
        // other request on this thread would wait behind it.
        let verified = tokio::task::spawn_blocking(move || {
            let verified = verify_password(&password, &phc);
            drop(guard);
            verified
        })
        .await
        .map_err(|e| DirectoryError::Task(e.to_string()))?;
        Ok(user.filter(|_| verified))
    }

    pub async fn get(&self, username: &str) -> Result<Option<User>, DirectoryError> {
        if !is_valid_username(username) {
            return Ok(None);
        }
        Ok(self.record(username).await?.map(|(_, user)| user))
    }

    /// Replaces a user's roles. `false` if the user does not exist.
    pub async fn set_roles(
        &self,
        username: &str,
        roles: &[String],
    ) -> Result<bool, DirectoryError> {
        if !is_valid_username(username) {
            return Ok(false);
        }
        // HSET only if the hash exists: a role change must not create a user
        // without a password. Role changes are rare, so a plain EVAL is fine.
        const SET_IF_EXISTS: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then \
             redis.call('HSET', KEYS[1], 'roles', ARGV[1]) return 1 else return 0 end";
        let updated: i64 = self
            .store
            .run(
                redis::cmd("EVAL")
                    .arg(SET_IF_EXISTS)
                    .arg(1)
                    .arg(user_key(username))
                    .arg(roles.join(",")),
            )
            .await?;
        Ok(updated == 1)
    }

    /// Creates the demo users and `args.users` load users; running it again
    /// rewrites the same records (passwords and roles back to their defaults).
    pub async fn seed(&self, args: &SeedArgs) -> Result<SeedReport, DirectoryError> {
        let started = Instant::now();
        let demo = [
            ("alice", "Alice", "user"),
            ("bob", "Bob", "user"),
            ("carol", "Carol", "user,admin"),
        ];
        let cost = args.cost;
        // Hash once per distinct password and reuse the PHC string: hashing
        // 100k users one by one at the default cost would take an hour.
        let (demo_phc, load_phc, decoy_phc) = tokio::task::spawn_blocking(move || {
            Ok::<_, HashError>((
                hash_password(DEMO_PASSWORD, cost)?,
                hash_password(LOAD_PASSWORD, cost)?,
                hash_password(&random_secret(), cost)?,
            ))
        })
        .await
        .map_err(|e| DirectoryError::Task(e.to_string()))??;

        let mut pipeline = redis::pipe();
        pipeline.cmd("SET").arg(DECOY_KEY).arg(&decoy_phc).ignore();
        for (username, name, roles) in demo {
            hset_user(&mut pipeline, username, name, roles, &demo_phc);
        }
        self.store.run::<()>(&pipeline).await?;

        const BATCH: usize = 2_000;
        let mut next = 0;
        while next < args.users {
            let end = (next + BATCH).min(args.users);
            let mut pipeline = redis::pipe();
            for i in next..end {
                let username = format!("user{i}");
                let name = format!("Load User {i}");
                hset_user(&mut pipeline, &username, &name, "user", &load_phc);
            }
            self.store.run::<()>(&pipeline).await?;
            next = end;
        }
        Ok(SeedReport {
            demo_users: demo.len(),
            load_users: args.users,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    async fn record(&self, username: &str) -> Result<Option<(String, User)>, StoreError> {
        let (phc, roles, name): (Option<String>, Option<String>, Option<String>) = self
            .store
            .run(
                redis::cmd("HMGET")
                    .arg(user_key(username))
                    .arg("phc")
                    .arg("roles")
                    .arg("name"),
            )
            .await?;
        Ok(phc.map(|phc| {
            let user = User {
                username: username.to_owned(),
                name: name.unwrap_or_else(|| username.to_owned()),
                roles: roles
                    .unwrap_or_default()
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect(),
            };
            (phc, user)
        }))
    }

    async fn decoy_hash(&self) -> Result<String, DirectoryError> {
        let decoy: Option<String> = self.store.run(redis::cmd("GET").arg(DECOY_KEY)).await?;
        match decoy {
            Some(phc) => Ok(phc),
            // An unseeded directory has no users to protect; still do the work.
            None => Ok(hash_password(&random_secret(), HashCost::LoadTest)?),
        }
    }
}

fn hset_user(pipeline: &mut redis::Pipeline, username: &str, name: &str, roles: &str, phc: &str) {
    pipeline
        .cmd("HSET")
        .arg(user_key(username))
        .arg("phc")
        .arg(phc)
        .arg("roles")
        .arg(roles)
        .arg("name")
        .arg(name)
        .ignore();
}

fn random_secret() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// `seed` as a subcommand both server binaries share.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedCommand {
    /// Redis holding the user directory.
    #[arg(
        long,
        env = "AUTHLAB_USER_DIRECTORY_URL",
        default_value = "redis://127.0.0.1:6379/0"
    )]
    pub user_directory_url: String,
    #[command(flatten)]
    pub seed: SeedArgs,
}

impl SeedCommand {
    pub async fn run(&self) -> Result<SeedReport, DirectoryError> {
        let metrics = crate::metrics::Metrics::new("seed")
            .map_err(|e| DirectoryError::Task(e.to_string()))?;
        let store = RedisStore::new(
            "user directory",
            &self.user_directory_url,
            &crate::redis_client::RedisClientArgs {
                redis_timeout: std::time::Duration::from_secs(10),
                ..Default::default()
            },
            metrics.store("user_directory"),
        )?;
        UserDirectory::new(store).seed(&self.seed).await
    }
}
