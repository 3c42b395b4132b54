//! A TCP server on a free loopback port, on a thread of its own so that it answers
//! while a test blocks on a CLI command: what the SMTP server and the HTTP stub
//! share. It stops when dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use tokio::net::TcpStream;

/// A running server; dropping it stops accepting and ends every connection.
pub(crate) struct LoopbackServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopbackServer {
    /// Listens on 127.0.0.1 and hands each connection to `connection`, on a thread
    /// named `NAME-PORT`.
    pub(crate) fn start<F, C>(name: &str, connection: F) -> LoopbackServer
    where
        F: Fn(TcpStream) -> C + Send + 'static,
        C: Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port is free");
        listener
            .set_nonblocking(true)
            .expect("a listener can be made non-blocking");
        let addr = listener
            .local_addr()
            .expect("a bound socket has an address");
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || serve(listener, connection, stopped))
            .expect("a thread starts");
        LoopbackServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The server thread: accepts until told to stop; dropping the runtime ends every
/// connection.
fn serve<F, C>(
    listener: std::net::TcpListener,
    connection: F,
    stopped: tokio::sync::oneshot::Receiver<()>,
) where
    F: Fn(TcpStream) -> C,
    C: Future<Output = ()> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts");
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).expect("the listener joins the runtime");
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    tokio::spawn(connection(stream));
                }
            }
        }
    });
}

/// Locks `m`, also after a panic on another thread: the test reports that panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
