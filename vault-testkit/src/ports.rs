//! Free ports for the processes a test starts, below the ephemeral range (32768+): a port the
//! kernel handed out with `bind(:0)` can be reused at once as the local port of some client
//! connection (a Kafka or PostgreSQL socket) before the service binds it. Each test process
//! starts from its own offset, so parallel tests rarely try the same ports.

use std::net::TcpListener;

/// A port nothing listens on right now, below the ephemeral range (32768+): a port the kernel
/// handed out with `bind(:0)` can be reused at once as the local port of some client connection
/// (a Kafka or PostgreSQL socket) before the service binds it. Each test process starts from its
/// own offset, so parallel tests rarely try the same ports.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 500) as u16 * 20;
    for _ in 0..10_000 {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % 10_000;
        let port = 20_000 + (base - 20_000 + offset) % 10_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("0.0.0.0", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port in 20000..30000")
}

/// A block of `len` consecutive free ports below the ephemeral range, from an offset of this
/// process (tests of other processes rarely try the same block).
pub fn free_block(len: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let slots = 2_000 / 10;
    let first = (std::process::id() % u32::from(slots)) as u16;
    for _ in 0..slots {
        let slot = (first + NEXT.fetch_add(1, Ordering::Relaxed)) % slots;
        let base = 30_000 + slot * 10;
        if (base..base + len).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return base;
        }
    }
    panic!("no block of {len} free ports in 30000..32000")
}
