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

use std::cell::RefCell;

use argon2::{
    password_hash::{rand_core::OsRng, Output, PasswordHash, PasswordHasher, Salt, SaltString},
    Algorithm, Argon2, Block, Params, Version,
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

thread_local! {
    /// Argon2's working memory (m KiB per verification), kept for the
    /// thread's life instead of allocated per login. Allocated per login,
    /// glibc's malloc served it from its arenas once its dynamic mmap
    /// threshold had risen past 1 MiB (after the first block was freed), and
    /// small allocations landing in the freed blocks kept the arenas from
    /// shrinking: a node's RSS grew by 160–230 MiB over 20,000 logins, 16 at
    /// a time, and stayed there (docs/performance.md, "Where a login's
    /// memory goes"). One block per thread that hashes bounds it to the
    /// hashing threads times the cost.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Checks `password` against a PHC string, with the parameters the string names.
///
/// A malformed stored hash verifies as `false`: it must never let anyone in,
/// and a login should not turn into a 500 because one record is damaged.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => verify_parsed(password.as_bytes(), &parsed).unwrap_or(false),
        Err(error) => {
            tracing::error!(%error, "stored password hash is not a valid PHC string");
            false
        }
    }
}

/// What `argon2`'s `PasswordVerifier` does, with this thread's working memory.
/// `None` when the stored hash names parameters Argon2 refuses.
fn verify_parsed(password: &[u8], hash: &PasswordHash<'_>) -> Option<bool> {
    let (salt, expected) = (hash.salt?, hash.hash?);
    let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(hash).ok()?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt = salt.decode_b64(&mut salt_bytes).ok()?;
    WORKING_MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        let computed = Output::init_with(expected.len(), |out| {
            argon2
                .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
                .map_err(|_| argon2::password_hash::Error::Password)
        })
        .ok()?;
        // `Output`'s equality is constant-time.
        Some(computed == expected)
    })
}

/// Bytes of Argon2 working memory this thread keeps (tests).
#[cfg(test)]
fn working_memory_bytes() -> usize {
    WORKING_MEMORY.with_borrow(|memory| memory.capacity() * Block::SIZE)
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
        let phc = hash_password("x", HashCost::LoadTest).unwrap();
        assert!(!verify_password("x", &phc.replace("m=1024", "m=1")));
        assert!(!verify_password("x", &phc.replace("argon2id", "scrypt")));
    }

    /// The thread's working memory does the same as `argon2`'s own
    /// verifier, for every variant and version a stored hash may name.
    #[test]
    fn agrees_with_the_argon2_verifier() {
        use argon2::PasswordVerifier;
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i, Algorithm::Argon2d] {
            for version in [Version::V0x13, Version::V0x10] {
                let params = Params::new(64, 2, 1, Some(24)).unwrap();
                let salt = SaltString::generate(&mut OsRng);
                let phc = Argon2::new(algorithm, version, params)
                    .hash_password(b"pw", &salt)
                    .unwrap()
                    .to_string();
                let parsed = PasswordHash::new(&phc).unwrap();
                for guess in ["pw", "pW", ""] {
                    assert_eq!(
                        verify_password(guess, &phc),
                        Argon2::default()
                            .verify_password(guess.as_bytes(), &parsed)
                            .is_ok(),
                        "{phc} {guess:?}"
                    );
                }
            }
        }
    }

    /// The defect: each verification allocated its m KiB anew. Now a thread
    /// keeps one block, grown to the largest cost it has verified.
    #[test]
    fn a_thread_reuses_its_working_memory() {
        std::thread::spawn(|| {
            let phc = hash_password("s3cret", HashCost::LoadTest).unwrap();
            assert!(verify_password("s3cret", &phc));
            let first = WORKING_MEMORY.with_borrow(|m| m.as_ptr() as usize);
            assert_eq!(working_memory_bytes(), 1024 * 1024);
            for _ in 0..5 {
                assert!(!verify_password("wrong", &phc));
            }
            assert_eq!(WORKING_MEMORY.with_borrow(|m| m.as_ptr() as usize), first);
            assert_eq!(working_memory_bytes(), 1024 * 1024);
        })
        .join()
        .unwrap();
    }
}
