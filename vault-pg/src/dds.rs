//! The Data Vault writer: every table of a batch in one statement each (`unnest` over one array
//! per column, `ON CONFLICT DO NOTHING`), inside the caller's transaction.

use chrono::NaiveDateTime;
use postgres::types::ToSql;
use postgres::Transaction;
use uuid::Uuid;
use vault_core::{Column, DvRow, DvRows, RowVisitor, LOAD_SRC};

use crate::error::{Context, PgError};

/// Writes a batch of deduplicated rows (from [`vault_core::DvBatch`]); hubs first, then links and
/// satellites, so foreign keys hold. Returns the number of rows newly inserted (or, for
/// `s_order_status`, moved forward).
pub fn write(tx: &mut Transaction<'_>, rows: &DvRows<'_>) -> Result<u64, PgError> {
    let mut writer = TableWriter {
        tx,
        written: 0,
        error: None,
    };
    rows.visit(&mut writer);
    match writer.error {
        Some(err) => Err(err),
        None => Ok(writer.written),
    }
}

/// The insert statement of a table (`sql/dds/<table>.sql`).
pub fn insert_sql(table: &str) -> Option<&'static str> {
    Some(match table {
        "h_user" => include_str!("../sql/dds/h_user.sql"),
        "h_product" => include_str!("../sql/dds/h_product.sql"),
        "h_category" => include_str!("../sql/dds/h_category.sql"),
        "h_restaurant" => include_str!("../sql/dds/h_restaurant.sql"),
        "h_order" => include_str!("../sql/dds/h_order.sql"),
        "l_order_product" => include_str!("../sql/dds/l_order_product.sql"),
        "l_product_restaurant" => include_str!("../sql/dds/l_product_restaurant.sql"),
        "l_product_category" => include_str!("../sql/dds/l_product_category.sql"),
        "l_order_user" => include_str!("../sql/dds/l_order_user.sql"),
        "s_user_names" => include_str!("../sql/dds/s_user_names.sql"),
        "s_restaurant_names" => include_str!("../sql/dds/s_restaurant_names.sql"),
        "s_product_names" => include_str!("../sql/dds/s_product_names.sql"),
        "s_order_cost" => include_str!("../sql/dds/s_order_cost.sql"),
        "s_order_status" => include_str!("../sql/dds/s_order_status.sql"),
        _ => return None,
    })
}

struct TableWriter<'t, 'c> {
    tx: &'t mut Transaction<'c>,
    written: u64,
    error: Option<PgError>,
}

impl RowVisitor for TableWriter<'_, '_> {
    fn table<R: DvRow>(&mut self, rows: &[R]) {
        if self.error.is_some() || rows.is_empty() {
            return;
        }
        match insert_table(self.tx, rows) {
            Ok(n) => self.written += n,
            Err(err) => self.error = Some(err),
        }
    }
}

fn insert_table<R: DvRow>(tx: &mut Transaction<'_>, rows: &[R]) -> Result<u64, PgError> {
    let sql = insert_sql(R::TABLE)
        .ok_or_else(|| PgError::Stored(format!("no insert statement for table {}", R::TABLE)))?;
    let arrays = ColumnArrays::of(rows);
    let mut params: Vec<&(dyn ToSql + Sync)> = arrays.0.iter().map(ColumnArray::param).collect();
    params.push(&LOAD_SRC);
    tx.execute(sql, &params)
        .context(format!("insert into dds.{}", R::TABLE))
}

/// The rows of one table as one array per column, ready to bind.
struct ColumnArrays<'a>(Vec<ColumnArray<'a>>);

enum ColumnArray<'a> {
    Uuid(Vec<Uuid>),
    Text(Vec<&'a str>),
    BigInt(Vec<i64>),
    Timestamp(Vec<NaiveDateTime>),
}

impl<'a> ColumnArrays<'a> {
    /// Rows sorted by key: concurrent writers then take index locks in one order (no deadlocks
    /// between replicas inserting the same hubs).
    fn of<R: DvRow>(rows: &'a [R]) -> Self {
        let mut sorted: Vec<&'a R> = rows.iter().collect();
        sorted.sort_unstable_by_key(|row| row.key());
        let mut arrays: Vec<ColumnArray<'a>> = Vec::with_capacity(R::COLUMNS.len());
        for row in sorted {
            let mut i = 0;
            row.visit_columns(&mut |value| {
                if arrays.len() == i {
                    arrays.push(ColumnArray::for_value(&value, rows.len()));
                }
                arrays[i].push(value);
                i += 1;
            });
        }
        ColumnArrays(arrays)
    }
}

impl<'a> ColumnArray<'a> {
    fn for_value(value: &Column<'_>, capacity: usize) -> Self {
        match value {
            Column::Uuid(_) => ColumnArray::Uuid(Vec::with_capacity(capacity)),
            Column::Text(_) | Column::Numeric(_) | Column::Status(_) => {
                ColumnArray::Text(Vec::with_capacity(capacity))
            }
            Column::BigInt(_) => ColumnArray::BigInt(Vec::with_capacity(capacity)),
            Column::Timestamp(_) => ColumnArray::Timestamp(Vec::with_capacity(capacity)),
        }
    }

    fn push(&mut self, value: Column<'a>) {
        match (self, value) {
            (ColumnArray::Uuid(v), Column::Uuid(x)) => v.push(x),
            (ColumnArray::Text(v), Column::Text(x)) => v.push(x),
            // Amounts travel as their exact text and are cast to numeric in SQL.
            (ColumnArray::Text(v), Column::Numeric(x)) => v.push(x.as_str()),
            (ColumnArray::Text(v), Column::Status(x)) => v.push(x.as_str()),
            (ColumnArray::BigInt(v), Column::BigInt(x)) => v.push(x),
            (ColumnArray::Timestamp(v), Column::Timestamp(x)) => v.push(x.naive()),
            // A row type gives the same kind of value for a column in every row; if a bug broke
            // that, the array comes up short and PostgreSQL rejects the statement.
            _ => debug_assert!(false, "column kind changed between rows"),
        }
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            ColumnArray::Uuid(v) => v,
            ColumnArray::Text(v) => v,
            ColumnArray::BigInt(v) => v,
            ColumnArray::Timestamp(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_statement_with_its_columns() {
        struct Check(Vec<&'static str>);
        impl RowVisitor for Check {
            fn table<R: DvRow>(&mut self, _: &[R]) {
                let sql = insert_sql(R::TABLE).expect("statement exists");
                assert!(sql.contains(&format!("INSERT INTO dds.{} ", R::TABLE)));
                for column in R::COLUMNS {
                    assert!(sql.contains(column), "{} lacks {column}", R::TABLE);
                }
                let last = format!("${}", R::COLUMNS.len() + 1);
                assert!(sql.contains(&last), "{} binds load_src as {last}", R::TABLE);
                self.0.push(R::TABLE);
            }
        }
        let mut check = Check(Vec::new());
        DvRows::default().visit(&mut check);
        assert_eq!(check.0.len(), 14);
        assert_eq!(check.0, DvRows::TABLES);
    }
}
