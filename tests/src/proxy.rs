//! Faults of the stack's endpoint as one function sees it: a TCP proxy in front of the test stack that the
//! function's clients go through. The stack keeps running with its state, as AWS does; what the function meets is
//! what it would meet on AWS:
//!
//! - [`Fault::DownAfter`]: an outage. When the answer to the first request carrying a given text comes back, the
//!   proxy goes down (every open connection dropped, new ones closed at once) until [`Proxy::restore`]: that
//!   request was carried out, its answer is lost.
//! - [`Fault::Answer`]: S3 answering requests carrying a given text itself, a given number of times, with an
//!   error of its own ([`S3Error`]): `503 SlowDown`, or `404 NoSuchKey` for an object deleted since the listing.
//!   Those requests do not reach the stack.
//!
//! Requests are matched on their bytes as the client sent them (the request line of a path-style S3 request
//! names the bucket and key); a request is assumed to arrive in one read, as small ones do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};

/// An error S3 answers with.
#[derive(Debug, Clone, Copy)]
pub enum S3Error {
    /// `503 SlowDown`: "Please reduce your request rate" (throttling, retried by the SDK).
    SlowDown,
    /// `404 NoSuchKey`: the object is not there (any more).
    NoSuchKey,
}

impl S3Error {
    fn response(self) -> Vec<u8> {
        let (status, code, message) = match self {
            S3Error::SlowDown => ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
            S3Error::NoSuchKey => ("404 Not Found", "NoSuchKey", "The specified key does not exist."),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
             <RequestId>proxy-fault</RequestId></Error>"
        );
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nx-amz-request-id: \
             proxy-fault\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

/// A fault of the endpoint.
pub enum Fault {
    /// Down once the answer to the first request carrying this text comes back.
    DownAfter(String),
    /// The first `times` requests carrying `text` answered with `error`.
    Answer { text: String, times: usize, error: S3Error },
}

struct Rules {
    down_after: Option<Vec<u8>>,
    answers: Vec<(Vec<u8>, AtomicUsize, Vec<u8>)>,
}

/// The proxy: its URL, whether it is up, and what its faults did.
pub struct Proxy {
    pub url: String,
    up: watch::Sender<bool>,
    tripped: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
}

impl Proxy {
    /// A proxy to `upstream` (`http://host:port`) on a free local port, up, with `faults`.
    pub async fn start(upstream: &str, faults: Vec<Fault>) -> Self {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let mut rules = Rules {
            down_after: None,
            answers: Vec::new(),
        };
        for fault in faults {
            match fault {
                Fault::DownAfter(text) => rules.down_after = Some(text.into_bytes()),
                Fault::Answer { text, times, error } => {
                    rules
                        .answers
                        .push((text.into_bytes(), AtomicUsize::new(times), error.response()));
                }
            }
        }
        let rules = Arc::new(rules);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a local port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let (up, _) = watch::channel(true);
        let tripped = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let shared = Shared {
            up: up.clone(),
            rules,
            tripped: tripped.clone(),
            answered: answered.clone(),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !*shared.up.borrow() {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(forward(client, server, shared.clone()));
            }
        });
        Proxy {
            url,
            up,
            tripped,
            answered,
        }
    }

    /// Whether the proxy is up.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Whether the [`Fault::DownAfter`] request went out.
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    /// How many requests the proxy answered itself ([`Fault::Answer`]).
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Back up: new connections are forwarded again (the outage does not come twice).
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

#[derive(Clone)]
struct Shared {
    up: watch::Sender<bool>,
    rules: Arc<Rules>,
    tripped: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
}

async fn forward(client: TcpStream, server: TcpStream, shared: Shared) {
    let (mut client_read, client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let client_write: Arc<Mutex<OwnedWriteHalf>> = Arc::new(Mutex::new(client_write));
    let mut down = shared.up.subscribe();
    // The outage's request went out on this connection: its answer is the next one back (HTTP/1.1, one at a time).
    let armed = AtomicBool::new(false);
    let requests = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            let answer = shared.rules.answers.iter().find(|(text, left, _)| {
                contains(chunk, text)
                    && left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                        .is_ok()
            });
            if let Some((_, _, response)) = answer {
                shared.answered.fetch_add(1, Ordering::SeqCst);
                if client_write.lock().await.write_all(response).await.is_err() {
                    return;
                }
                continue;
            }
            if server_write.write_all(chunk).await.is_err() {
                return;
            }
            if let Some(trip) = &shared.rules.down_after
                && contains(chunk, trip)
                && shared
                    .tripped
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
                shared.up.send_replace(false);
                return;
            }
            if client_write.lock().await.write_all(&buf[..n]).await.is_err() {
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
