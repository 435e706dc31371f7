//! §5.2: the messages of topic `dds-service-orders`, orders in Data Vault keys.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::*;
use crate::amount::Amount;
use crate::pipeline::message::MessageError;
use crate::time::Timestamp;

/// A message of topic `dds-service-orders` (contract §5.2): the order in Data Vault keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderReport {
    /// The order's hub key.
    pub object_id: Uuid,
    /// When the DDS service sent the report.
    pub sent_dttm: Timestamp,
    /// Always `order_report`.
    pub object_type: String,
    /// The report.
    pub payload: ReportPayload,
}

/// The body of an order report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPayload {
    /// The order's hub key.
    pub id: Uuid,
    /// When the order was placed.
    pub order_dt: Timestamp,
    /// Version timestamp (absent in older reports: `order_dt` stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_ts: Option<Timestamp>,
    /// The order's status.
    pub status: OrderStatus,
    /// The order's cost in this version (`dds.s_order_cost.cost`; absent in reports of earlier
    /// releases, which then count 0 in the daily datamart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
    /// What the guest paid in this version (`dds.s_order_cost.payment`; absent as `cost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Amount>,
    /// The restaurant.
    pub restaurant: KeyedName,
    /// The user.
    pub user: ReportUser,
    /// The products.
    pub products: Vec<ReportProduct>,
}

/// A hub key with a display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedName {
    /// The hub key.
    pub id: Uuid,
    /// The name.
    pub name: String,
}

/// The user of an order report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportUser {
    /// `h_user_pk`.
    pub id: Uuid,
    /// Full name.
    pub username: String,
}

/// One product of an order report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportProduct {
    /// `h_product_pk`.
    pub id: Uuid,
    /// Product name.
    pub name: String,
    /// How many.
    pub quantity: Amount,
    /// `h_category_pk` and the category name.
    pub category: KeyedName,
}

impl OrderReport {
    /// Parses an order report (`object_type` must be `order_report`).
    pub fn from_json(bytes: &[u8]) -> Result<Self, MessageError> {
        let report: OrderReport = from_json_of_type(bytes, ORDER_REPORT_OBJECT_TYPE)?;
        expect_object_type(&report.object_type, ORDER_REPORT_OBJECT_TYPE)?;
        if report.object_id != report.payload.id {
            return Err(MessageError::value("payload.id", "differs from object_id"));
        }
        let p = &report.payload;
        storable("payload.restaurant.name", &p.restaurant.name)?;
        storable("payload.user.username", &p.user.username)?;
        for (i, product) in p.products.iter().enumerate() {
            storable(&format!("payload.products[{i}].name"), &product.name)?;
            storable(
                &format!("payload.products[{i}].category.name"),
                &product.category.name,
            )?;
        }
        Ok(report)
    }

    /// The version timestamp: `update_ts`, or `order_dt` for older reports.
    pub fn version_ts(&self) -> Timestamp {
        self.payload.update_ts.unwrap_or(self.payload.order_dt)
    }

    /// Serialises to the §5.2 JSON shape.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}
