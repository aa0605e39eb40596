//! An outage of the emulator as one function sees it: a TCP proxy in front of the test stack that goes down
//! (every open connection dropped, new ones closed at once) when a given request passes, and comes back up on
//! request. The stack itself keeps running with its state, as AWS does across an outage of its endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The proxy: its address, and whether it is up.
pub struct Outage {
    pub url: String,
    up: watch::Sender<bool>,
    /// Set when the trip request went out.
    pub tripped: Arc<AtomicBool>,
}

impl Outage {
    /// A proxy to `upstream` (`http://host:port`) on a free local port, up. It goes down when the answer to the
    /// first request whose bytes contain `trip` (a request line, say) comes back: that request reaches the stack
    /// whole and is carried out, and its answer is lost.
    pub async fn start(upstream: &str, trip: String) -> Self {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a local port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let (up, _) = watch::channel(true);
        let tripped = Arc::new(AtomicBool::new(false));
        let (sender, flag) = (up.clone(), tripped.clone());
        tokio::spawn(async move {
            let trip = Arc::new(trip.into_bytes());
            while let Ok((client, _)) = listener.accept().await {
                if !*sender.borrow() {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(forward(client, server, sender.clone(), trip.clone(), flag.clone()));
            }
        });
        Outage { url, up, tripped }
    }

    /// Whether the proxy is up.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Back up: new connections are forwarded again (the trip does not fire twice).
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

async fn forward(
    client: TcpStream,
    server: TcpStream,
    up: watch::Sender<bool>,
    trip: Arc<Vec<u8>>,
    tripped: Arc<AtomicBool>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mut down = up.subscribe();
    // The trip request went out on this connection: its answer is the next one back (HTTP/1.1, one at a time).
    let armed = AtomicBool::new(false);
    let requests = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
            if contains(&buf[..n], &trip)
                && tripped
                    .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                armed.store(true, Ordering::SeqCst);
            }
        }
    };
    let responses = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if armed.load(Ordering::SeqCst) {
                up.send_replace(false);
                return;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    // Whichever ends first, or the outage, closes both sides.
    tokio::select! {
        () = requests => {},
        () = responses => {},
        _ = down.wait_for(|up| !*up) => {},
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
