//! The messages of the pipeline (docs/contract.md §2–§5.2) as typed values.
//!
//! Every `from_json` returns a [`MessageError`] naming what is wrong and where; unknown extra
//! fields are accepted everywhere so producers can add fields without breaking consumers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::amount::Amount;
use crate::error::{from_json, MessageError};
use crate::time::Timestamp;

/// `object_type` of source and enriched orders.
pub const ORDER_OBJECT_TYPE: &str = "order";
/// `object_type` of the DDS service's order report.
pub const ORDER_REPORT_OBJECT_TYPE: &str = "order_report";

/// The lifecycle status of an order. Only [`OrderStatus::Closed`] orders are counted in CDM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderStatus {
    /// Placed.
    Open,
    /// Being cooked.
    Cooking,
    /// On its way.
    Delivering,
    /// Delivered and paid: the status that counts.
    Closed,
    /// Cancelled (also after having been closed).
    Cancelled,
}

impl OrderStatus {
    /// The upper-case name used in messages and in `dds.s_order_status`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "OPEN",
            OrderStatus::Cooking => "COOKING",
            OrderStatus::Delivering => "DELIVERING",
            OrderStatus::Closed => "CLOSED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    /// Parses the upper-case name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Open,
            Self::Cooking,
            Self::Delivering,
            Self::Closed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference by id (`{"id": "…"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    /// The referenced entity's id.
    pub id: String,
}

// ---------------------------------------------------------------------------------------------
// §2 source orders

/// A message of topic `order-service_orders` (docs/contract.md §2).
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

// ---------------------------------------------------------------------------------------------
// §3 Redis dictionaries

/// A user as stored in Redis under its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The id (also the Redis key).
    #[serde(rename = "_id")]
    pub id: String,
    /// Full name.
    pub name: String,
    /// Login, when the dictionary has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// When the dictionary entry last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_ts_utc: Option<Timestamp>,
}

/// A restaurant with its menu as stored in Redis under its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restaurant {
    /// The id (also the Redis key).
    #[serde(rename = "_id")]
    pub id: String,
    /// Display name.
    pub name: String,
    /// The menu.
    #[serde(default)]
    pub menu: Vec<MenuItem>,
    /// When the dictionary entry last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_ts_utc: Option<Timestamp>,
}

/// One dish of a restaurant's menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MenuItem {
    /// The product id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Product name.
    pub name: String,
    /// Menu price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Amount>,
    /// Category name (shared across restaurants by name).
    pub category: String,
}

impl User {
    /// Parses a Redis user entry.
    pub fn from_json(bytes: &[u8]) -> Result<Self, MessageError> {
        let user: User = from_json(bytes)?;
        non_empty("_id", &user.id)?;
        storable("_id", &user.id)?;
        storable("name", &user.name)?;
        if let Some(login) = &user.login {
            storable("login", login)?;
        }
        Ok(user)
    }
}

impl Restaurant {
    /// Parses a Redis restaurant entry.
    pub fn from_json(bytes: &[u8]) -> Result<Self, MessageError> {
        let restaurant: Restaurant = from_json(bytes)?;
        non_empty("_id", &restaurant.id)?;
        storable("_id", &restaurant.id)?;
        storable("name", &restaurant.name)?;
        for (i, item) in restaurant.menu.iter().enumerate() {
            storable(&format!("menu[{i}]._id"), &item.id)?;
            storable(&format!("menu[{i}].name"), &item.name)?;
            storable(&format!("menu[{i}].category"), &item.category)?;
        }
        Ok(restaurant)
    }

    /// The menu entry with this product id.
    pub fn menu_item(&self, product_id: &str) -> Option<&MenuItem> {
        self.menu.iter().find(|item| item.id == product_id)
    }
}

// ---------------------------------------------------------------------------------------------
// §4 enriched orders

/// A message of topic `stg-service-orders` (docs/contract.md §4): the order with dictionary data
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
}

impl EnrichedUser {
    /// `user.login` when present, else `user.name` (docs/contract.md §5 `userlogin`).
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

// ---------------------------------------------------------------------------------------------
// §5.2 order reports

/// A message of topic `dds-service-orders` (docs/contract.md §5.2): the order in Data Vault keys.
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

// ---------------------------------------------------------------------------------------------

/// Parses a message of `expected` object type. A document of another type is reported as such
/// (`unknown_object_type`), not as the shape errors its other fields would cause.
fn from_json_of_type<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    expected: &'static str,
) -> Result<T, MessageError> {
    from_json(bytes).map_err(|err| match err {
        MessageError::Shape { .. } => match object_type_of(bytes) {
            Some(found) if found != expected => MessageError::ObjectType {
                found: found.chars().take(64).collect(),
                expected,
            },
            _ => err,
        },
        other => other,
    })
}

/// The `object_type` of a JSON object, if it has a string one.
#[cold]
fn object_type_of(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Envelope {
        object_type: String,
    }
    serde_json::from_slice::<Envelope>(bytes)
        .ok()
        .map(|e| e.object_type)
}

/// The checks source and enriched orders share: an order, with ids, and amounts that are not
/// negative.
fn validate_order(
    object_type: &str,
    user_id: &str,
    restaurant_id: &str,
    cost: &Amount,
    payment: &Amount,
) -> Result<(), MessageError> {
    expect_object_type(object_type, ORDER_OBJECT_TYPE)?;
    non_empty("payload.user.id", user_id)?;
    non_empty("payload.restaurant.id", restaurant_id)?;
    storable("payload.user.id", user_id)?;
    storable("payload.restaurant.id", restaurant_id)?;
    non_negative("payload.cost", cost)?;
    non_negative("payload.payment", payment)
}

fn expect_object_type(found: &str, expected: &'static str) -> Result<(), MessageError> {
    if found == expected {
        Ok(())
    } else {
        Err(MessageError::ObjectType {
            found: found.chars().take(64).collect(),
            expected,
        })
    }
}

fn non_empty(path: &str, value: &str) -> Result<(), MessageError> {
    if value.is_empty() {
        Err(MessageError::value(path, "must not be empty"))
    } else {
        Ok(())
    }
}

/// Text PostgreSQL can store: no NUL character (`\u0000`), which `text` refuses.
fn storable(path: &str, value: &str) -> Result<(), MessageError> {
    if value.contains('\0') {
        Err(MessageError::value(
            path,
            "contains a NUL character (\\u0000), which the warehouse cannot store",
        ))
    } else {
        Ok(())
    }
}

fn non_negative(path: &str, value: &Amount) -> Result<(), MessageError> {
    if value.is_negative() {
        Err(MessageError::value(
            path,
            format!("must not be negative, found {value}"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_object_type_is_named_as_such_even_with_another_shape() {
        let user = br#"{"object_id": 1, "object_type": "user", "payload": {}}"#;
        let err = SourceOrder::from_json(user).expect_err("not an order");
        assert_eq!(err.reason(), "unknown_object_type");
        assert_eq!(err.to_string(), "object_type is `user`, expected `order`");
        // An order with a missing field is still a shape error.
        let broken = br#"{"object_id": 1, "object_type": "order", "payload": {}}"#;
        assert_eq!(
            SourceOrder::from_json(broken).expect_err("broken").reason(),
            "invalid_shape"
        );
        let report = br#"{"object_id": 1, "object_type": "order"}"#;
        assert_eq!(
            OrderReport::from_json(report).expect_err("wrong").reason(),
            "unknown_object_type"
        );
    }

    const ORDER: &str = r#"{"object_id": 1371198, "object_type": "order", "sent_dttm": "2023-04-08 20:27:36",
        "payload": {"restaurant": {"id": "r1"}, "date": "2023-04-01 20:45:43", "user": {"id": "u1"},
        "order_items": [{"id": "i1", "name": "Рис", "price": 175, "quantity": 5}],
        "bonus_payment": 0, "cost": 875, "payment": 875, "bonus_grant": 0,
        "statuses": [{"status": "CLOSED", "dttm": "2023-04-01 20:45:43"}],
        "final_status": "CLOSED", "update_ts": "2023-04-01 20:45:43"}}"#;

    #[test]
    fn a_json_array_is_not_a_message() {
        assert!(SourceOrder::from_json(ORDER.as_bytes()).is_ok());
        let array = format!("[{}]", ORDER);
        let err = SourceOrder::from_json(array.as_bytes()).expect_err("an array");
        assert_eq!(err.reason(), "invalid_shape");
        assert!(err.to_string().contains("JSON array"), "{err}");
        // The fields in order, as serde would take them for the struct.
        let positional = br#" [7000001, "order", "2024-05-01 10:00:00", {}]"#;
        assert_eq!(
            SourceOrder::from_json(positional)
                .expect_err("array")
                .reason(),
            "invalid_shape"
        );
        assert_eq!(
            EnrichedOrder::from_json(positional)
                .expect_err("array")
                .reason(),
            "invalid_shape"
        );
        assert_eq!(
            OrderReport::from_json(positional)
                .expect_err("array")
                .reason(),
            "invalid_shape"
        );
    }

    #[test]
    fn a_null_field_is_a_shape_fault_that_names_the_field() {
        let null = ORDER.replace(r#""final_status": "CLOSED""#, r#""final_status": null"#);
        let err = SourceOrder::from_json(null.as_bytes()).expect_err("null status");
        assert_eq!(err.reason(), "invalid_shape", "{err}");
        assert_eq!(err.path(), Some("payload.final_status"), "{err}");
        // Broken JSON stays a syntax fault.
        let cut = &ORDER[..ORDER.len() - 10];
        assert_eq!(
            SourceOrder::from_json(cut.as_bytes())
                .expect_err("cut")
                .reason(),
            "invalid_json"
        );
    }
}
