//! A TCP relay that counts the bytes on the wire: what claim C9 weighs.
//!
//! "A JWT makes every request heavier" is a claim about bytes on the wire,
//! and what reaches the wire is not what the application wrote: HTTP/2
//! compresses headers it has seen before (HPACK), TLS adds record framing,
//! and a fresh connection pays for its handshake once. Counting at the
//! application would miss all of that, so the lab counts where the client's
//! TCP stack hands bytes over: a relay on a free loopback port that forwards
//! every connection to the real frontend and adds up what it passes on,
//! each way.
//!
//! What a count includes: every byte of TCP payload, so TLS records and
//! handshakes, the HTTP/2 connection preface, SETTINGS, WINDOW_UPDATE and
//! GOAWAY frames, HTTP/1 heads and bodies. What it does not: TCP and IP
//! headers, and segments without payload (SYN, FIN, bare ACKs). Those cost
//! ~52 bytes a segment (20 IP + 32 TCP with timestamps), and how many
//! segments a request takes is the kernel's choice and the path's MTU: on
//! loopback's 64 KiB MTU a request is one segment, on a 1,500-byte network a
//! 4 KB token is three. A relay sees neither, so C9 leaves them out rather
//! than guess them, and says so beside its figures.
//!
//! Counts are live: each direction adds what it relayed as soon as it has
//! written it on, so a reader never waits for a connection to close to see
//! its traffic. [`WireCounter::take`] does wait for closes, though: a total
//! is only final once every connection has finished both ways.
//!
//! Half-close is relayed: when one side stops sending (EOF), the relay shuts
//! down its write side towards the other, so a client that sends its request
//! and then closes its half (HTTP/1.0 style) still gets its answer, and the
//! connection is finished only when both directions are.
//!
//! The relay runs on the runtime that started it: it is an instrument for
//! light, sequential probes (one h2load connection at a time), not a load
//! path, and relays nothing while that runtime is blocked.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::{JoinHandle, JoinSet},
};

use crate::HarnessError;

/// Bytes relayed, each way, over `connections` connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WireBytes {
    pub connections: u64,
    /// From the client to the server: requests, and the client's share of handshakes.
    pub to_server: u64,
    /// From the server to the client.
    pub to_client: u64,
}

/// Shared by the listener, the relays and [`WireCounter::take`].
struct Counts {
    connections: AtomicU64,
    to_server: AtomicU64,
    to_client: AtomicU64,
    /// Connections accepted and not yet finished both ways; `take` waits
    /// for it to reach zero.
    open: watch::Sender<u64>,
}

/// Marks a connection finished however its relay ends, aborted included:
/// otherwise an error path could leave `take` waiting for a close that
/// already happened.
struct OpenGuard(Arc<Counts>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0
            .open
            .send_modify(|open| *open = open.saturating_sub(1));
    }
}

/// A counting relay on a free loopback port.
///
/// Dropping it stops the listener and every relay (their connections close).
pub struct WireCounter {
    address: SocketAddr,
    counts: Arc<Counts>,
    listener: JoinHandle<()>,
}

