//! The HTTP endpoint of a service: `/healthz` (`/livez`), `/readyz` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use super::{Health, Metrics};

/// Serves `/healthz`, `/readyz` and `/metrics` on `0.0.0.0:port` from a background thread.
pub fn serve(
    port: u16,
    metrics: Metrics,
    health: Arc<Health>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let server = tiny_http::Server::http(("0.0.0.0", port)).map_err(std::io::Error::other)?;
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let (status, body, content_type) = match request.url() {
                    "/healthz" | "/livez" => {
                        if health.alive(Duration::from_secs(60)) {
                            (200, "ok\n".to_owned(), "text/plain")
                        } else {
                            (503, "batch loop stuck\n".to_owned(), "text/plain")
                        }
                    }
                    "/readyz" => match health.ready() {
                        (true, _) => (200, "ready\n".to_owned(), "text/plain"),
                        (false, why) => (503, format!("not ready: {why}\n"), "text/plain"),
                    },
                    "/metrics" => {
                        metrics.set_ready(health.ready().0);
                        (200, metrics.render(), "text/plain; version=0.0.4")
                    }
                    _ => (404, "not found\n".to_owned(), "text/plain"),
                };
                let mut response = tiny_http::Response::from_string(body).with_status_code(status);
                // A static, valid header: `from_bytes` cannot fail on it.
                if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", content_type) {
                    response = response.with_header(header);
                }
                let _ = request.respond(response);
            }
        })
}
