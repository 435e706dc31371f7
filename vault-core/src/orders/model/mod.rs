//! The messages of the pipeline (contract §2–§5.2) as typed values.
//!
//! Every `from_json` returns a [`MessageError`] naming what is wrong and where; unknown extra
//! fields are accepted everywhere so producers can add fields without breaking consumers.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::pipeline::message::{from_json, MessageError};

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

/// Stored as its upper-case name (`dds.s_order_status.status`): the order model is a user of
/// the toolkit like any other, with a column type of its own.
impl crate::toolkit::SqlValue for OrderStatus {
    const SQL_TYPE: crate::toolkit::SqlType = crate::toolkit::SqlType::Text;
    fn column(&self) -> crate::toolkit::Column<'_> {
        crate::toolkit::Column::Text(std::borrow::Cow::Borrowed(self.as_str()))
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

mod dictionary;
mod enriched;
mod report;
mod source;

pub use dictionary::*;
pub use enriched::*;
pub use report::*;
pub use source::*;

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
