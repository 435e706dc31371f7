//! The datamarts compared with their recomputation from the Data Vault
//! (`sql/cdm/check.sql` over the views of migrations 0002 and 0010).

use postgres::GenericClient;

use crate::error::{Context, PgError};

/// A datamart row that differs from its recomputation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `user_product_counters`, `user_category_counters`, `restaurant_category_counters` or
    /// `restaurant_category_days`.
    pub datamart: String,
    /// User or restaurant key.
    pub first_id: String,
    /// Product or category key (for `restaurant_category_days`: the category key, a space and
    /// the day).
    pub second_id: String,
    /// `order_cnt` in the datamart (0 when the row is missing); for `restaurant_category_days`
    /// `orders N dishes N cost X payment X`.
    pub stored: String,
    /// The same recomputed from `dds`.
    pub recomputed: String,
}

/// Every counter that differs from the recomputation (empty = exact). Brings the planner's
/// statistics of the tables it compares up to date first (`sql/cdm/check_statistics.sql`).
pub fn cdm_mismatches(client: &mut impl GenericClient) -> Result<Vec<Mismatch>, PgError> {
    refresh_statistics(client);
    let rows = client
        .query(include_str!("../sql/cdm/check.sql"), &[])
        .context("compare cdm with dds")?;
    rows.iter()
        .map(|row| {
            let get = "read the cdm check";
            Ok(Mismatch {
                datamart: row.try_get(0).context(get)?,
                first_id: row.try_get(1).context(get)?,
                second_id: row.try_get(2).context(get)?,
                stored: row.try_get(3).context(get)?,
                recomputed: row.try_get(4).context(get)?,
            })
        })
        .collect()
}

/// `ANALYZE` of the tables the check reads, in a savepoint of its own. Best effort: where it
/// cannot run (a read-only standby; a role that may read but not analyze, which only warns)
/// the check still runs and gives the same answer, only with the statistics it finds.
fn refresh_statistics(client: &mut impl GenericClient) {
    let Ok(mut savepoint) = client.transaction() else {
        return;
    };
    if savepoint
        .batch_execute(include_str!("../sql/cdm/check_statistics.sql"))
        .is_ok()
    {
        let _ = savepoint.commit();
    }
}
