//! TLS for the receivers: a rustls server configuration that is rebuilt when its certificate,
//! key or client CA files change on disk (checked every [`RELOAD_POLL`]; a half-written pair
//! that does not load keeps the previous one), TLS 1.2 at least, optional client certificate
//! verification; and the accept loop both receivers share ([`TlsIncoming`]): TCP_NODELAY on
//! every socket, handshakes in their own tasks (a slow client never holds up the others), and a
//! plain-text client on the TLS port answered in its own protocol — HTTP/1.1 `400` with a
//! sentence, or an HTTP/2 `GOAWAY` with one for prior-knowledge gRPC — then closed, counted
//! ([`TlsCounters`]) and logged. Failed handshakes are counted too.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

use super::receivers::ServerTls;
use super::tls_files;

/// How often the certificate files are checked for changes.
pub const RELOAD_POLL: Duration = Duration::from_secs(1);
/// Longest a client may take to start and finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// What a plain-text client is told.
pub const PLAINTEXT_MESSAGE: &str =
    "faultline: this port speaks TLS; connect with https:// (or the exporter's TLS settings)";

type Stamp = Vec<Option<(SystemTime, u64)>>;

/// What the TLS accept loops count (shared by both receivers).
#[derive(Debug, Default)]
pub struct TlsCounters {
    /// Plain-text connections refused on a TLS port.
    pub plaintext_refused: AtomicU64,
    /// TLS handshakes that failed (missing or untrusted client certificate, timeout, …).
    pub handshake_failed: AtomicU64,
}

impl TlsCounters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// (plain-text refused, handshakes failed).
    pub fn get(&self) -> (u64, u64) {
        (
            self.plaintext_refused.load(Ordering::Relaxed),
            self.handshake_failed.load(Ordering::Relaxed),
        )
    }
}

/// A server configuration that follows its files.
pub struct ReloadingConfig {
    settings: ServerTls,
    alpn: Vec<Vec<u8>>,
    current: RwLock<Arc<rustls::ServerConfig>>,
    stamp: Mutex<Stamp>,
}

impl std::fmt::Debug for ReloadingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingConfig")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn files(s: &ServerTls) -> Vec<PathBuf> {
    let mut v = vec![s.cert_file.clone(), s.key_file.clone()];
    v.extend(s.client_ca_file.clone());
    v
}

