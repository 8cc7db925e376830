//! The `loadtests` binary sends load off loopback only with `--allow-remote`,
//! and says where it goes before it starts. The "remote" host here is this
//! machine's own non-loopback address, with a real node listening on it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{
    net::{IpAddr, Ipv4Addr, UdpSocket},
    process::Output,
};

use testkit::TestEnv;

/// The address this machine sends from towards the outside world (a UDP
/// "connect" sends nothing; it only picks the route).
fn outward_address() -> IpAddr {
    let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    socket
        .connect("192.0.2.1:9")
        .expect("this test needs a route off loopback");
    let address = socket.local_addr().unwrap().ip();
    assert!(!address.is_loopback(), "{address}");
    address
}

async fn loadtests(host: &str, extra: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_loadtests"))
        .args(["--host", host, "--scenario", "session-browse"])
        .args(["-u", "1", "-r", "1", "-t", "1s"])
        .args(extra)
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_hosts_need_allow_remote_and_are_announced() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|config| config.node.host = IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        .await;
    let remote = format!("http://{}:{}", outward_address(), node.port);

    let refused = loadtests(&remote, &[]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("refusing to send load to {remote:?}")),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-remote"), "{stderr}");
    assert!(!stderr.contains("sending load"), "{stderr}");

    let allowed = loadtests(&remote, &["--allow-remote"]).await;
    let stderr = String::from_utf8_lossy(&allowed.stderr);
    let stdout = String::from_utf8_lossy(&allowed.stdout);
    assert!(allowed.status.success(), "{stderr}\n{stdout}");
    assert!(
        stderr
            .lines()
            .any(|l| l
                == format!("sending load to {remote} (remote target allowed by --allow-remote)")),
        "{stderr}"
    );
    // The load really reached the node: it is named in the per-node counts.
    assert!(stdout.contains(&node.node), "{stdout}");

    // Loopback needs no flag and announces nothing.
    let local = loadtests(&node.base(), &[]).await;
    let stderr = String::from_utf8_lossy(&local.stderr);
    assert!(local.status.success(), "{stderr}");
    assert!(!stderr.contains("sending load"), "{stderr}");
}
