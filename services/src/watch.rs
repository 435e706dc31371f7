//! Watching a running pipeline: each stage's counters from its `/metrics` endpoint, and the top
//! rows of the datamarts.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use postgres::GenericClient;

/// The counters of one stage, summed over label values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageCounters {
    /// `vault_messages_consumed_total`.
    pub consumed: f64,
    /// `vault_messages_produced_total`.
    pub produced: f64,
    /// `vault_messages_dead_lettered_total`.
    pub dead_lettered: f64,
    /// `vault_consumer_lag_messages`.
    pub lag: f64,
    /// `vault_errors_total`.
    pub errors: f64,
    /// `process_resident_memory_bytes`.
    pub rss_bytes: f64,
}

/// Reads a stage's `/metrics` (`addr` as `host:port`).
pub fn scrape(addr: &str) -> std::io::Result<StageCounters> {
    let socket = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr}: no address")))?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: vault\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok(parse(body))
}

/// Sums the samples of the metrics a stage exposes.
pub fn parse(text: &str) -> StageCounters {
    use crate::exposition::sum;
    use crate::ops::names;
    let samples = crate::exposition::parse(text);
    let get = |name| sum(&samples, name).unwrap_or(0.0);
    StageCounters {
        consumed: get(names::CONSUMED),
        produced: get(names::PRODUCED),
        dead_lettered: get(names::DEAD_LETTERED),
        lag: get(names::CONSUMER_LAG),
        errors: get(names::ERRORS),
        rss_bytes: get(names::RSS),
    }
}

/// One datamart's top rows: title, column names, rows of text cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Top {
    /// What the table is.
    pub title: &'static str,
    /// Column names.
    pub header: [&'static str; 3],
    /// Rows.
    pub rows: Vec<[String; 3]>,
}

/// The top `limit` rows of each datamart: (title, header, rows).
pub fn top(client: &mut impl GenericClient, limit: i64) -> Result<Vec<Top>, postgres::Error> {
    let queries: [(&str, [&str; 3], &str); 3] = [
        (
            "guests × dishes (cdm.user_product_counters)",
            ["guest", "dish", "orders"],
            include_str!("../sql/top_user_products.sql"),
        ),
        (
            "guests × categories (cdm.user_category_counters)",
            ["guest", "category", "orders"],
            include_str!("../sql/top_user_categories.sql"),
        ),
        (
            "restaurants × categories (cdm.restaurant_category_counters)",
            ["restaurant", "category", "orders"],
            include_str!("../sql/top_restaurant_categories.sql"),
        ),
    ];
    let mut out = Vec::new();
    for (title, header, sql) in queries {
        let rows = client
            .query(sql, &[&limit])?
            .iter()
            .map(|r| {
                [
                    r.get::<_, String>(0),
                    r.get::<_, String>(1),
                    r.get::<_, i32>(2).to_string(),
                ]
            })
            .collect();
        out.push(Top {
            title,
            header,
            rows,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_labelled_samples() {
        let text = "# HELP x\nvault_messages_consumed_total{service=\"stg-service\"} 10\n\
                    vault_messages_dead_lettered_total{reason=\"invalid_json\",service=\"s\"} 2\n\
                    vault_messages_dead_lettered_total{reason=\"unknown_user\",service=\"s\"} 3\n\
                    vault_consumer_lag_messages{service=\"s\"} 7\nother 1\n";
        let c = parse(text);
        assert_eq!(
            (c.consumed, c.dead_lettered, c.lag, c.produced),
            (10.0, 5.0, 7.0, 0.0)
        );
    }
}
