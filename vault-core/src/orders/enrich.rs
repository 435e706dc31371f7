//! Enrichment (contract §4): a source order joined with its user and restaurant from the
//! dictionaries.

use crate::orders::model::{
    EnrichedOrder, EnrichedPayload, EnrichedUser, NamedRef, Product, Restaurant, SourceOrder, User,
    ORDER_OBJECT_TYPE,
};

/// Why an order could not be enriched: an id the dictionaries do not (yet) know, or an entry
/// that is there but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrichError {
    /// The entry of the order's user or restaurant exists but is not a valid one (a user
    /// without `name`, a menu that is not a list, an item without `category`, …).
    #[error("dictionary entry `{key}` is not a valid {kind}: {detail}")]
    InvalidEntry {
        /// `user` or `restaurant`.
        kind: &'static str,
        /// The entry's key (the entity id).
        key: String,
        /// What is wrong with it.
        detail: String,
    },
    /// `payload.user.id` is not in the user dictionary.
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    /// `payload.restaurant.id` is not in the restaurant dictionary.
    #[error("unknown restaurant `{0}`")]
    UnknownRestaurant(String),
    /// An ordered item is not on the restaurant's menu.
    #[error("unknown menu item `{item}` in restaurant `{restaurant}`")]
    UnknownMenuItem {
        /// The restaurant id.
        restaurant: String,
        /// The item id.
        item: String,
    },
}

impl EnrichError {
    /// The dead-letter reason code: `unknown_user`, `unknown_restaurant`, `unknown_menu_item`,
    /// `invalid_dictionary_entry`.
    pub fn reason(&self) -> &'static str {
        self.dead_letter_reason().as_str()
    }

    /// The dead-letter reason.
    pub fn dead_letter_reason(&self) -> crate::pipeline::DeadLetterReason {
        use crate::pipeline::DeadLetterReason as R;
        match self {
            EnrichError::InvalidEntry { .. } => R::InvalidDictionaryEntry,
            EnrichError::UnknownUser(_) => R::UnknownUser,
            EnrichError::UnknownRestaurant(_) => R::UnknownRestaurant,
            EnrichError::UnknownMenuItem { .. } => R::UnknownMenuItem,
        }
    }
}

/// Joins a source order with its dictionary entries (`None` = not found in the dictionary).
///
/// Product names and categories come from the menu; price and quantity from the order.
pub fn enrich(
    order: &SourceOrder,
    user: Option<&User>,
    restaurant: Option<&Restaurant>,
) -> Result<EnrichedOrder, EnrichError> {
    let p = &order.payload;
    let user = user
        .filter(|u| u.id == p.user.id)
        .ok_or_else(|| EnrichError::UnknownUser(p.user.id.clone()))?;
    let restaurant = restaurant
        .filter(|r| r.id == p.restaurant.id)
        .ok_or_else(|| EnrichError::UnknownRestaurant(p.restaurant.id.clone()))?;
    let products = p
        .order_items
        .iter()
        .map(|item| {
            let menu =
                restaurant
                    .menu_item(&item.id)
                    .ok_or_else(|| EnrichError::UnknownMenuItem {
                        restaurant: restaurant.id.clone(),
                        item: item.id.clone(),
                    })?;
            Ok(Product {
                id: item.id.clone(),
                price: item.price.clone(),
                quantity: item.quantity.clone(),
                name: menu.name.clone(),
                category: menu.category.clone(),
            })
        })
        .collect::<Result<Vec<_>, EnrichError>>()?;
    Ok(EnrichedOrder {
        object_id: order.object_id,
        object_type: ORDER_OBJECT_TYPE.to_owned(),
        payload: EnrichedPayload {
            id: order.object_id,
            date: p.date,
            update_ts: Some(p.update_ts),
            cost: p.cost.clone(),
            payment: p.payment.clone(),
            status: p.final_status,
            restaurant: NamedRef {
                id: restaurant.id.clone(),
                name: restaurant.name.clone(),
                update_ts_utc: restaurant.update_ts_utc,
            },
            user: EnrichedUser {
                id: user.id.clone(),
                name: user.name.clone(),
                login: user.login.clone(),
                update_ts_utc: user.update_ts_utc,
            },
            products,
        },
    })
}
