//! The toolkit on the order model and on a model of its own: declarations that hold together,
//! hashdiffs formed from the declared attributes, batches de-duplicated by key, versions kept.

use vault_core::orders::sample::{Catalog, Rng};
use vault_core::orders::{build_order, DvRows};
use vault_core::{
    data_vault, hashdiff, DvRow, KeySpec, ModelError, RowSet, RowVisitor, SqlType, TableKind,
    Timestamp,
};

data_vault! {
    /// A model of its own: parcels and depots.
    pub struct ParcelRows<'a> {
        model: "parcels", schema: "parcel", load_src: "test";
        hubs {
            /// A parcel.
            h_parcel: HParcel<'a> { h_parcel_pk; parcel_code: &'a str }
            /// A depot.
            h_depot: HDepot { h_depot_pk; depot_no: i64 }
        }
        links {
            /// Where a parcel is handled.
            l_parcel_depot: LParcelDepot { hk_parcel_depot_pk; h_parcel_pk -> h_parcel, h_depot_pk -> h_depot }
        }
        satellites {
            /// A parcel's state.
            s_parcel_state: SParcelState<'a> {
                hk_parcel_state_pk; h_parcel_pk -> h_parcel; state: &'a str, weight_g: i64; effective seen_at
            }
        }
    }
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("timestamp")
}

#[test]
fn the_order_model_is_a_valid_declaration_with_the_contracts_tables() {
    let model = DvRows::MODEL;
    model.validate().expect("valid");
    assert_eq!(model.schema, "dds");
    assert_eq!(model.load_src, vault_core::orders::LOAD_SRC);
    let names: Vec<&str> = model.tables.iter().map(|t| t.name).collect();
    assert_eq!(names, DvRows::TABLES);
    let kinds = |kind| model.tables.iter().filter(|t| t.kind == kind).count();
    assert_eq!(
        (
            kinds(TableKind::Hub),
            kinds(TableKind::Link),
            kinds(TableKind::Satellite)
        ),
        (5, 4, 5)
    );
    let status = model.table("s_order_status").expect("declared");
    assert_eq!(status.effective, Some("update_ts"));
    let names = model.table("s_user_names").expect("declared");
    assert_eq!(names.effective, Some("update_ts_utc"));
    assert!(model
        .tables
        .iter()
        .filter(|t| t.kind == TableKind::Satellite)
        .all(|t| t.is_historized()));
    assert_eq!(status.parent().map(|c| c.name), Some("h_order_pk"));
    let cost = model.table("s_order_cost").expect("declared");
    let types: Vec<SqlType> = cost.attributes().map(|c| c.sql_type).collect();
    assert_eq!(types, [SqlType::Numeric, SqlType::Numeric]);
}

/// Every satellite key of the order model is the hashdiff over its declared attributes: the
/// builder's hand-written key calls and the declaration agree.
#[test]
fn order_satellite_keys_are_hashdiffs_of_their_declared_attributes() {
    let mut rng = Rng::new(7);
    let catalog = Catalog::generate(&mut rng, 3, 20);
    let start = ts("2024-01-01 10:00:00");
    struct Check<'k>(&'k KeySpec, &'k dyn Fn(&str) -> String, usize);
    impl RowVisitor for Check<'_> {
        fn table<R: DvRow>(&mut self, rows: &[R]) {
            if R::DEF.kind != TableKind::Satellite {
                return;
            }
            for row in rows {
                // The parent's business key, from the parent hub's row of the same order.
                let mut parent = None;
                let mut i = 0;
                row.visit_columns(&mut |c| {
                    if i == 1 {
                        parent = Some(c);
                    }
                    i += 1;
                });
                let Some(vault_core::Column::Uuid(parent)) = parent else {
                    panic!("{}: no parent key", R::TABLE)
                };
                let business_key = (self.1)(&parent.to_string());
                assert_eq!(
                    row.key(),
                    hashdiff(self.0, &business_key, row),
                    "{}",
                    R::TABLE
                );
                self.2 += 1;
            }
        }
    }
    for keys in [KeySpec::SEED, KeySpec::SEED.unambiguous()] {
        for i in 0..20 {
            let history = catalog.order_history(&mut rng, 500 + i, start, 0.3);
            for version in &history {
                let order = catalog.enrich(version).expect("enrichable");
                let (rows, _) = build_order(&order, keys);
                // Hub key → business key, from the hubs of the same rows.
                let mut bks = std::collections::HashMap::new();
                for h in rows.h_user.iter() {
                    bks.insert(h.h_user_pk.to_string(), h.user_id.to_owned());
                }
                for h in rows.h_restaurant.iter() {
                    bks.insert(h.h_restaurant_pk.to_string(), h.restaurant_id.to_owned());
                }
                for h in rows.h_product.iter() {
                    bks.insert(h.h_product_pk.to_string(), h.product_id.to_owned());
                }
                for h in rows.h_order.iter() {
                    bks.insert(h.h_order_pk.to_string(), h.order_id.to_string());
                }
                let lookup = |k: &str| bks.get(k).cloned().expect("a hub of this order");
                let mut check = Check(&keys, &lookup, 0);
                rows.visit(&mut check);
                assert!(check.2 >= 5, "every satellite checked");
            }
        }
    }
}

