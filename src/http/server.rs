//! Our own accept loop around hyper, in place of `axum::serve`, so that the limits of the
//! `server:` config section and TLS are ours to enforce:
//!
//! - `max_connections`: a connection holds a permit for its whole life; with none left the
//!   loop stops accepting, and new connections wait in the kernel's backlog.
//! - `read_header_timeout`: from accept (TLS handshake included) to the end of the first
//!   request's header, and from the first byte to the end of the header of every later request
//!   on the connection. A slowloris connection is closed when it runs out; nothing is answered.
//! - `idle_timeout`: a keep-alive connection with no request in flight and no byte read for this
//!   long is closed. Like Go's `net/http` (and unlike hyper's own header timer, which also runs
//!   while idle), waiting for the next request is governed by this, not by the header timeout,
//!   so Prometheus can keep its connection across scrapes.
//! - request head size: at most [`MAX_HEAD_BYTES`]; a larger head is answered
//!   `431 Request Header Fields Too Large` by hyper and the connection closed.
//! - shutdown: when the watch turns `true`, the listener is dropped, idle connections are
//!   closed, requests in flight finish; [`serve`] returns when the last connection has ended.
//!   The caller bounds how long that may take.
//!
//! Only HTTP/1.1 is served (`axum`'s `http1` feature, and the ALPN we announce).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service;

use super::basic_auth;
use super::web_config::WebConfig;
use super::web_guard;
use crate::config::ServerConfig;

/// The largest request head (request line and headers) we read.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// After an `accept` error (out of file descriptors, say), wait this long before the next try
/// instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `shutdown` turns `true` and the connections have drained.
///
/// With a `web` config, connections are TLS when it has `tls_server_config`, every route but
/// `/healthz` (and `auth_excluded_paths`) needs basic auth when it has `basic_auth_users`, every
/// route but `/healthz` is subject to its `rate_limit`, and every answer carries its
/// `http_server_config.headers`. Accept, handshake and
/// connection errors are logged, never fatal. The future owns what it needs, so it can be
/// spawned.
pub fn serve(
    listener: TcpListener,
    router: Router,
    limits: &ServerConfig,
    web: Option<Arc<WebConfig>>,
    shutdown: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let router = match &web {
        // The guard is the outer layer: the rate limit comes before basic auth's bcrypt, and
        // the headers go on every answer, 401 included.
        Some(web) => web_guard::apply(basic_auth::protect(router, web.clone()), web.clone()),
        None => router,
    };
    let tls = web.filter(|web| web.tls_enabled());
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let limits = Limits {
        read_header_timeout: limits.read_header_timeout,
        idle_timeout: limits.idle_timeout,
    };
    accept_loop(listener, router, limits, tls, permits, shutdown)
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<WebConfig>>,
    permits: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::debug!(
                    "connection limit reached (server.max_connections); new connections wait in the backlog"
                );
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = stopping(&mut shutdown) => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = stopping(&mut shutdown) => break,
        };
        tracing::trace!(%peer, "connection accepted");
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            limits,
            shutdown: shutdown.clone(),
            state: Arc::new(ConnState::new()),
        };
        let tls = tls.clone();
        connections.spawn(async move {
            connection.run(stream, tls).await;
            drop(permit);
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Resolves once the shutdown watch is `true` (or its sender is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // Drop the `Ref` here: it must not live across the caller's awaits.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    read_header_timeout: Duration,
    idle_timeout: Duration,
}

/// What the watchdog of one connection needs to know, updated by its IO and its service.
struct ConnState {
    inner: Mutex<Activity>,
    /// Wakes the watchdog when a deadline may have moved earlier.
    changed: Notify,
}

struct Activity {
    requests_in_flight: usize,
    /// When the head now being read started (accept, for the first request).
    head_started: Option<Instant>,
    /// The last byte read or written, or the last response handed to hyper.
    last_activity: Instant,
}

impl ConnState {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            inner: Mutex::new(Activity {
                requests_in_flight: 0,
                head_started: Some(now),
                last_activity: now,
            }),
            changed: Notify::new(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Activity) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of plain numbers.
        let mut activity = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut activity)
    }

    fn on_read(&self) {
        let started = self.with(|a| {
            a.last_activity = Instant::now();
            let starts_head = a.requests_in_flight == 0 && a.head_started.is_none();
            if starts_head {
                a.head_started = Some(a.last_activity);
            }
            starts_head
        });
        if started {
            self.changed.notify_one();
        }
    }

    fn on_write(&self) {
        self.with(|a| a.last_activity = Instant::now());
    }

    fn request_started(self: &Arc<Self>) -> ActiveRequest {
        self.with(|a| {
            a.requests_in_flight += 1;
            a.head_started = None;
        });
        self.changed.notify_one();
        ActiveRequest(self.clone())
    }

    /// When the connection is to be closed if nothing happens; `None` while a request runs.
    fn deadline(&self, limits: Limits) -> Option<Instant> {
        self.with(|a| {
            if a.requests_in_flight > 0 {
                None
            } else if let Some(started) = a.head_started {
                Some(started + limits.read_header_timeout)
            } else {
                Some(a.last_activity + limits.idle_timeout)
            }
        })
    }
}

