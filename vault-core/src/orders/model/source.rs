//! §2: the messages of topic `order-service_orders`.

use serde::{Deserialize, Serialize};

use super::*;
use crate::amount::Amount;
use crate::pipeline::message::MessageError;
use crate::time::Timestamp;

/// A message of topic `order-service_orders` (contract §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceOrder {
    /// The order id.
    pub object_id: i64,
    /// Always `order` for orders; other kinds are refused by [`SourceOrder::from_json`].
    pub object_type: String,
    /// When the source system sent the message.
    pub sent_dttm: Timestamp,
    /// The order itself.
    pub payload: SourcePayload,
}

/// The body of a source order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcePayload {
    /// The restaurant's id (a Redis key).
    pub restaurant: IdRef,
    /// When the order was placed.
    pub date: Timestamp,
    /// The user's id (a Redis key).
    pub user: IdRef,
    /// What was ordered.
    pub order_items: Vec<SourceItem>,
    /// Paid with bonus points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonus_payment: Option<Amount>,
    /// Σ price × quantity.
    pub cost: Amount,
    /// Paid with money.
    pub payment: Amount,
    /// Bonus points granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonus_grant: Option<Amount>,
    /// Status history, newest first.
    #[serde(default)]
    pub statuses: Vec<StatusEntry>,
    /// The current status.
    pub final_status: OrderStatus,
    /// Orders the versions of one order.
    pub update_ts: Timestamp,
}

/// One line of a source order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceItem {
    /// The menu item's id.
    pub id: String,
    /// The name at order time.
    pub name: String,
    /// Unit price.
    pub price: Amount,
    /// How many.
    pub quantity: Amount,
}

/// One entry of the status history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// The status entered.
    pub status: OrderStatus,
    /// When.
    pub dttm: Timestamp,
}

impl SourceOrder {
    /// Parses and validates a source message (`object_type` must be `order`).
    pub fn from_json(bytes: &[u8]) -> Result<Self, MessageError> {
        let order: SourceOrder = from_json_of_type(bytes, ORDER_OBJECT_TYPE)?;
        let p = &order.payload;
        validate_order(
            &order.object_type,
            &p.user.id,
            &p.restaurant.id,
            &p.cost,
            &p.payment,
        )?;
        if let Some(bonus) = &p.bonus_payment {
            non_negative("payload.bonus_payment", bonus)?;
        }
        if let Some(bonus) = &p.bonus_grant {
            non_negative("payload.bonus_grant", bonus)?;
        }
        for (i, item) in p.order_items.iter().enumerate() {
            let at = |field: &str| format!("payload.order_items[{i}].{field}");
            non_empty(&at("id"), &item.id)?;
            storable(&at("id"), &item.id)?;
            non_negative(&at("price"), &item.price)?;
            non_negative(&at("quantity"), &item.quantity)?;
        }
        Ok(order)
    }
}

/// The `payload` object of a message exactly as it was sent, for the raw layer (`stg`): numbers,
/// key order and escapes untouched, so keys recomputed from it later are byte-identical.
pub fn raw_payload(bytes: &[u8]) -> Result<&str, MessageError> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        payload: &'a serde_json::value::RawValue,
    }
    match serde_json::from_slice::<Envelope<'_>>(bytes) {
        Ok(envelope) => Ok(envelope.payload.get()),
        Err(err) => Err(MessageError::Shape {
            path: "payload".into(),
            message: err.to_string(),
        }),
    }
}
