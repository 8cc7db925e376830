//! A TCP proxy that adds latency: the "store is 2 ms away" of claim C4.
//!
//! Toxiproxy is the usual tool, but it is a Go server and no maintained Rust
//! port exists (noxious, the one port, has had no release in years), so the
//! lab carries this small instrument instead. It does one thing, the way
//! Toxiproxy's `latency` toxic does: every chunk of bytes flowing from the
//! store back to the client is held for `latency ± jitter` before it is
//! written on. Order is preserved (a chunk is never released before the one
//! ahead of it) and chunks are delayed independently, so a pipelined
//! connection keeps its throughput: the delay is added to each round trip,
//! not serialized across them. The request direction is passed straight on.
//!
//! The delay can be changed while connections are open.
//!
//! Resolution: delays are timed with tokio's timer, which works in whole
//! milliseconds and rounds up, so a 0.5 ms setting acts as roughly 1 ms
//! (a zero setting bypasses the timer and adds only the proxy's hop).
//! Experiments therefore report the latency they *measured*, not the setting.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot},
    time::Instant,
};

/// Delay added to each response chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Latency {
    #[serde(with = "micros")]
    pub delay: Duration,
    #[serde(with = "micros")]
    pub jitter: Duration,
}

mod micros {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.as_micros() as u64)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let micros = <u64 as serde::Deserialize>::deserialize(d)?;
        Ok(Duration::from_micros(micros))
    }
}

#[derive(Default)]
struct Settings {
    delay_us: AtomicU64,
    jitter_us: AtomicU64,
}

impl Settings {
    fn pick(&self) -> Duration {
        let delay = self.delay_us.load(Ordering::Relaxed);
        let jitter = self.jitter_us.load(Ordering::Relaxed);
        let micros = if jitter == 0 {
            delay
        } else {
            let offset = rand::random_range(0..=2 * jitter);
            (delay + offset).saturating_sub(jitter)
        };
        Duration::from_micros(micros)
    }
}

/// A listening proxy; stops accepting and drops its connections when dropped.
///
/// It runs on a thread of its own with a single-threaded runtime: inside
/// the lab's runtime its timers would fire late whenever goose or the
/// experiment kept that runtime busy, and the delay would grow with the
/// load it is supposed to be independent of.
pub struct LatencyProxy {
    address: SocketAddr,
    settings: Arc<Settings>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LatencyProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub fn start(upstream: SocketAddr, latency: Latency) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let settings = Arc::new(Settings::default());
        let proxy_settings = settings.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("latency-proxy".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    let accept = async {
                        let mut connections = tokio::task::JoinSet::new();
                        while let Ok((client, _)) = listener.accept().await {
                            let settings = proxy_settings.clone();
                            connections.spawn(async move {
                                if let Ok(server) = TcpStream::connect(upstream).await {
                                    relay(client, server, settings).await;
                                }
                            });
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here drops every relay with it.
            })?;
        let proxy = Self {
            address,
            settings,
            stop: Some(stop),
            thread: Some(thread),
        };
        proxy.set(latency);
        Ok(proxy)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn set(&self, latency: Latency) {
        self.settings
            .delay_us
            .store(latency.delay.as_micros() as u64, Ordering::Relaxed);
        self.settings
            .jitter_us
            .store(latency.jitter.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn get(&self) -> Latency {
        Latency {
            delay: Duration::from_micros(self.settings.delay_us.load(Ordering::Relaxed)),
            jitter: Duration::from_micros(self.settings.jitter_us.load(Ordering::Relaxed)),
        }
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn relay(client: TcpStream, server: TcpStream, settings: Arc<Settings>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let (sender, mut receiver) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buffer = vec![0u8; 16 * 1024];
        let mut last_due = Instant::now();
        loop {
            match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    // Never release a chunk before the one ahead of it.
                    let due = (Instant::now() + settings.pick()).max(last_due);
                    last_due = due;
                    if sender.send((due, buffer[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async {
        while let Some((due, chunk)) = receiver.recv().await {
            // tokio's timer rounds a deadline up to its next millisecond
            // tick, so even a deadline of "now" would cost ~0.5 ms on
            // average: with no delay set, the chunk is due already and goes
            // straight on.
            if due > Instant::now() {
                tokio::time::sleep_until(due).await;
            }
            if client_write.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, async { tokio::join!(reader, writer) });
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buffer).await {
                        if n == 0 || stream.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        address
    }

    async fn round_trip(address: SocketAddr, stream: &mut TcpStream) -> Duration {
        let _ = address;
        let started = std::time::Instant::now();
        stream.write_all(b"ping").await.unwrap();
        let mut reply = [0u8; 4];
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"ping");
        started.elapsed()
    }

    #[tokio::test]
    async fn adds_the_configured_delay_and_can_change_it_live() {
        let upstream = echo_server().await;
        let proxy = LatencyProxy::start(upstream, Latency::default()).unwrap();
        let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
        let fast = round_trip(proxy.address(), &mut stream).await;
        proxy.set(Latency {
            delay: Duration::from_millis(30),
            jitter: Duration::ZERO,
        });
        let slow = round_trip(proxy.address(), &mut stream).await;
        assert!(slow >= Duration::from_millis(30), "delay applied: {slow:?}");
        assert!(
            fast < Duration::from_millis(30),
            "no delay before: {fast:?}"
        );
    }

    #[tokio::test]
    async fn pipelined_round_trips_overlap_instead_of_queueing() {
        let upstream = echo_server().await;
        let proxy = LatencyProxy::start(
            upstream,
            Latency {
                delay: Duration::from_millis(50),
                jitter: Duration::from_millis(5),
            },
        )
        .unwrap();
        let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
        let started = std::time::Instant::now();
        for _ in 0..10 {
            stream.write_all(b"x").await.unwrap();
        }
        let mut reply = [0u8; 10];
        stream.read_exact(&mut reply).await.unwrap();
        // Ten serialized delays would take 500 ms; overlapping ones about 55.
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
    }
}