#[test]
fn a_batch_keeps_one_row_per_value_and_effective_time() {
    let keys = KeySpec::SEED;
    let mut rows = ParcelRows::default();
    let parcel = keys.hub("P-1");
    let state = |state, at| {
        SParcelState {
            hk_parcel_state_pk: Default::default(),
            h_parcel_pk: parcel,
            state,
            weight_g: 1200,
            seen_at: ts(at),
        }
        .with_hashdiff(&keys, "P-1")
    };
    // sorted at 10:00 and 12:00, 10:00 again (a duplicate), then delivered at 09:00 (late).
    for at in [
        "2024-01-01 10:00:00",
        "2024-01-01 12:00:00",
        "2024-01-01 10:00:00",
    ] {
        rows.h_parcel.push(HParcel {
            h_parcel_pk: parcel,
            parcel_code: "P-1",
        });
        rows.s_parcel_state.push(state("sorted", at));
    }
    rows.s_parcel_state
        .push(state("delivered", "2024-01-01 09:00:00"));
    assert_eq!(rows.h_parcel.len(), 1);
    assert_eq!(
        rows.s_parcel_state
            .iter()
            .map(|r| (r.state, r.seen_at.to_string()))
            .collect::<Vec<_>>(),
        [
            ("sorted", "2024-01-01 10:00:00".to_owned()),
            ("sorted", "2024-01-01 12:00:00".to_owned()),
            ("delivered", "2024-01-01 09:00:00".to_owned()),
        ],
        "every value at every effective time once, in arrival order"
    );
    let sorted = &rows.s_parcel_state[0];
    assert_eq!(
        sorted.key(),
        keys.hashdiff("P-1", &["sorted", "1200"]),
        "attributes in declared order, numbers in decimal, the effective time left out"
    );
    assert_eq!(sorted.key(), rows.s_parcel_state[1].key());
    assert_eq!(sorted.effective(), Some(ts("2024-01-01 10:00:00")));
    assert_eq!(
        sorted.identity(),
        (sorted.key(), Some(ts("2024-01-01 10:00:00")))
    );
    assert_eq!(rows.len(), 4);
    rows.clear();
    assert!(rows.is_empty());
    ParcelRows::MODEL.validate().expect("valid");
    assert_eq!(
        ParcelRows::MODEL.table("l_parcel_depot").map(|t| t
            .columns
            .iter()
            .filter_map(|c| c.references)
            .collect::<Vec<_>>()),
        Some(vec!["h_parcel", "h_depot"])
    );
}

#[test]
fn declarations_that_do_not_hold_together_are_refused() {
    use vault_core::{ColumnDef, ModelDef, TableDef};
    const KEY: ColumnDef = ColumnDef {
        name: "pk",
        sql_type: SqlType::Uuid,
        nullable: false,
        references: None,
    };
    const TO_HUB: ColumnDef = ColumnDef {
        name: "h_pk",
        sql_type: SqlType::Uuid,
        nullable: false,
        references: Some("h_missing"),
    };
    const TEXT: ColumnDef = ColumnDef {
        name: "name",
        sql_type: SqlType::Text,
        nullable: false,
        references: None,
    };
    let model = |tables: &'static [TableDef]| ModelDef {
        name: "m",
        schema: "m",
        load_src: "t",
        ghost_records: false,
        tables,
        pits: &[],
        bridges: &[],
    };
    let sat = TableDef {
        name: "s",
        kind: TableKind::Satellite,
        columns: &[KEY, TO_HUB, TEXT],
        business_key: &[],
        effective: None,
    };
    assert!(matches!(
        model(Box::leak(Box::new([sat]))).validate(),
        Err(ModelError::UnknownReference {
            target: "h_missing",
            ..
        })
    ));
    let hub = TableDef {
        name: "h",
        kind: TableKind::Hub,
        columns: &[KEY, TEXT],
        business_key: &[],
        effective: None,
    };
    assert!(matches!(
        model(Box::leak(Box::new([hub, hub]))).validate(),
        Err(ModelError::DuplicateTable { table: "h", .. })
    ));
    let versioned_by_text = TableDef {
        name: "s",
        kind: TableKind::Satellite,
        columns: &[
            KEY,
            ColumnDef {
                name: "h_pk",
                sql_type: SqlType::Uuid,
                nullable: false,
                references: Some("h"),
            },
            TEXT,
        ],
        business_key: &[],
        effective: Some("name"),
    };
    let err = model(Box::leak(Box::new([hub, versioned_by_text])))
        .validate()
        .expect_err("a text effective time");
    assert!(err.to_string().contains("effective-time"), "{err}");
}

