use harness::{Cluster, ClusterSpec, Engine, Part, Stack, Swarm};
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_dev() {
    let swarm = Swarm::connect("swarmdev").await.unwrap();
    let t = std::time::Instant::now();
    println!("hosts {:?}", swarm.hosts().await.unwrap());
    println!("hosts took {:?}", t.elapsed());
    let mut spec = ClusterSpec::new(PathBuf::from("/bin/true"));
    spec.nodes = 2;
    let t = std::time::Instant::now();
    let cluster = swarm.start(spec).await;
    println!("start took {:?}", t.elapsed());
    let cluster = cluster.unwrap();
    println!("placement {:?}", cluster.placement());
    println!("nodes {:?}", cluster.nodes(Stack::Session));
    println!("url {:?}", cluster.url(Stack::Jwt, "/health"));
    let body = reqwest::get(cluster.url(Stack::Jwt, "/health").unwrap())
        .await
        .unwrap();
    println!(
        "health {:?} {:?}",
        body.status(),
        body.headers().get("x-node")
    );
    println!("stats {:?}", cluster.stats().unwrap());
    println!("cpu {:?}", cluster.cpu_time(Part::Haproxy).await);
    println!(
        "cpu node {:?}",
        cluster.cpu_time(Part::Node(Stack::Session, 0)).await
    );
    let runs = cluster
        .generate(harness::LoadJob {
            stack: Stack::Session,
            path: "/health".into(),
            script: None,
            threads: 1,
            connections: 8,
            duration: std::time::Duration::from_secs(2),
        })
        .await
        .unwrap();
    for r in runs {
        println!("gen {} {} {}\n{}", r.name, r.host, r.connections, r.stdout);
    }
    cluster.shutdown();
}
