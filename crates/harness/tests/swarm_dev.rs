use harness::{ClusterSpec, Engine, Swarm};
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_dev() {
    let swarm = Swarm::connect("swarmdev").await.unwrap();
    let mut spec = ClusterSpec::new(PathBuf::from("/bin/true"));
    spec.nodes = 2;
    let mut cluster = swarm.start(spec).await.unwrap();
    let url = cluster.store_url(0);
    println!("store {url}");
    let c = redis::Client::open(url.as_str()).unwrap();
    let mut conn = c.get_multiplexed_async_connection().await.unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    println!("{pong}");
    let t = std::time::Instant::now();
    cluster.stop_store();
    println!("stopped {:?}", t.elapsed());
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let t = std::time::Instant::now();
    let r = cluster.start_store();
    println!(
        "started {:?} {r:?} url now {}",
        t.elapsed(),
        cluster.store_url(0)
    );
    let c = redis::Client::open(url.as_str()).unwrap();
    let r = c.get_multiplexed_async_connection().await;
    println!("reconnect {:?}", r.is_ok());
    cluster.shutdown();
}
