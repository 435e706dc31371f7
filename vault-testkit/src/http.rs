//! An HTTP probe of a service (`/healthz`, `/readyz`, `/metrics`) and the metrics scrape, read
//! with the project's one Prometheus parser (`vault_services::exposition`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use vault_services::exposition;

/// `GET path` on `127.0.0.1:port`: status code and body.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(3))))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send GET {path}: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("read response to GET {path}: {e}"))?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP header in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// The sum of metric `name` over its label values (the project's parser,
/// `vault_services::exposition`), `None` if the text has no such sample.
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    exposition::sum(&exposition::parse(text), name)
}

/// The samples of metric `name`, by their labels.
pub fn metric_samples(text: &str, name: &str) -> Vec<exposition::Sample> {
    exposition::parse(text)
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}
