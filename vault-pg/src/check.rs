//! The datamarts compared with their recomputation from the Data Vault
//! (`sql/cdm/check.sql` over the views of migration 0002).

use postgres::GenericClient;

use crate::error::{Context, PgError};

/// A counter that differs from its recomputation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `user_product_counters`, `user_category_counters` or `restaurant_category_counters`.
    pub datamart: String,
    /// User or restaurant key.
    pub first_id: String,
    /// Product or category key.
    pub second_id: String,
    /// `order_cnt` in the datamart (0 when the row is missing).
    pub stored: i32,
    /// The number recomputed from `dds`.
    pub recomputed: i32,
}

/// Every counter that differs from the recomputation (empty = exact).
pub fn cdm_mismatches(client: &mut impl GenericClient) -> Result<Vec<Mismatch>, PgError> {
    let rows = client
        .query(include_str!("../sql/cdm/check.sql"), &[])
        .context("compare cdm with dds")?;
    Ok(rows
        .iter()
        .map(|row| Mismatch {
            datamart: row.get(0),
            first_id: row.get(1),
            second_id: row.get(2),
            stored: row.get(3),
            recomputed: row.get(4),
        })
        .collect())
}
