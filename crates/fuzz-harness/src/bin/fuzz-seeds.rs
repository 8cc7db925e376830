//! Writes the seed corpus of the fuzz targets: a genuine token per
//! algorithm (valid until 2100, signed with the fixed fuzz keys) and genuine
//! session cookies, as raw-mode inputs, plus an empty structured input per
//! target (it builds a genuine token or cookie set on its own).
//!
//! `cargo run -p fuzz-harness --bin fuzz-seeds -- fuzz/seeds` rewrites the
//! committed seeds; ES256 signatures are randomised, so its seed changes
//! bytes (not meaning) on every run.

use std::{fs, path::PathBuf};

use authlab_core::wire::SESSION_COOKIE;
use fuzz_harness::{session_cookie, token_verifier};
use jwt_server::SigningAlgorithm;

fn main() -> std::io::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("fuzz/seeds"), PathBuf::from);

    let tokens = out.join("token_verifier");
    fs::create_dir_all(&tokens)?;
    for alg in SigningAlgorithm::ALL {
        let token = token_verifier::genuine_token(alg);
        let name = alg.name().to_lowercase();
        fs::write(
            tokens.join(format!("genuine-{name}")),
            token_verifier::raw_input(alg, &token),
        )?;
        let index = SigningAlgorithm::ALL
            .iter()
            .position(|a| *a == alg)
            .unwrap_or(0);
        fs::write(
            tokens.join(format!("structured-{name}")),
            [token_verifier::STRUCTURED, index as u8],
        )?;
    }

    let cookies = out.join("session_cookie");
    fs::create_dir_all(&cookies)?;
    let genuine = format!(
        "{SESSION_COOKIE}={}",
        session_cookie::genuine_value(session_cookie::SEED_SESSION_KEY)
    );
    fs::write(
        cookies.join("genuine"),
        session_cookie::raw_input(&[&genuine]),
    )?;
    fs::write(
        cookies.join("genuine-among-others"),
        session_cookie::raw_input(&[
            &format!("theme=dark; {genuine}; lang=\"en\""),
            "tracking=%7B%22id%22%3A1%7D",
        ]),
    )?;
    fs::write(cookies.join("structured"), [session_cookie::STRUCTURED])?;
    println!("seeds written under {}", out.display());
    Ok(())
}
