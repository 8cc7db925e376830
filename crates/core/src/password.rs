//! Password hashing with Argon2id.
//!
//! The cost of a login is decided when the password is *hashed*, not when it
//! is verified: the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) carries
//! its own parameters, and verification simply follows them. That is why the
//! cost profile is a property of the seed command, not of the servers.
//!
//! Two profiles exist:
//!
//! * [`HashCost::Default`]: OWASP's recommended Argon2id setting (19 MiB,
//!   2 passes, 1 lane). A login costs tens of milliseconds of CPU, which is
//!   the point: it makes offline guessing expensive.
//! * [`HashCost::LoadTest`]: 1 MiB, 1 pass. Load tests log thousands of users
//!   in; at the default cost the logins alone would saturate a 2-core machine
//!   and every experiment would measure Argon2 instead of sessions or tokens.
//!   Never use it for real passwords.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum HashCost {
    /// OWASP's Argon2id recommendation: m=19456 KiB, t=2, p=1.
    Default,
    /// Cheap enough to log in thousands of load-test users: m=1024 KiB, t=1, p=1.
    LoadTest,
}

impl HashCost {
    fn params(self) -> Params {
        let (memory_kib, passes) = match self {
            HashCost::Default => (19_456, 2),
            HashCost::LoadTest => (1_024, 1),
        };
        Params::new(memory_kib, passes, 1, None).expect("constant Argon2 parameters are valid")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes `password` into a PHC string with a fresh random salt.
pub fn hash_password(password: &str, cost: HashCost) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params())
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Checks `password` against a PHC string, with the parameters the string names.
///
/// A malformed stored hash verifies as `false`: it must never let anyone in,
/// and a login should not turn into a 500 because one record is damaged.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(error) => {
            tracing::error!(%error, "stored password hash is not a valid PHC string");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_right_password_only() {
        let phc = hash_password("s3cret", HashCost::LoadTest).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(verify_password("s3cret", &phc));
        assert!(!verify_password("s3cret!", &phc));
    }

    #[test]
    fn default_cost_is_owasp_recommendation() {
        let phc = hash_password("x", HashCost::Default).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn a_damaged_hash_never_verifies() {
        assert!(!verify_password("x", "not-a-phc-string"));
    }
}
