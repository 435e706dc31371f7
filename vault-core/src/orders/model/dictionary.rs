//! §3: the dictionary entries in Redis.

use serde::{Deserialize, Serialize};

use super::*;
use crate::amount::Amount;
use crate::pipeline::message::{from_json, MessageError};
use crate::time::Timestamp;

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