/// Marks a request as in flight until dropped (when its response is ready, or it is aborted).
struct ActiveRequest(Arc<ConnState>);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.with(|a| {
            a.requests_in_flight = a.requests_in_flight.saturating_sub(1);
            a.last_activity = Instant::now();
        });
        self.0.changed.notify_one();
    }
}

/// A connection's byte stream, reporting reads and writes to its [`ConnState`].
struct Tracked<S> {
    inner: S,
    state: Arc<ConnState>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.on_read();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.state.on_write();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.state.on_write();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One accepted connection: optional TLS handshake, then HTTP/1.1 under a watchdog.
struct Connection {
    router: Router,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    state: Arc<ConnState>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, tls: Option<Arc<WebConfig>>) {
        let Some(web) = tls else {
            return self.http(stream).await;
        };
        let Some(config) = web.tls() else {
            return;
        };
        let handshake = tokio_rustls::TlsAcceptor::from(config).accept(stream);
        // The handshake is part of the first request's header time.
        let deadline = Instant::now() + self.limits.read_header_timeout;
        let stream = tokio::select! {
            result = tokio::time::timeout_at(deadline, handshake) => match result {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    tracing::debug!(error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("TLS handshake timed out (server.read_header_timeout)");
                    return;
                }
            },
            _ = stopping(&mut self.shutdown) => return,
        };
        self.http(stream).await
    }

    async fn http<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            router,
            limits,
            mut shutdown,
            state,
        } = self;
        let service_state = state.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let in_flight = service_state.request_started();
            let mut router = router.clone();
            async move {
                let response = router.call(request.map(axum::body::Body::new)).await;
                drop(in_flight);
                response
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            // Our watchdog enforces the header timeout; hyper's would also cut idle keep-alive
            // connections after read_header_timeout.
            .header_read_timeout(None)
            // max_header_size refuses a complete head that is too large; max_buf_size stops
            // buffering an incomplete one.
            .max_header_size(MAX_HEAD_BYTES)
            .max_buf_size(MAX_HEAD_BYTES)
            .keep_alive(true);
        let io = TokioIo::new(Tracked {
            inner: stream,
            state: state.clone(),
        });
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let mut draining = false;
        loop {
            let deadline = state.deadline(limits);
            let expired = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                    return;
                }
                _ = expired => {
                    // Re-check: a read or a request may have moved the deadline meanwhile.
                    if state.deadline(limits).is_some_and(|d| d <= Instant::now()) {
                        tracing::debug!("closing a connection: server.read_header_timeout or server.idle_timeout");
                        return;
                    }
                }
                _ = state.changed.notified() => {}
                _ = stopping(&mut shutdown), if !draining => {
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
