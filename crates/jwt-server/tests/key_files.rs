//! Key-set files hold private keys: written 0600, and a node refuses to load
//! one that group or others can read unless told to.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{os::unix::fs::PermissionsExt, path::Path, process::Command};

use testkit::{TestClient, TestEnv};

/// The permission bits in octal, as `ls -l` users read them.
fn mode_of(path: &Path) -> String {
    format!(
        "{:o}",
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    )
}

fn keys(args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_jwt-server"))
        .arg("keys")
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "jwt-server keys {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn keys_generate_stage_and_activate_write_owner_only_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let file = path.to_str().unwrap();
    keys(&["generate", "--alg", "EdDSA", "--out", file]);
    assert_eq!(mode_of(&path), "600", "generate");

    // A file someone loosened is tightened by the next rewrite.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    keys(&["stage", "--file", file]);
    assert_eq!(mode_of(&path), "600", "stage");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    keys(&["activate", "--file", file, "--grace", "1m"]);
    assert_eq!(mode_of(&path), "600", "activate");

    // --force over an existing, world-readable file.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    keys(&["generate", "--alg", "EdDSA", "--out", file, "--force"]);
    assert_eq!(mode_of(&path), "600", "generate --force");
}

#[tokio::test]
async fn a_node_refuses_a_world_readable_key_file_unless_allowed() {
    let env = TestEnv::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let file = testkit::nodes::key_set(jwt_server::SigningAlgorithm::EdDsa);
    std::fs::write(&path, file.to_json()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let mut config = env.jwt_config();
    config.hs256_secret = None;
    config.keyset_file = Some(path.clone());
    let refused = jwt_server::Application::build(config.clone()).await;
    let message = match refused {
        Ok(_) => panic!("a node loaded a key file that others can read (mode 644)"),
        Err(e) => e.to_string(),
    };
    for part in [
        path.to_str().unwrap(),
        "644",
        "chmod 600",
        "--allow-insecure-key-file",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }

    config.allow_insecure_key_file = true;
    let node = testkit::nodes::spawn_jwt_node(config).await;
    let client = TestClient::new();
    let (alice, _) = client.jwt_login(&node.base(), "alice").await;
    assert_eq!(
        client.get(&node.url("/me"), Some(&alice)).await.status(),
        reqwest::StatusCode::OK
    );
}
