//! librdkafka's log lines and errors as tracing events. rdkafka's default context forwards them
//! as free text through the `log` crate, and a failed broker connection twice: a `FAIL` log line
//! and a "Global error" with the same text. Here a failed connection is one structured line,
//! `broker connection failed`, with the broker's `server` (host:port) and the `reason`; the
//! error report of the same event is not logged again. Other lines keep librdkafka's text, with
//! the facility as a field, under the target `librdkafka`.
//!
//! rdkafka queues a client's log lines and errors on its main queue: they are logged when the
//! client is polled (the consumer and the producer, all the time), not for the short-lived
//! clients that only make a request (admin, metadata, offsets), whose failure is the request's
//! error.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// A client context that only logs (admin clients, metadata and offset reads): see the module.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientLogs {
    /// Which of the service's clients this is, for the log lines.
    pub(crate) client: &'static str,
}

impl ClientContext for ClientLogs {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log(self.client, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        error_report(self.client, &error, reason);
    }
}

impl ConsumerContext for ClientLogs {}

/// A broker connection that failed, as librdkafka words it in a `FAIL` line or an error
/// report: `[thrd:NAME]: NAME: REASON` (the thread name only in log lines), where NAME is the
/// broker's, `host:port/node` with a `protocol://` in front for SSL and SASL (the group
/// coordinator's is `GroupCoordinator`, followed by the broker's own name).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BrokerFailure<'a> {
    /// `host:port` (`[v6]:port`).
    pub(crate) server: &'a str,
    /// The node id, or `bootstrap` for a broker of `bootstrap.servers`.
    pub(crate) node: &'a str,
    /// What went wrong, in librdkafka's words.
    pub(crate) reason: &'a str,
}

impl<'a> BrokerFailure<'a> {
    /// The failure `text` reports, or `None` when it does not have that shape.
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        let mut rest = text.trim();
        if let Some(thread) = rest.strip_prefix("[thrd:") {
            rest = thread.split_once("]: ")?.1;
        }
        // At most one logical broker's name (GroupCoordinator) before the broker's own.
        for _ in 0..2 {
            let (name, reason) = rest.split_once(": ")?;
            match broker_address(name) {
                Some((server, node)) => {
                    let reason = reason.trim();
                    return (!reason.is_empty()).then_some(BrokerFailure {
                        server,
                        node,
                        reason,
                    });
                }
                None if name.chars().all(|c| c.is_ascii_alphanumeric()) => rest = reason,
                None => return None,
            }
        }
        None
    }
}

/// Whether a failed connection's reason is the broker refusing us rather than being away: a
/// TLS handshake or certificate failure, a SASL authentication failure (librdkafka's words:
/// `SSL handshake failed: …`, `SASL authentication error: …`, `… certificate verify failed`).
fn refuses_us(reason: &str) -> bool {
    ["SSL", "SASL", "uthentication", "certificate"]
        .iter()
        .any(|word| reason.contains(word))
}

