//! A TCP relay between a gateway and its PostgreSQL server that a test can cut
//! and restore, to make the store unreachable mid-test as a network failure would.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Relay {
    addr: SocketAddr,
    up: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Relay {
    /// Listens on a free loopback port and forwards every connection to `target`.
    /// The relay runs on a runtime of its own, so a test that blocks (waiting for a
    /// gateway to start) does not stall it.
    pub fn start(target: SocketAddr) -> Relay {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime starts");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        let addr = listener.local_addr().expect("a bound address");
        let (up, watch) = watch::channel(true);
        runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).expect("a tokio listener");
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let mut state = watch.clone();
                if !*state.borrow() {
                    // Cut: accept and drop at once, like a broken network path.
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    tokio::select! {
                        _ = tokio::io::copy(&mut cr, &mut sw) => {}
                        _ = tokio::io::copy(&mut sr, &mut cw) => {}
                        // Cutting ends the connections already open too.
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Relay {
            addr,
            up,
            runtime: Some(runtime),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Breaks every connection and refuses new ones.
    pub fn cut(&self) {
        let _ = self.up.send(false);
    }

    pub fn restore(&self) {
        let _ = self.up.send(true);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // A runtime cannot be dropped inside another runtime's context.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