/// Keys from declarations: a hub's `new` derives its key from its business-key columns only
/// (the order model's `h_order` is keyed by `order_id`, `order_dt` stored beside it), a link's
/// from its hubs' rows, and a satellite's `new` its hashdiff from its parent's row; all equal
/// what the order builder computes by hand.
#[test]
fn keys_derive_from_the_declaration() {
    use vault_core::orders::dv::{HOrder, HUser, LOrderUser, SOrderStatus, SUserNames};
    use vault_core::orders::OrderStatus;
    use vault_core::Parent;
    let keys = KeySpec::SEED;
    let at = ts("2022-11-19 16:06:36");
    let order = HOrder::new(&keys, 322519, at);
    assert_eq!(order.h_order_pk, keys.hub("322519"));
    assert_eq!(
        order.h_order_pk.to_string(),
        "2a47ad67-2be5-505a-8639-052c41707c9e",
        "the original services' key (docs/keys.md)"
    );
    assert_eq!(order.order_dt, at);
    assert_eq!(order.business_key(&keys), "322519");
    assert_eq!(
        DvRows::MODEL.table("h_order").map(|t| t.business_key),
        Some(&["order_id"][..])
    );
    let user = HUser::new(&keys, "u-1");
    assert_eq!(user.h_user_pk, keys.hub("u-1"));
    let names = SUserNames::new(&keys, &user, "Ann", "ann", at);
    assert_eq!(names.h_user_pk, user.h_user_pk);
    assert_eq!(
        names.hk_user_names_pk,
        keys.hashdiff("u-1", &["Ann", "ann"])
    );
    let status = SOrderStatus::new(&keys, &order, OrderStatus::Closed, at);
    assert_eq!(
        status.hk_order_status_pk,
        keys.hashdiff("322519", &["CLOSED"])
    );
    let placed = LOrderUser::new(&keys, &order, &user);
    assert_eq!(placed.hk_order_user_pk, keys.link(&["322519", "u-1"]));
    assert_eq!(
        (placed.h_order_pk, placed.h_user_pk),
        (order.h_order_pk, user.h_user_pk)
    );

    // A composite business key: each column's material, joined as KeySpec::key joins parts; a
    // link to it and a satellite of that link hash under the joined material.
    data_vault! {
        /// Seats by hall and number, and who booked them.
        pub struct SeatRows<'a> {
            model: "seats", schema: "seat", load_src: "test";
            hubs {
                /// A seat.
                h_seat: HSeat<'a> { h_seat_pk; hall: &'a str, seat_no: i32; label: Option<String> }
                /// A guest.
                h_guest: HGuest { h_guest_pk; guest_id: i64 }
            }
            links {
                /// A booking.
                l_booking: LBooking { hk_booking_pk; h_seat_pk -> h_seat, h_guest_pk -> h_guest }
            }
            satellites {
                /// A booking's price.
                s_booking_price: SBookingPrice { hk_price_pk; hk_booking_pk -> l_booking; price: i64; insert_once }
            }
        }
    }
    let seat = HSeat::new(&keys, "B", 12, None);
    assert_eq!(seat.h_seat_pk, keys.key(["B", "12"]));
    assert_eq!(SeatRows::MODEL.tables[0].business_key, ["hall", "seat_no"]);
    assert_eq!(seat.business_key(&keys), keys.material(["B", "12"]));
    let guest = HGuest::new(&keys, 9);
    let booking = LBooking::linked(&keys, &seat, &guest);
    let seat_material = keys.material(["B", "12"]);
    assert_eq!(
        booking.row().hk_booking_pk,
        keys.link(&[&seat_material, "9"])
    );
    assert_eq!(LBooking::new(&keys, &seat, &guest), *booking.row());
    let price = SBookingPrice::new(&keys, &booking, 120);
    assert_eq!(price.hk_booking_pk, booking.row().hk_booking_pk);
    assert_eq!(
        price.hk_price_pk,
        keys.hashdiff(&keys.material([seat_material.as_str(), "9"]), &["120"])
    );
    assert_eq!(booking.into_row().h_guest_pk, guest.h_guest_pk);
    // Under escaped joining the composite business key is joined (escaping its parts), then
    // escaped again as one part of the link's material (docs/keys.md).
    let escaped = KeySpec::SEED.unambiguous();
    let seat = HSeat::new(&escaped, "B#1", 12, None);
    let guest = HGuest::new(&escaped, 9);
    let joined = escaped.material(["B#1", "12"]);
    assert_eq!(joined, "B\\#1#$#12");
    assert_eq!(
        LBooking::new(&escaped, &seat, &guest).hk_booking_pk,
        escaped.link(&[&joined, "9"])
    );
}
