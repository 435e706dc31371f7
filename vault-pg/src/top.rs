//! The top rows of each datamart, for `vault top` and the demo (SQL in `sql/cdm/top_*.sql`).

use postgres::GenericClient;

use crate::error::PgError;

/// One datamart's top rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Top {
    /// What the table is.
    pub title: &'static str,
    /// Column names.
    pub header: [&'static str; 3],
    /// Rows of text cells.
    pub rows: Vec<[String; 3]>,
}

const QUERIES: [(&str, [&str; 3], &str); 3] = [
    (
        "guests × dishes (cdm.user_product_counters)",
        ["guest", "dish", "orders"],
        include_str!("../sql/cdm/top_user_products.sql"),
    ),
    (
        "guests × categories (cdm.user_category_counters)",
        ["guest", "category", "orders"],
        include_str!("../sql/cdm/top_user_categories.sql"),
    ),
    (
        "restaurants × categories (cdm.restaurant_category_counters)",
        ["restaurant", "category", "orders"],
        include_str!("../sql/cdm/top_restaurant_categories.sql"),
    ),
];

/// The top `limit` rows of each datamart, most orders first.
pub fn top(client: &mut impl GenericClient, limit: i64) -> Result<Vec<Top>, PgError> {
    let db = |source| PgError::Db {
        context: "read the datamarts".into(),
        source,
    };
    let mut out = Vec::new();
    for (title, header, sql) in QUERIES {
        let mut rows = Vec::new();
        for row in client.query(sql, &[&limit]).map_err(db)? {
            rows.push([
                row.try_get::<_, String>(0).map_err(db)?,
                row.try_get::<_, String>(1).map_err(db)?,
                row.try_get::<_, i32>(2).map_err(db)?.to_string(),
            ]);
        }
        out.push(Top {
            title,
            header,
            rows,
        });
    }
    Ok(out)
}
