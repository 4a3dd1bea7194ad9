//! The one place that turns SIGINT, SIGTERM and SIGHUP into a shutdown request, for every
//! long-running command (`watch`, `review`, `demo`, `record`, `lint --live`).
//!
//! Handlers are installed when [`Shutdown::install`] is called — before a command binds its
//! sockets — so a signal that arrives between "listening" and the first wait is not lost (tokio
//! registers a handler only when `signal()` is called, not when its future is first polled).
//! Commands that only read files (`report`, `lint FILE`, `rules`) install nothing and keep the
//! default: a signal ends them at once.

use tokio::sync::watch;

/// A shutdown request, shared by everything that must stop on it (clone it freely).
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Installs the SIGINT, SIGTERM and SIGHUP handlers (Ctrl-C elsewhere) and returns the
    /// request they set. Needs a running tokio runtime.
    pub fn install() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut sigs: Vec<_> = [
                SignalKind::interrupt(),
                SignalKind::terminate(),
                SignalKind::hangup(),
            ]
            .into_iter()
            .filter_map(|k| match signal(k) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("cannot install a handler for signal {k:?}: {e}");
                    None
                }
            })
            .collect();
            tokio::spawn(async move {
                if sigs.is_empty() {
                    return std::future::pending().await;
                }
                // Whichever arrives first: poll every handler, resolve on the first ready.
                std::future::poll_fn(|cx| {
                    if sigs.iter_mut().any(|s| s.poll_recv(cx).is_ready()) {
                        std::task::Poll::Ready(())
                    } else {
                        std::task::Poll::Pending
                    }
                })
                .await;
                let _ = tx.send(true);
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
            }
        });
        Shutdown(rx)
    }

    /// Whether shutdown has been requested.
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when shutdown is requested (at once if it already was).
    pub async fn wait(&mut self) {
        if self.0.wait_for(|stop| *stop).await.is_err() {
            // The handler task is gone (its runtime shut down): no signal will come.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_after_install_is_seen_by_every_waiter() {
        let mut a = Shutdown::install();
        let mut b = a.clone();
        assert!(!a.requested());
        // SAFETY: raise(3) sends a signal to this process, whose handler was just installed.
        let rc = unsafe { libc::raise(libc::SIGHUP) };
        assert_eq!(rc, 0);
        tokio::time::timeout(std::time::Duration::from_secs(5), a.wait())
            .await
            .expect("SIGHUP requests shutdown");
        tokio::time::timeout(std::time::Duration::from_secs(5), b.wait())
            .await
            .expect("every clone sees it");
        assert!(a.requested());
    }
}