/// `[protocol://]host:port/node` -> (`host:port`, `node`).
fn broker_address(name: &str) -> Option<(&str, &str)> {
    let name = name.split_once("://").map_or(name, |(_, address)| address);
    let (server, node) = name.rsplit_once('/')?;
    let (host, port) = server.rsplit_once(':')?;
    let plain = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    (plain(host) && plain(node) && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .then_some((server, node))
}

/// librdkafka's log line `fac`/`message` at `level`, from the client `client`.
pub(crate) fn log(client: &'static str, level: RDKafkaLogLevel, fac: &str, message: &str) {
    use RDKafkaLogLevel::*;
    if fac == "FAIL" {
        if let Some(BrokerFailure {
            server,
            node,
            reason,
        }) = BrokerFailure::parse(message)
        {
            // A failed attempt is retried with backoff, as the warehouse's are: a warning. A
            // broker that refuses us (TLS, SASL: the configuration, which no retry mends) is
            // an error, for the alerts on errors.
            match level {
                Emerg | Alert | Critical | Error | Warning if refuses_us(reason) => {
                    tracing::error!(client, server, node, reason, "broker connection failed")
                }
                Emerg | Alert | Critical | Error | Warning => {
                    tracing::warn!(client, server, node, reason, "broker connection failed")
                }
                Notice | Info => {
                    tracing::info!(client, server, node, reason, "broker connection failed")
                }
                Debug => {
                    tracing::debug!(client, server, node, reason, "broker connection failed")
                }
            }
            return;
        }
    }
    match level {
        Emerg | Alert | Critical | Error => {
            tracing::error!(target: "librdkafka", client, facility = fac, "{message}")
        }
        Warning => tracing::warn!(target: "librdkafka", client, facility = fac, "{message}"),
        Notice | Info => tracing::info!(target: "librdkafka", client, facility = fac, "{message}"),
        Debug => tracing::debug!(target: "librdkafka", client, facility = fac, "{message}"),
    }
}

/// An error librdkafka reports to the client (served when the client is polled). A broker's
/// failed connection was logged already, as its `FAIL` line (librdkafka reports only what it
/// logged at that level), and "all brokers are down" follows each failure of the last broker
/// (every ~50 ms while a consumer polls): both go to debug only.
pub(crate) fn error_report(client: &'static str, error: &KafkaError, reason: &str) {
    use RDKafkaErrorCode::*;
    let code = error.rdkafka_error_code();
    let logged = matches!(
        code,
        Some(BrokerTransportFailure | Resolve | SSL | Authentication)
    ) && BrokerFailure::parse(reason).is_some();
    if logged || code == Some(AllBrokersDown) {
        tracing::debug!(target: "librdkafka", client, error = %error, reason, "broker connection failed (logged as such)");
    } else {
        tracing::error!(target: "librdkafka", client, error = %error, reason, "Kafka client error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<(&str, &str, &str)> {
        BrokerFailure::parse(text).map(|f| (f.server, f.node, f.reason))
    }

    #[test]
    fn a_refused_connection_names_the_broker_and_the_reason() {
        let reason =
            "Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)";
        let line = format!("[thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: {reason}");
        assert_eq!(parsed(&line), Some(("127.0.0.1:1", "bootstrap", reason)));
        // The error report of the same event has no thread name.
        let report = format!("127.0.0.1:1/bootstrap: {reason}");
        assert_eq!(parsed(&report), Some(("127.0.0.1:1", "bootstrap", reason)));
    }

    #[test]
    fn tls_ipv6_and_the_group_coordinator() {
        assert_eq!(
            parsed("[thrd:sasl_ssl://kafka-1.example:9093/2]: sasl_ssl://kafka-1.example:9093/2: SSL handshake failed"),
            Some(("kafka-1.example:9093", "2", "SSL handshake failed"))
        );
        assert_eq!(
            parsed("[thrd:[::1]:9092/bootstrap]: [::1]:9092/bootstrap: Disconnected (after 5ms in state UP)"),
            Some(("[::1]:9092", "bootstrap", "Disconnected (after 5ms in state UP)"))
        );
        assert_eq!(
            parsed("[thrd:GroupCoordinator]: GroupCoordinator: 10.0.0.7:9092/1: Connect to ipv4#10.0.0.7:9092 failed: Connection refused"),
            Some(("10.0.0.7:9092", "1", "Connect to ipv4#10.0.0.7:9092 failed: Connection refused"))
        );
    }

    #[test]
    fn a_broker_refusing_us_is_told_from_one_that_is_away() {
        for reason in [
            "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed",
            "SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
        ] {
            assert!(refuses_us(reason), "{reason}");
        }
        for reason in [
            "Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)",
            "Disconnected (after 5ms in state UP)",
            "Receive failed: Connection reset by peer",
        ] {
            assert!(!refuses_us(reason), "{reason}");
        }
    }

    #[test]
    fn other_text_is_not_taken_for_a_broker() {
        for text in [
            "",
            "[thrd:",
            "[thrd:main]: ",
            "1/1 brokers are down",
            "[thrd:main]: Group \"g\" heartbeat error: Broker: Unknown member",
            "[thrd:app]: Configuration property x is deprecated: use y",
            "GroupCoordinator: GroupCoordinator: x",
            "host:port/1: failed",
            "host:12x/1: failed",
            ":9092/1: failed",
            "a b:9092/1: failed",
            "h:9092/: failed",
            "h:9092/1:",
            "h:9092/1: ",
        ] {
            assert_eq!(BrokerFailure::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn odd_text_never_panics() {
        let texts = [
            "[thrd:é:9/ü]: é:9/ü: ü",
            "[thrd:[::1]:9092/1]: [::1]:9092/1: x",
            "GroupCoordinator: GroupCoordinator: GroupCoordinator: h:1/1: x",
            "://: /: :",
        ];
        for text in texts {
            for (at, _) in text.char_indices() {
                let _ = BrokerFailure::parse(&text[..at]);
                let _ = BrokerFailure::parse(&text[at..]);
            }
        }
        assert_eq!(parsed(texts[0]), Some(("é:9", "ü", "ü")));
    }
}
