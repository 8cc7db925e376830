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
//! Precision: a client sees the setting to within ~0.03 ms. Sequential
//! Redis PINGs through the proxy, median of 100, added 0.49-0.53 ms at
//! 0.5 ms, 0.99-1.03 ms at 1 ms and 1.99-2.03 ms at 2 ms over ten runs on a
//! quiet and a loaded machine (`tests/latency_precision.rs`, `docs/lab.md`).
//! tokio's timer cannot do that: it works in whole milliseconds and rounds
//! up, so when it timed the delays +0.5 ms acted as 1.3-2.1 ms and +2 ms as
//! 3.2 ms. Delayed chunks are therefore timed and written by a thread of
//! their own, the release thread:
//!
//! * it sleeps on a condition variable with a deadline (a futex, with a
//!   high-resolution timer underneath) and its timer slack set to 1 ns
//!   (`PR_SET_TIMERSLACK`): at the default 50 µs the kernel defers wake-ups
//!   to batch them, and here they came 75-85 µs late instead of 20-35;
//! * as wake-ups are still late, and later on a loaded machine, it aims
//!   early by how late its recent ones were (mean plus one mean deviation)
//!   and busy-waits the rest: never more than 100 µs per deadline, 10-20 µs
//!   on average;
//! * it writes the chunk itself, on its own descriptor of the client
//!   socket: handing it back to the runtime would add that thread's
//!   wake-up, ~15 µs and more under load. What it cannot write without
//!   blocking goes to the runtime's writer task, and it queues behind that
//!   task until the backlog is written, so order holds;
//! * the relays wake it only for a chunk due before the one it sleeps
//!   towards.
//!
//! A zero setting (with nothing held) involves none of it: the chunk goes
//! straight to the writer task and the proxy adds only its hop.
//!
//! Cost, both proxy threads per delayed chunk, release build on the lab's
//! 2-core VM: ~60 µs of CPU with 4 connections pinging at once and ~40 µs
//! with 16 (12,000 chunks/s, about half a core), against 50-64 and 33-38 µs
//! when tokio timed the delays; busy-waiting is ~10 µs of it. A lone
//! sequential client costs more per chunk, as each delay starts and ends
//! with a wake-up from idle, but ~5% of a core in all.
//!
//! What is left is the machine's: a round trip that starts after everything
//! sat idle is slower (here +0.05 ms after 0.5 ms, +0.15 ms after 2 ms), as
//! it would be with a store that is really far away. Experiments therefore
//! still report the latency they *measured* beside the setting.

