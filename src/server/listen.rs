//! The accept loop: HTTP/1.1 connections served by hyper with the bounds `axum::serve` lacks. A
//! connection must send each request's headers within [`HEADER_READ_TIMEOUT`] (which also ends
//! idle keep-alive connections), at most [`max_connections`] are open at once (the rest wait in
//! the kernel's backlog instead of exhausting file descriptors), and a shutdown lets in-flight
//! requests finish for at most [`SHUTDOWN_GRACE`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Time a client has to send a request's headers, and to start the next request on a
/// keep-alive connection: a half-sent header or an idle socket is closed after it.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Longest wait for in-flight requests at shutdown (a request's own limit is 120 s; a shutdown
/// must end sooner, and whatever it cuts was not acknowledged).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// File descriptors kept for everything but client sockets (index files, the store's pool).
const RESERVED_FDS: u64 = 256;

/// Most connections open at once: 4096, or fewer when the file-descriptor limit (raised to its
/// hard maximum first) leaves less beside the 256 descriptors kept for everything else.
pub fn max_connections() -> usize {
    let limit = raise_fd_limit();
    limit.saturating_sub(RESERVED_FDS).clamp(16, 4096) as usize
}

/// Raises the soft open-files limit to the hard one and returns it (1024 when unknown).
fn raise_fd_limit() -> u64 {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return 1024;
            }
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim = raised;
                }
            }
        }
        lim.rlim_cur
    }
    #[cfg(not(unix))]
    1024
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(max_connections()));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and the like: wait rather than spin; the backlog keeps clients.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection closed: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("shutdown: requests still running after {SHUTDOWN_GRACE:?} were cut");
        }
    }
    Ok(())
}
