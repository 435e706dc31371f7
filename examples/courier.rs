//! A second Data Vault that is not orders: couriers and their deliveries, declared with
//! `vault_core::data_vault!` (see `docs/toolkit.md`). Used by the `courier_vault` example and
//! its tests.

use serde::Deserialize;
use vault_core::{data_vault, KeySpec, Timestamp};

data_vault! {
    /// The courier vault: 2 hubs, 1 link, 2 satellites.
    pub struct CourierRows<'a> {
        model: "couriers", schema: "courier", load_src: "courier-app";
        hubs {
            /// A courier, by the courier app's id.
            h_courier: HCourier<'a> { h_courier_pk; courier_id: &'a str }
            /// A delivery, by its number.
            h_delivery: HDelivery { h_delivery_pk; delivery_id: i64 }
        }
        links {
            /// Which courier made a delivery.
            l_delivery_courier: LDeliveryCourier {
                hk_delivery_courier_pk; h_delivery_pk -> h_delivery, h_courier_pk -> h_courier
            }
        }
        satellites {
            /// A courier's profile; key: the hashdiff of its attributes; a period per change.
            s_courier_profile: SCourierProfile<'a> {
                hk_courier_profile_pk; h_courier_pk -> h_courier; name: &'a str, vehicle: &'a str;
                effective updated_at
            }
            /// A delivery's status; key: the delivery and the status.
            s_delivery_status: SDeliveryStatus<'a> {
                hk_delivery_status_pk; h_delivery_pk -> h_delivery; status: &'a str; effective updated_at
            }
        }
    }
}

/// One event of the courier app (a JSON line of `examples/data/deliveries.jsonl`).
#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryEvent {
    /// The delivery's number.
    pub delivery_id: i64,
    /// Who delivers.
    pub courier: Courier,
    /// `assigned`, `picked_up`, `delivered`, …
    pub status: String,
    /// The app's version time of this event.
    pub updated_at: Timestamp,
}

/// The courier of an event.
#[derive(Debug, Clone, Deserialize)]
pub struct Courier {
    /// Id in the courier app.
    pub id: String,
    /// Full name.
    pub name: String,
    /// `bike`, `car`, …
    pub vehicle: String,
}

/// Adds the rows of one event to a batch (each table de-duplicated by key).
pub fn add<'a>(rows: &mut CourierRows<'a>, keys: &KeySpec, event: &'a DeliveryEvent) {
    let (profile, at) = (&event.courier, event.updated_at);
    // Every key follows from the declaration: hubs from their business keys, the link from
    // the hubs' rows, each satellite's hashdiff from its attributes under its parent's.
    let courier = HCourier::new(keys, &profile.id);
    let delivery = HDelivery::new(keys, event.delivery_id);
    rows.l_delivery_courier
        .push(LDeliveryCourier::new(keys, &delivery, &courier));
    rows.s_courier_profile.push(SCourierProfile::new(
        keys,
        &courier,
        &profile.name,
        &profile.vehicle,
        at,
    ));
    rows.s_delivery_status
        .push(SDeliveryStatus::new(keys, &delivery, &event.status, at));
    rows.h_courier.push(courier);
    rows.h_delivery.push(delivery);
}