use std::{
    collections::BTreeMap,
    io::{ErrorKind, Write},
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot},
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
/// Two threads of its own: one runs a single-threaded runtime for the
/// sockets (inside the lab's runtime its tasks would be polled late whenever
/// goose or the experiment kept that runtime busy, and the delay would grow
/// with the load it is supposed to be independent of), the other times and
/// writes the delayed chunks (see the module docs).
pub struct LatencyProxy {
    address: SocketAddr,
    settings: Arc<Settings>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Declared (so dropped) after the runtime thread has been joined in
    // `drop`: no relay is left to hand it a chunk.
    _releaser: Releaser,
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
        let releaser = Releaser::start()?;
        let schedule = releaser.schedule.clone();
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
                            let schedule = schedule.clone();
                            connections.spawn(async move {
                                let relayed = match TcpStream::connect(upstream).await {
                                    Ok(server) => relay(client, server, settings, schedule).await,
                                    Err(error) => Err(error),
                                };
                                if let Err(error) = relayed {
                                    tracing::debug!(%error, %upstream, "latency proxy: connection dropped");
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
            _releaser: releaser,
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

/// One connection's way back to its client.
///
/// Chunks reach the client by one of two writers: the release thread writes
/// a delayed chunk straight onto its own descriptor of the socket (a hop
/// through the runtime would add that thread's wake-up to every delay), and
/// the runtime's writer task takes undelayed chunks and whatever the release
/// thread could not write without blocking. The two counters keep either
/// writer from overtaking the other.
struct Outlet {
    /// The release thread's descriptor of the client socket; non-blocking,
    /// so a client that stops reading cannot stall other connections.
    socket: std::net::TcpStream,
    /// Chunks handed to the release thread and not yet released.
    held: AtomicUsize,
    /// Chunks queued for the writer task and not yet written; shared with it.
    queued: Arc<AtomicUsize>,
    writer: mpsc::UnboundedSender<Vec<u8>>,
    broken: AtomicBool,
}

impl Outlet {
    fn queue(&self, chunk: Vec<u8>) {
        self.queued.fetch_add(1, Ordering::AcqRel);
        if self.writer.send(chunk).is_err() {
            self.broken.store(true, Ordering::Relaxed);
        }
    }
}

/// A chunk held until its deadline.
struct Release {
    due: Instant,
    outlet: Arc<Outlet>,
    chunk: Vec<u8>,
}

impl Release {
    fn deliver(self) {
        let Release { outlet, chunk, .. } = self;
        if outlet.broken.load(Ordering::Relaxed) {
            // The client is gone; the chunk goes with it.
        } else if outlet.queued.load(Ordering::Acquire) > 0 {
            // Writing now would overtake the writer task's backlog.
            outlet.queue(chunk);
        } else {
            match (&outlet.socket).write(&chunk) {
                Ok(written) if written == chunk.len() => {}
                Ok(written) => {
                    let mut rest = chunk;
                    rest.drain(..written);
                    outlet.queue(rest);
                }
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) =>
                {
                    outlet.queue(chunk);
                }
                Err(error) => {
                    tracing::debug!(%error, "latency proxy: client write failed");
                    outlet.broken.store(true, Ordering::Relaxed);
                }
            }
        }
        // Last: once the reader sees nothing held it bypasses this thread.
        outlet.held.fetch_sub(1, Ordering::Release);
    }
}

/// The chunks waiting for the release thread, earliest deadline first.
#[derive(Default)]
struct Held {
    chunks: BTreeMap<(Instant, u64), Release>,
    /// Deadlines tie (a zero delay behind a held chunk, a pipeline read in
    /// one go); the sequence number releases ties in arrival order.
    sequence: u64,
    asleep: Asleep,
    closed: bool,
}

/// What the release thread is waiting for, so that a relay wakes it only
/// when a new chunk falls due before that: under load most chunks are due
/// after the one it sleeps towards, and waking it for each would double its
/// context switches.
#[derive(Default, Clone, Copy)]
enum Asleep {
    #[default]
    No,
    Until(Instant),
    Indefinitely,
}

impl Held {
    fn next_due(&self) -> Option<Instant> {
        self.chunks.keys().next().map(|&(due, _)| due)
    }

    fn take_due(&mut self, now: Instant, into: &mut Vec<Release>) {
        while let Some(entry) = self.chunks.first_entry() {
            if entry.key().0 > now {
                break;
            }
            into.push(entry.remove());
        }
    }
}

/// Shared by the relays (which hand chunks over) and the release thread.
#[derive(Default)]
struct Schedule {
    held: Mutex<Held>,
    changed: Condvar,
}

impl Schedule {
    fn lock(&self) -> MutexGuard<'_, Held> {
        // A panic elsewhere cannot leave the map half-updated.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hand_over(&self, release: Release) {
        let due = release.due;
        let mut held = self.lock();
        let key = (due, held.sequence);
        held.sequence += 1;
        held.chunks.insert(key, release);
        let wake = match held.asleep {
            Asleep::No => false,
            Asleep::Until(target) => due < target,
            Asleep::Indefinitely => true,
        };
        drop(held);
        if wake {
            self.changed.notify_one();
        }
    }
}

/// The release thread, stopped and joined on drop (dropping the chunks it
/// still holds closes the last descriptors of those client sockets).
struct Releaser {
    schedule: Arc<Schedule>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Releaser {
    fn start() -> std::io::Result<Self> {
        let schedule = Arc::new(Schedule::default());
        let shared = schedule.clone();
        let thread = std::thread::Builder::new()
            .name("latency-release".into())
            .spawn(move || release_chunks(&shared))?;
        Ok(Self {
            schedule,
            thread: Some(thread),
        })
    }
}

impl Drop for Releaser {
    fn drop(&mut self) {
        self.schedule.lock().closed = true;
        self.schedule.changed.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The longest the release thread busy-waits for one deadline.
const MAX_SPIN: Duration = Duration::from_micros(100);

/// How long before a deadline the release thread stops sleeping and spins:
/// how late its recent wake-ups were, their mean plus one mean deviation
/// (exponentially weighted, the way TCP tracks round trips), at most
/// [`MAX_SPIN`]. A quiet machine wakes ~10 µs late and spins little; a busy
/// one wakes later, so the thread sets out earlier.
struct Lead {
    mean_us: f64,
    deviation_us: f64,
}

impl Default for Lead {
    fn default() -> Self {
        Self {
            mean_us: 30.0,
            deviation_us: 10.0,
        }
    }
}

impl Lead {
    fn get(&self) -> Duration {
        Duration::from_secs_f64((self.mean_us + self.deviation_us).max(0.0) / 1e6).min(MAX_SPIN)
    }

    fn observe(&mut self, late: Duration) {
        let error = late.as_secs_f64() * 1e6 - self.mean_us;
        self.mean_us += error / 8.0;
        self.deviation_us += (error.abs() - self.deviation_us) / 4.0;
    }
}

fn release_chunks(schedule: &Schedule) {
    // The kernel may defer a sleeper's wake-up by its timer slack (50 µs by
    // default) to batch wake-ups; this thread's wake-ups are the product.
    if let Err(error) = nix::sys::prctl::set_timerslack(1) {
        tracing::warn!(%error, "latency proxy: default timer slack, delays run ~50 µs long");
    }
    let mut lead = Lead::default();
    let mut due_now = Vec::new();
    let mut held = schedule.lock();
    loop {
        if held.closed {
            let chunks = std::mem::take(&mut held.chunks);
            drop(held);
            drop(chunks);
            return;
        }
        let Some(due) = held.next_due() else {
            held.asleep = Asleep::Indefinitely;
            held = schedule
                .changed
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
            held.asleep = Asleep::No;
            continue;
        };
        let wake = due.checked_sub(lead.get()).unwrap_or(due);
        let now = Instant::now();
        if now < wake {
            held.asleep = Asleep::Until(due);
            let (guard, waited) = schedule
                .changed
                .wait_timeout(held, wake - now)
                .unwrap_or_else(PoisonError::into_inner);
            held = guard;
            held.asleep = Asleep::No;
            if waited.timed_out() {
                lead.observe(Instant::now().saturating_duration_since(wake));
            }
            // Woken early by an earlier chunk, or on time: plan again.
            continue;
        }
        drop(held);
        // Less than the lead away, so at most MAX_SPIN.
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        schedule.lock().take_due(Instant::now(), &mut due_now);
        for release in due_now.drain(..) {
            release.deliver();
        }
        held = schedule.lock();
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    settings: Arc<Settings>,
    schedule: Arc<Schedule>,
) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let client = client.into_std()?;
    let socket = client.try_clone()?;
    let client = TcpStream::from_std(client)?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let (writer, mut queue) = mpsc::unbounded_channel::<Vec<u8>>();
    let queued = Arc::new(AtomicUsize::new(0));
    // The writer task ends once the reader and the release thread have both
    // let go of the outlet, i.e. after the last chunk went out.
    let outlet = Arc::new(Outlet {
        socket,
        held: AtomicUsize::new(0),
        queued: queued.clone(),
        writer,
        broken: AtomicBool::new(false),
    });
    let reader = async move {
        let mut buffer = vec![0u8; 16 * 1024];
        let mut last_due = Instant::now();
        while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
            let chunk = buffer[..n].to_vec();
            let now = Instant::now();
            // Never release a chunk before the one ahead of it.
            let due = (now + settings.pick()).max(last_due);
            last_due = due;
            if due <= now && outlet.held.load(Ordering::Acquire) == 0 {
                // Nothing to wait for: the plain hop, no thread handover.
                outlet.queue(chunk);
            } else {
                outlet.held.fetch_add(1, Ordering::Relaxed);
                schedule.hand_over(Release {
                    due,
                    outlet: outlet.clone(),
                    chunk,
                });
            }
        }
    };
    let writer = async {
        while let Some(chunk) = queue.recv().await {
            if client_write.write_all(&chunk).await.is_err() {
                break;
            }
            queued.fetch_sub(1, Ordering::Release);
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, reader, writer);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_net::echo_server;

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
        for byte in b"0123456789" {
            stream.write_all(&[*byte]).await.unwrap();
        }
        let mut reply = [0u8; 10];
        stream.read_exact(&mut reply).await.unwrap();
        // Ten serialized delays would take 500 ms; overlapping ones about 55.
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(&reply, b"0123456789", "jitter never reorders");
    }

    #[tokio::test]
    async fn a_shorter_delay_does_not_overtake_a_held_chunk() {
        let upstream = echo_server().await;
        let proxy = LatencyProxy::start(
            upstream,
            Latency {
                delay: Duration::from_millis(100),
                jitter: Duration::ZERO,
            },
        )
        .unwrap();
        let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
        stream.write_all(b"a").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        proxy.set(Latency::default());
        stream.write_all(b"b").await.unwrap();
        let mut reply = [0u8; 2];
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"ab");
    }

    #[tokio::test]
    async fn dropping_the_proxy_closes_connections_with_chunks_held() {
        let upstream = echo_server().await;
        let proxy = LatencyProxy::start(
            upstream,
            Latency {
                delay: Duration::from_secs(5),
                jitter: Duration::ZERO,
            },
        )
        .unwrap();
        let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
        stream.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(proxy);
        let mut reply = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut reply))
            .await
            .expect("the connection closes with the proxy");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }

    #[tokio::test]
    async fn a_client_that_reads_late_still_gets_every_byte_in_order() {
        let upstream = echo_server().await;
        let proxy = LatencyProxy::start(
            upstream,
            Latency {
                delay: Duration::from_millis(1),
                jitter: Duration::from_micros(500),
            },
        )
        .unwrap();
        let (mut read, mut write) = TcpStream::connect(proxy.address())
            .await
            .unwrap()
            .into_split();
        let sent: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let expected = sent.clone();
        let writing = tokio::spawn(async move {
            write.write_all(&sent).await.unwrap();
            write
        });
        // Not reading fills the socket buffers: the release thread's writes
        // come back short or would block, and the writer task takes over.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut received = vec![0u8; expected.len()];
        read.read_exact(&mut received).await.unwrap();
        assert!(received == expected, "bytes lost or reordered");
        drop(writing.await.unwrap());
    }
}