impl WireCounter {
    /// Listens on a free loopback port and relays every connection to `upstream`.
    ///
    /// Must be called within a tokio runtime, which then runs the relays.
    pub async fn start(upstream: SocketAddr) -> Result<Self, HarnessError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| HarnessError::Io(format!("wire counter: cannot listen: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| HarnessError::Io(format!("wire counter: no local address: {e}")))?;
        let (open, _) = watch::channel(0);
        let counts = Arc::new(Counts {
            connections: AtomicU64::new(0),
            to_server: AtomicU64::new(0),
            to_client: AtomicU64::new(0),
            open,
        });
        let shared = counts.clone();
        let listener = tokio::spawn(async move {
            // Owned by this task: aborting it (on drop) drops the set, and
            // that aborts every relay.
            let mut relays = JoinSet::new();
            // Runs for the counter's lifetime: dropping it aborts this task.
            loop {
                let (client, _) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors and the like: pause instead of
                        // spinning on the same error.
                        tracing::debug!(%error, "wire counter: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Counted at accept, before any byte moves, so a `take`
                // that starts now waits for this connection too.
                shared.connections.fetch_add(1, Ordering::Relaxed);
                shared.open.send_modify(|open| *open += 1);
                let guard = OpenGuard(shared.clone());
                relays.spawn(async move {
                    let counts = guard.0.clone();
                    if let Err(error) = relay(client, upstream, &counts).await {
                        tracing::debug!(%error, %upstream, "wire counter: connection ended early");
                    }
                    drop(guard);
                });
                // Finished relays' results are not needed; reap them so a
                // long-lived counter does not keep one entry per connection.
                while relays.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            address,
            counts,
            listener,
        })
    }

    /// Where clients connect instead of `upstream`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Totals since start or the last `take`, once every connection accepted
    /// so far has closed (both directions finished); the counts start again
    /// from zero.
    ///
    /// Waits at most `timeout`, then fails with [`HarnessError::Timeout`] and
    /// leaves the counts as they are. A connection accepted while this runs
    /// is waited for as well.
    pub async fn take(&self, timeout: Duration) -> Result<WireBytes, HarnessError> {
        let mut open = self.counts.open.subscribe();
        match tokio::time::timeout(timeout, open.wait_for(|&open| open == 0)).await {
            Ok(Ok(_)) => {}
            // The sender lives in `self.counts`: it cannot be gone while `self` is here.
            Ok(Err(_)) => {
                return Err(HarnessError::Io("wire counter: its state is gone".into()));
            }
            Err(_) => {
                return Err(HarnessError::Timeout(format!(
                    "wire counter: {} connection(s) still open after {timeout:?} ({:?} so far)",
                    *self.counts.open.borrow(),
                    self.peek()
                )));
            }
        }
        Ok(WireBytes {
            connections: self.counts.connections.swap(0, Ordering::Relaxed),
            to_server: self.counts.to_server.swap(0, Ordering::Relaxed),
            to_client: self.counts.to_client.swap(0, Ordering::Relaxed),
        })
    }

    /// The running totals, connections still open included; resets nothing.
    pub fn peek(&self) -> WireBytes {
        WireBytes {
            connections: self.counts.connections.load(Ordering::Relaxed),
            to_server: self.counts.to_server.load(Ordering::Relaxed),
            to_client: self.counts.to_client.load(Ordering::Relaxed),
        }
    }
}

impl Drop for WireCounter {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Relays one connection until both directions have finished.
async fn relay(client: TcpStream, upstream: SocketAddr, counts: &Counts) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    // Small writes go out as they come, as they would without the relay:
    // Nagle here would merge and delay segments the client sent apart.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, &counts.to_server);
    let down = pump(server_read, client_write, &counts.to_client);
    tokio::pin!(up, down);
    // A clean EOF one way leaves the other running (half-close); an error
    // either way (a reset) ends the connection: returning drops both sockets.
    tokio::select! {
        result = &mut up => {
            result?;
            down.await
        }
        result = &mut down => {
            result?;
            up.await
        }
    }
}

/// Copies `from` to `to` until EOF, adding each chunk to `counter` once
/// written, then shuts down `to`'s write side to pass the EOF on.
async fn pump<R, W>(mut from: R, mut to: W, counter: &AtomicU64) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buffer = vec![0u8; 16 * 1024];
    // Ends at EOF or an error; a peer that does neither is cut off by the
    // frontend's idle timeouts (HAProxy's `timeout client`/`server`) or
    // when the counter is dropped, which aborts every relay.
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        to.write_all(&buffer[..n]).await?;
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
    // The peer may already have gone (it closed first); the EOF then has
    // nowhere to go, which is no error for the count.
    let _ = to.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_net::echo_server;

    const WAIT: Duration = Duration::from_secs(5);

    /// A server that reads until the client's EOF, then answers `reply`
    /// and closes: the count both ways is known exactly.
    async fn fixed_reply_server(reply: Vec<u8>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    stream.read_to_end(&mut request).await.unwrap();
                    stream.write_all(&reply).await.unwrap();
                    stream.shutdown().await.unwrap();
                });
            }
        });
        address
    }

    /// Sends `request`, half-closes, reads the answer to EOF.
    async fn exchange(address: SocketAddr, request: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn counts_each_way_exactly_and_relays_the_half_close() {
        let reply: Vec<u8> = (0..70_001u32).map(|i| (i % 251) as u8).collect();
        let upstream = fixed_reply_server(reply.clone()).await;
        let counter = WireCounter::start(upstream).await.unwrap();
        let request = vec![b'r'; 100_003];
        // The server answers only after the client's EOF reached it.
        let answer = exchange(counter.address(), &request).await;
        assert!(answer == reply, "the reply arrives whole");
        let bytes = counter.take(WAIT).await.unwrap();
        assert_eq!(
            bytes,
            WireBytes {
                connections: 1,
                to_server: 100_003,
                to_client: 70_001
            }
        );
    }

    #[tokio::test]
    async fn counts_connections_and_take_resets() {
        let upstream = fixed_reply_server(b"0123456789".to_vec()).await;
        let counter = WireCounter::start(upstream).await.unwrap();
        exchange(counter.address(), b"abc").await;
        exchange(counter.address(), b"defgh").await;
        let bytes = counter.take(WAIT).await.unwrap();
        assert_eq!(
            bytes,
            WireBytes {
                connections: 2,
                to_server: 8,
                to_client: 20
            }
        );
        assert_eq!(counter.take(WAIT).await.unwrap(), WireBytes::default());
        exchange(counter.address(), b"i").await;
        assert_eq!(
            counter.take(WAIT).await.unwrap(),
            WireBytes {
                connections: 1,
                to_server: 1,
                to_client: 10
            }
        );
    }

    #[tokio::test]
    async fn counts_are_live_and_take_waits_for_open_connections() {
        let counter = WireCounter::start(echo_server().await).await.unwrap();
        let mut stream = TcpStream::connect(counter.address()).await.unwrap();
        stream.write_all(b"ping").await.unwrap();
        let mut reply = [0u8; 4];
        stream.read_exact(&mut reply).await.unwrap();
        // Counted while the connection is still open.
        assert_eq!(
            counter.peek(),
            WireBytes {
                connections: 1,
                to_server: 4,
                to_client: 4
            }
        );
        let refused = counter.take(Duration::from_millis(100)).await;
        assert!(
            matches!(refused, Err(HarnessError::Timeout(_))),
            "{refused:?}"
        );
        // The echo server closes once it sees EOF; then the relay is done.
        stream.shutdown().await.unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        let bytes = counter.take(WAIT).await.unwrap();
        assert_eq!(
            (bytes.connections, bytes.to_server, bytes.to_client),
            (1, 4, 4)
        );
    }

    #[tokio::test]
    async fn dropping_the_counter_closes_its_connections() {
        let counter = WireCounter::start(echo_server().await).await.unwrap();
        let mut stream = TcpStream::connect(counter.address()).await.unwrap();
        stream.write_all(b"x").await.unwrap();
        let mut reply = [0u8; 1];
        stream.read_exact(&mut reply).await.unwrap();
        drop(counter);
        let read = tokio::time::timeout(WAIT, stream.read(&mut reply))
            .await
            .expect("the connection closes with the counter");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
}