fn stamp(s: &ServerTls) -> Stamp {
    files(s)
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// Builds a server configuration from the files; the message names the file and the problem.
pub fn build(s: &ServerTls, alpn: &[Vec<u8>]) -> Result<rustls::ServerConfig, String> {
    let provider = tls_files::provider();
    let chain = tls_files::certificates(&s.cert_file).map_err(|e| e.to_string())?;
    let key = tls_files::private_key(&s.key_file).map_err(|e| e.to_string())?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(tls_files::VERSIONS)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = match &s.client_ca_file {
        Some(ca) => {
            let roots = Arc::new(tls_files::root_store(ca).map_err(|e| e.to_string())?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder.with_single_cert(chain, key).map_err(|e| {
        format!(
            "{} and {} do not make a server certificate: {e}",
            s.cert_file.display(),
            s.key_file.display()
        )
    })?;
    cfg.alpn_protocols = alpn.to_vec();
    Ok(cfg)
}

impl ReloadingConfig {
    /// Loads the files now (an error names the file); `alpn` are the protocols offered.
    pub fn load(settings: &ServerTls, alpn: &[&[u8]]) -> Result<Arc<Self>, String> {
        let alpn: Vec<Vec<u8>> = alpn.iter().map(|p| p.to_vec()).collect();
        let st = stamp(settings);
        let cfg = build(settings, &alpn)?;
        Ok(Arc::new(ReloadingConfig {
            settings: settings.clone(),
            alpn,
            current: RwLock::new(Arc::new(cfg)),
            stamp: Mutex::new(st),
        }))
    }

    /// The configuration new connections get.
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        // A poisoned lock still holds a whole Arc: use it.
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Rebuilds the configuration if a file changed since the last successful load. `Ok(true)`:
    /// reloaded; `Err`: the files changed but do not load (the previous configuration stays, and
    /// the next call tries again).
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        let now = stamp(&self.settings);
        let mut last = match self.stamp.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if *last == now {
            return Ok(false);
        }
        let cfg = build(&self.settings, &self.alpn)?;
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(cfg),
            Err(p) => *p.into_inner() = Arc::new(cfg),
        }
        *last = now;
        Ok(true)
    }
}

/// A TLS connection of a receiver.
pub struct TlsConn(TlsStream<TcpStream>);

/// What tonic learns about a TLS connection.
#[derive(Clone, Debug)]
pub struct TlsConnectInfo {
    /// The client's address.
    pub remote: Option<SocketAddr>,
}

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = TlsConnectInfo;

    fn connect_info(&self) -> TlsConnectInfo {
        TlsConnectInfo {
            remote: self.0.get_ref().0.peer_addr().ok(),
        }
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Connections that finished their TLS handshake, for tonic (a `Stream`) and axum (a
/// `Listener`). The accept loop stops when this is dropped.
pub struct TlsIncoming {
    rx: mpsc::Receiver<(TlsConn, SocketAddr)>,
    local: SocketAddr,
}

impl TlsIncoming {
    /// Starts accepting on `listener`; `what` names the receiver in logs.
    pub fn start(
        listener: TcpListener,
        tls: Arc<ReloadingConfig>,
        counters: Arc<TlsCounters>,
        what: &'static str,
    ) -> std::io::Result<TlsIncoming> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(accept_loop(listener, tls, counters, what, tx));
        Ok(TlsIncoming { rx, local })
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Arc<ReloadingConfig>,
    counters: Arc<TlsCounters>,
    what: &'static str,
    tx: mpsc::Sender<(TlsConn, SocketAddr)>,
) {
    let mut poll = tokio::time::interval(RELOAD_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = tx.closed() => return,
            _ = poll.tick() => {
                match tls.reload_if_changed() {
                    Ok(true) => tracing::info!("{what}: TLS certificate reloaded"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!("{what}: TLS files changed but do not load (keeping the previous ones): {e}"),
                }
                continue;
            }
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!("{what}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (cfg, counters, tx) = (tls.config(), counters.clone(), tx.clone());
        tokio::spawn(async move {
            if let Some(conn) = handshake(tcp, peer, cfg, &counters, what).await {
                let _ = tx.send((conn, peer)).await;
            }
        });
    }
}

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

async fn handshake(
    tcp: TcpStream,
    peer: SocketAddr,
    cfg: Arc<rustls::ServerConfig>,
    counters: &TlsCounters,
    what: &str,
) -> Option<TlsConn> {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!("{what}: failed to set TCP_NODELAY: {e}");
    }
    let mut first = [0u8; 4];
    let n = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
        Ok(Ok(n)) => n,
        Ok(Err(_)) | Err(_) => return None,
    };
    if n == 0 {
        return None;
    }
    if first[0] != TLS_HANDSHAKE {
        TlsCounters::bump(&counters.plaintext_refused);
        tracing::warn!("{what}: refused a plain-text (non-TLS) connection from {peer}");
        refuse_plaintext(tcp, &first[..n]).await;
        return None;
    }
    let accept = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
        Ok(Ok(s)) => Some(TlsConn(s)),
        Ok(Err(e)) => {
            TlsCounters::bump(&counters.handshake_failed);
            tracing::warn!("{what}: TLS handshake with {peer} failed: {e}");
            None
        }
        Err(_) => {
            TlsCounters::bump(&counters.handshake_failed);
            tracing::warn!("{what}: TLS handshake with {peer} timed out");
            None
        }
    }
}

/// Answers a plain-text client in its protocol, then closes (after reading what it sent, so the
/// close is a FIN the client reads our answer before, not a reset).
async fn refuse_plaintext(mut tcp: TcpStream, first: &[u8]) {
    let answer: Vec<u8> = if first.starts_with(b"PRI ") {
        h2_goaway(PLAINTEXT_MESSAGE.as_bytes())
    } else if first.first().is_some_and(u8::is_ascii_uppercase) {
        let body = format!("{PLAINTEXT_MESSAGE}\n");
        format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    } else {
        Vec::new()
    };
    let work = async {
        // Read the request head first (HTTP/1 clients may wait to finish sending).
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf)).await;
        tcp.write_all(&answer).await?;
        tcp.shutdown().await?;
        let mut drained = 0usize;
        while drained < 1 << 20 {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), work).await;
}

/// An HTTP/2 server preface (empty SETTINGS) and a GOAWAY (PROTOCOL_ERROR) carrying `debug`.
fn h2_goaway(debug: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0x4, 0, 0, 0, 0, 0];
    let len = 8 + debug.len();
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, 0x7, 0]);
    out.extend_from_slice(&[0, 0, 0, 0]); // stream 0
    out.extend_from_slice(&[0, 0, 0, 0]); // last stream id
    out.extend_from_slice(&[0, 0, 0, 1]); // PROTOCOL_ERROR
    out.extend_from_slice(debug);
    out
}

impl tokio_stream::Stream for TlsIncoming {
    type Item = Result<TlsConn, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|o| o.map(|(c, _)| Ok(c)))
    }
}

impl axum::serve::Listener for TlsIncoming {
    type Io = TlsConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TlsConn, SocketAddr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop only ends when this is dropped; never here.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
