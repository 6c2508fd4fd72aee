//! Async work a test runs beside itself: a future on its own thread and on the runtime the
//! exporters use, stopped and joined when the guard is dropped (so also when the test fails).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::{Exporter, Server, ServerConfig};

/// Resolves when the [`Background`] guard is dropped: the task's cue to finish.
pub type StopSignal = oneshot::Receiver<()>;

/// A future running on its own thread; dropping this signals it to stop and waits for it.
pub struct Background {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Runs `task(stop)` to completion on a new thread; the task should return soon after
    /// `stop` resolves.
    pub fn spawn<F, Fut>(task: F) -> Background
    where
        F: FnOnce(StopSignal) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = crate::run::build_runtime().expect("runtime");
            runtime.block_on(task(stop_rx));
        });
        Background {
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `exporter` served with `config` (listen on `127.0.0.1:0` for a free port) until the guard
/// is dropped; the address it listens on.
pub fn serve(config: ServerConfig, exporter: Arc<Exporter>) -> (SocketAddr, Background) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server = Background::spawn(move |stop| async move {
        let server = Server::bind(config, exporter).await.expect("bind");
        addr_tx.send(server.local_addrs()[0]).expect("address");
        server
            .serve_until(async {
                let _ = stop.await;
            })
            .await;
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server up");
    (addr, server)
}
