//! A tiny TCP forwarding proxy (std only) to stage an outage of a server: put it between the
//! services and PostgreSQL or Redis, then [`Proxy::cut`] it (no listener any more, so new
//! connections are refused, and every forwarded connection is shut down) and
//! [`Proxy::restore`] it (listening again on the same port).

use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The live connections: id → (client side, server side), for shutting them down.
type Connections = Arc<Mutex<HashMap<u64, (TcpStream, TcpStream)>>>;

/// A forwarding proxy on `127.0.0.1:port` to `target`; cut when dropped.
pub struct Proxy {
    /// The port it listens on (the same after every restore).
    pub port: u16,
    target: SocketAddr,
    connections: Connections,
    next_id: Arc<AtomicU64>,
    /// The accept loop while open: its stop flag and thread.
    accepting: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("port", &self.port)
            .field("target", &self.target)
            .finish()
    }
}

impl Proxy {
    /// Starts forwarding a fresh local port to `target` (`host:port`).
    pub fn start(target: &str) -> Self {
        let target = std::net::ToSocketAddrs::to_socket_addrs(target)
            .unwrap_or_else(|e| panic!("resolve {target}: {e}"))
            .next()
            .unwrap_or_else(|| panic!("{target} resolves to nothing"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let mut proxy = Proxy {
            port,
            target,
            connections: Arc::default(),
            next_id: Arc::default(),
            accepting: None,
        };
        proxy.accept_on(listener);
        proxy
    }

    /// Whether it accepts connections now.
    pub fn is_open(&self) -> bool {
        self.accepting.is_some()
    }

    /// The outage: stops listening (new connections are refused) and shuts down every
    /// forwarded connection. Idempotent.
    pub fn cut(&mut self) {
        if let Some((stop, thread)) = self.accepting.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = thread.join(); // drops the listener
        }
        let live: Vec<(u64, (TcpStream, TcpStream))> = self
            .connections
            .lock()
            .expect("connections lock")
            .drain()
            .collect();
        for (_, (client, server)) in live {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }

    /// Listens again on the same port (retries the bind for up to 5 s).
    pub fn restore(&mut self) {
        if self.is_open() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("proxy: rebind 127.0.0.1:{}: {e}; retrying", self.port);
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("proxy: rebind 127.0.0.1:{}: {e}", self.port),
            }
        };
        self.accept_on(listener);
    }

    fn accept_on(&mut self, listener: TcpListener) {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            let target = self.target;
            let connections = Arc::clone(&self.connections);
            let next_id = Arc::clone(&self.next_id);
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let id = next_id.fetch_add(1, Ordering::Relaxed);
                            if let Err(e) = forward(id, client, target, &connections) {
                                eprintln!("proxy: forward to {target}: {e}");
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(e) => {
                            eprintln!("proxy: accept: {e}");
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
            })
        };
        self.accepting = Some((stop, thread));
    }
}

/// Connects `client` to `target` and copies both ways on two threads; registers the pair.
fn forward(
    id: u64,
    client: TcpStream,
    target: SocketAddr,
    connections: &Connections,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    connections
        .lock()
        .expect("connections lock")
        .insert(id, (client.try_clone()?, server.try_clone()?));
    let pump = |mut from: TcpStream, mut to: TcpStream, connections: Connections| {
        move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
            let _ = from.shutdown(Shutdown::Read);
            // The pair is done once either direction ends: forget it (the other pump ends too).
            connections.lock().expect("connections lock").remove(&id);
        }
    };
    std::thread::spawn(pump(
        client.try_clone()?,
        server.try_clone()?,
        Arc::clone(connections),
    ));
    std::thread::spawn(pump(server, client, Arc::clone(connections)));
    Ok(())
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}
