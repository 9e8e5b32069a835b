//! The accept loop: hyper's HTTP/1 connections with the limits
//! `axum::serve` does not have. A connection may wait at most
//! `limits.idle_timeout` for its next request and, once a request has
//! begun, `limits.header_read_timeout` for the end of its headers; at
//! most `limits.max_connections` are open at once (further ones wait in the
//! listen backlog). Stopping lets requests in progress finish.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::metrics::Metrics;
use crate::throttle::Throttle;

/// The connection limits, from `[limits]`.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// How long the accept loop pauses after a failing `accept` (out of file
/// descriptors, say) before trying again, rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts and serves until `stop` completes, then waits for the open
/// connections to finish what they are doing.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    connections: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = http1::Builder::new();
    // Our watchdog enforces both timeouts; hyper's header timer, which runs
    // from the moment a connection waits for a request, is the backstop.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout + limits.idle_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let cap_reached = Throttle::new(Duration::from_secs(60));
    let accept_failing = Throttle::new(Duration::from_secs(10));
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut stop => break,
            permit = connection_slot(&connections, &cap_reached, &metrics) => match permit {
                Some(permit) => permit,
                None => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    accept_failed(&err, &accept_failing).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        // The router as hyper's service, telling the watchdog when each
        // request starts (its headers are read) and ends (it is answered).
        let tracker = Arc::clone(&activity);
        let service = TowerToHyperService::new(ServiceExt::<http::Request<Incoming>>::map_future(
            router.clone(),
            move |answer| {
                let guard = tracker.request_started();
                async move {
                    let answer: Result<axum::response::Response, Infallible> = answer.await;
                    drop(guard);
                    answer
                }
            },
        ));
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: Arc::clone(&activity),
        });
        let connection = graceful.watch(builder.serve_connection(io, service));
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                result = connection => {
                    if let Err(err) = result {
                        tracing::debug!(cause = %err, "connection ended with an error");
                    }
                }
                reason = activity.expired(limits) => {
                    tracing::debug!(reason, "connection closed");
                    metrics.connection_closed(reason);
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A permit for one more connection; at the cap, says so (once a minute)
/// and waits for a connection to close, leaving new ones in the backlog.
async fn connection_slot(
    connections: &Arc<Semaphore>,
    cap_reached: &Throttle,
    metrics: &Metrics,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = Arc::clone(connections).try_acquire_owned() {
        return Some(permit);
    }
    metrics.connection_cap_reached();
    if let Some(held) = cap_reached.ready() {
        tracing::warn!(
            times_since_last_warning = held,
            "limits.max_connections reached: new connections wait until one closes"
        );
    }
    Arc::clone(connections).acquire_owned().await.ok()
}

/// A failed `accept`: a connection the client abandoned is not worth a
/// word; anything else (EMFILE, ENOBUFS, …) is logged, at most every few
/// seconds, and the loop pauses before accepting again.
async fn accept_failed(err: &io::Error, throttle: &Throttle) {
    use io::ErrorKind as K;
    if matches!(
        err.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::Interrupted
    ) {
        tracing::debug!(cause = %err, "accept: connection gone");
        return;
    }
    if let Some(held) = throttle.ready() {
        tracing::warn!(cause = %err, times_since_last_warning = held, "accept failed; pausing");
    }
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// What a connection is doing, for its watchdog.
struct Activity {
    opened: Instant,
    /// Requests whose answer is being produced.
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` of the last byte read or written, or of
    /// the end of the last request.
    last: AtomicU64,
    /// Milliseconds after `opened`, plus one, of the first byte of a
    /// request whose headers are not complete yet; 0 when none.
    headers_since: AtomicU64,
    changed: Notify,
}

struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.touch();
        activity.in_flight.fetch_sub(1, Ordering::SeqCst);
        // No wake-up: the watchdog looks again on its own (see `expired`).
    }
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last: AtomicU64::new(0),
            headers_since: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last.store(self.elapsed_ms(), Ordering::SeqCst);
    }

    fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.headers_since.store(0, Ordering::SeqCst);
        RequestGuard(Arc::clone(self))
    }

    fn read(&self) {
        self.touch();
        if self.in_flight.load(Ordering::SeqCst) == 0
            && self.headers_since.load(Ordering::SeqCst) == 0
        {
            self.headers_since
                .store(self.elapsed_ms().saturating_add(1), Ordering::SeqCst);
            self.changed.notify_one();
        }
    }

    /// When the connection should be closed if nothing changes: never
    /// while a request is in progress (`limits.request_timeout` bounds
    /// those).
    fn deadline(&self, limits: ConnectionLimits) -> Option<(Instant, &'static str)> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let at = |ms: u64| self.opened + Duration::from_millis(ms);
        match self.headers_since.load(Ordering::SeqCst) {
            0 => Some((
                at(self.last.load(Ordering::SeqCst)) + limits.idle_timeout,
                "idle",
            )),
            since => Some((at(since - 1) + limits.header_read_timeout, "header_timeout")),
        }
    }

    /// Completes, with the reason, once the connection is idle or reading
    /// headers for longer than allowed. Woken only when a request's first
    /// bytes arrive (its header deadline starts); the end of a request
    /// moves the idle deadline later, which the next look finds.
    async fn expired(&self, limits: ConnectionLimits) -> &'static str {
        loop {
            let changed = self.changed.notified();
            match self.deadline(limits) {
                // A request in progress: look again later rather than be
                // woken at its start and end (two task wake-ups a request
                // on every busy keep-alive connection).
                None => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep(limits.header_read_timeout) => {}
                    }
                }
                Some((at, reason)) if at <= Instant::now() => return reason,
                Some((at, _)) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(at.into()) => {}
                    }
                }
            }
        }
    }
}

/// The socket, noting its reads and writes in `activity`.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn wrote(&self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        self.wrote(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `configured`, lowered to leave file descriptors for everything else
/// (the store, Jira, logs) when the process may open fewer; read from
/// `/proc/self/limits` where there is one.
pub fn connection_cap(configured: usize) -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| open_files_limit(&text));
    match soft_limit {
        Some(limit) if limit.saturating_sub(RESERVED_FDS) < configured => {
            let cap = limit.saturating_sub(RESERVED_FDS).max(1);
            tracing::warn!(
                configured,
                cap,
                open_files_limit = limit,
                "limits.max_connections is above the process's open-file limit; using {cap}"
            );
            cap
        }
        _ => configured,
    }
}

/// File descriptors kept for what is not a client connection.
const RESERVED_FDS: usize = 128;

/// The soft "Max open files" of `/proc/self/limits`.
fn open_files_limit(text: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_open_files_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\n\
                    Max processes             63459                63459                processes\n\
                    Max open files            1024                 524288               files\n";
        assert_eq!(open_files_limit(text), Some(1024));
        assert_eq!(
            open_files_limit("Max open files unlimited unlimited files"),
            None
        );
    }
}
