//! What `vault report` draws, read from the views of schema `bi` (`sql/bi/report.sql`): the
//! same the role `vault_bi` lets a BI tool see.

use postgres::GenericClient;

use crate::error::{Context, PgError};

/// The report's data as one JSON object: `generated_at`, `time_zone`, `top_dishes` and
/// `top_categories` (`name`, `orders`; at most `limit` each), `restaurant_categories`
/// (`restaurant`, `category`, `orders`), `days` (`day`, `orders`, `cost`, `payment`) and
/// `freshness` (per layer: `layer`, `table`, `orders`, `newest_version`, `newest_load`).
pub fn report_json(client: &mut impl GenericClient, limit: i64) -> Result<String, PgError> {
    client
        .query_one(include_str!("../sql/bi/report.sql"), &[&limit])
        .and_then(|row| row.try_get(0))
        .context("read the report's data from schema bi")
}
