//! §4: the messages of topic `stg-service-orders`, orders with dictionary data.

use serde::{Deserialize, Serialize};

use super::*;
use crate::amount::Amount;
use crate::pipeline::message::MessageError;
use crate::time::Timestamp;

/// A message of topic `stg-service-orders` (contract §4): the order with dictionary data
/// joined in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichedOrder {
    /// The order id.
    pub object_id: i64,
    /// Always `order`.
    pub object_type: String,
    /// The enriched order.
    pub payload: EnrichedPayload,
}

/// The body of an enriched order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichedPayload {
    /// The order id.
    pub id: i64,
    /// When the order was placed.
    pub date: Timestamp,
    /// Version timestamp; older producers omit it (then `date` stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_ts: Option<Timestamp>,
    /// Σ price × quantity.
    pub cost: Amount,
    /// Paid with money.
    pub payment: Amount,
    /// The order's final status.
    pub status: OrderStatus,
    /// The restaurant.
    pub restaurant: NamedRef,
    /// The user.
    pub user: EnrichedUser,
    /// What was ordered, with menu names and categories.
    pub products: Vec<Product>,
}

/// An id with a display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRef {
    /// The id.
    pub id: String,
    /// The name.
    pub name: String,
    /// When the dictionary entry last changed (the restaurant's `update_ts_utc`): the time
    /// from which its name holds. Older producers omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_ts_utc: Option<Timestamp>,
}

/// The user of an enriched order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichedUser {
    /// The id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Login; older producers omit it (then the name stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// When the user's dictionary entry last changed (`update_ts_utc`): the time from which
    /// name and login hold. Older producers omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_ts_utc: Option<Timestamp>,
}

impl EnrichedUser {
    /// `user.login` when present, else `user.name` (contract §5 `userlogin`).
    pub fn userlogin(&self) -> &str {
        self.login.as_deref().unwrap_or(&self.name)
    }
}

/// One product line of an enriched order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// The product id.
    pub id: String,
    /// Unit price.
    pub price: Amount,
    /// How many.
    pub quantity: Amount,
    /// The menu's name of the product.
    pub name: String,
    /// The menu's category name.
    pub category: String,
}

impl EnrichedOrder {
    /// Parses and validates an enriched order.
    pub fn from_json(bytes: &[u8]) -> Result<Self, MessageError> {
        let order: EnrichedOrder = from_json_of_type(bytes, ORDER_OBJECT_TYPE)?;
        let p = &order.payload;
        validate_order(
            &order.object_type,
            &p.user.id,
            &p.restaurant.id,
            &p.cost,
            &p.payment,
        )?;
        storable("payload.restaurant.name", &p.restaurant.name)?;
        storable("payload.user.name", &p.user.name)?;
        if let Some(login) = &p.user.login {
            storable("payload.user.login", login)?;
        }
        for (i, product) in p.products.iter().enumerate() {
            let at = |field: &str| format!("payload.products[{i}].{field}");
            non_empty(&at("id"), &product.id)?;
            storable(&at("id"), &product.id)?;
            storable(&at("name"), &product.name)?;
            storable(&at("category"), &product.category)?;
            non_negative(&at("price"), &product.price)?;
            non_negative(&at("quantity"), &product.quantity)?;
        }
        Ok(order)
    }

    /// The version timestamp: `update_ts`, or `date` for messages of the older format.
    pub fn version_ts(&self) -> Timestamp {
        self.payload.update_ts.unwrap_or(self.payload.date)
    }

    /// Serialises to the §4 JSON shape.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}
