//! The order report (contract §5.2) the DDS service publishes for CDM.

use crate::orders::dv::OrderKeys;
use crate::orders::model::{
    EnrichedOrder, KeyedName, OrderReport, ReportPayload, ReportProduct, ReportUser,
    ORDER_REPORT_OBJECT_TYPE,
};
use crate::time::Timestamp;

/// What DDS makes of a batch: the Data Vault rows of `orders` (deduplicated by key) and, in
/// input order, the report of each, sent at `sent_dttm` (contract §5–§6). The one
/// recipe of the DDS stage, `vault replay` and the tests.
pub fn vault_batch(
    keys: crate::KeySpec,
    orders: &[EnrichedOrder],
    sent_dttm: Timestamp,
) -> (crate::orders::DvBatch<'_>, Vec<OrderReport>) {
    let mut batch = crate::orders::DvBatch::new(keys);
    let reports = orders
        .iter()
        .map(|order| {
            let order_keys = batch.add(order);
            order_report(order, &order_keys, sent_dttm)
        })
        .collect();
    (batch, reports)
}

/// The report of an order whose rows were built with keys `keys` (from [`crate::orders::DvBatch::add`]).
pub fn order_report(order: &EnrichedOrder, keys: &OrderKeys, sent_dttm: Timestamp) -> OrderReport {
    let p = &order.payload;
    let products = p
        .products
        .iter()
        .zip(&keys.products)
        .map(|(product, &(product_key, category_key))| ReportProduct {
            id: product_key,
            name: product.name.clone(),
            quantity: product.quantity.clone(),
            category: KeyedName {
                id: category_key,
                name: product.category.clone(),
            },
        })
        .collect();
    OrderReport {
        object_id: keys.order,
        sent_dttm,
        object_type: ORDER_REPORT_OBJECT_TYPE.to_owned(),
        payload: ReportPayload {
            id: keys.order,
            order_dt: p.date,
            update_ts: Some(order.version_ts()),
            status: p.status,
            cost: Some(p.cost.clone()),
            payment: Some(p.payment.clone()),
            restaurant: KeyedName {
                id: keys.restaurant,
                name: p.restaurant.name.clone(),
            },
            user: ReportUser {
                id: keys.user,
                username: p.user.name.clone(),
            },
            products,
        },
    }
}
