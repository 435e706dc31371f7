//! The Data Vault toolkit: declare your own hubs, links and satellites in Rust, get typed rows,
//! deterministic keys ([`crate::KeySpec`]), batches de-duplicated by key, and a description of
//! the model ([`ModelDef`]) from which an adapter makes the DDL and the loader
//! (`vault_pg::model`). The order model of this project ([`crate::orders::DvRows`]) is declared with
//! it too. The rules are below; the project's guide walks through a model of its own.
//!
//! A model is declared with [`crate::data_vault!`]:
//!
//! ```
//! use vault_core::{data_vault, DvRow, KeySpec, RowSet, Timestamp};
//!
//! data_vault! {
//!     /// Couriers and their deliveries.
//!     pub struct CourierRows<'a> {
//!         model: "couriers", schema: "courier", load_src: "courier-app";
//!         hubs {
//!             /// A courier, by id.
//!             h_courier: HCourier<'a> { h_courier_pk; courier_id: &'a str }
//!             /// A delivery, by number.
//!             h_delivery: HDelivery { h_delivery_pk; delivery_id: i64 }
//!         }
//!         links {
//!             /// Who made a delivery.
//!             l_delivery_courier: LDeliveryCourier {
//!                 hk_delivery_courier_pk; h_delivery_pk -> h_delivery, h_courier_pk -> h_courier
//!             }
//!         }
//!         satellites {
//!             /// A courier's name: one period per change, by the source's time.
//!             s_courier_name: SCourierName<'a> {
//!                 hk_courier_name_pk; h_courier_pk -> h_courier; name: &'a str; effective updated_at
//!             }
//!         }
//!     }
//! }
//!
//! let keys = KeySpec::SEED;
//! let mut rows = CourierRows::default();
//! let at = |hour| Timestamp::parse(&format!("2024-05-01 {hour:02}:00:00"));
//! let courier = HCourier::new(&keys, "c-7"); // its key from its business key
//! let delivery = HDelivery::new(&keys, 1001);
//! rows.l_delivery_courier.push(LDeliveryCourier::new(&keys, &delivery, &courier));
//! // Ann → Bob → Ann, and the first message again (a replay).
//! for (name, hour) in [("Ann", 10), ("Bob", 11), ("Ann", 12), ("Ann", 10)] {
//!     rows.h_courier.push(courier.clone());
//!     rows.s_courier_name.push(SCourierName::new(&keys, &courier, name, at(hour)?));
//! }
//! assert_eq!(rows.h_courier.len(), 1); // de-duplicated by key
//! assert_eq!(rows.s_courier_name.len(), 3); // three periods; the replay adds nothing
//! assert_eq!(courier.h_courier_pk, keys.hub("c-7"));
//! assert_eq!(rows.l_delivery_courier[0].key(), keys.link(&["1001", "c-7"]));
//! assert_eq!(rows.s_courier_name[0].key(), keys.hashdiff("c-7", &["Ann"]));
//! assert_eq!(rows.s_courier_name[2].key(), rows.s_courier_name[0].key());
//! CourierRows::MODEL.validate()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod def;
mod parent;
mod row;
mod table;

pub use def::{
    BridgeDef, BridgeStep, ColumnDef, ModelDef, ModelError, PitDef, SqlType, TableDef, TableKind,
};
#[doc(hidden)]
pub use parent::{business_key_of, same_table};
pub use parent::{Linked, Parent};
pub use row::{hashdiff, Column, DvRow, RowSet, RowVisitor, SqlValue};
pub use table::Table;

/// Declares a Data Vault model: one row type per hub, link and satellite, and a batch type
/// holding a de-duplicating [`Table`] of each (hubs, then links, then satellites).
///
/// ```text
/// data_vault! {
///     /// docs
///     pub struct Rows<'a> {
///         model: "name", schema: "db_schema", load_src: "load_src value";
///         hubs       { h_x: HX<'a> { h_x_pk; business_key: &'a str, …[; other: Type, …] } … }
///         links      { l_x_y: LXY { hk_x_y_pk; h_x_pk -> h_x, h_y_pk -> h_y, … } … }
///         satellites { s_x: SX<'a> { hk_x_pk; h_x_pk -> h_x; attribute: Type, …; effective column } …
///                      s_y: SY { hk_y_pk; h_y_pk -> h_y; attribute: Type, …; insert_once } … }
///         // Optional, in this order:
///         effectivity  { es_x_y: EsXY { hk_x_y_pk -> l_x_y; driving h_x_pk -> h_x; effective column } … }
///         multi_active { ma_x: MaX<'a> { hk_pk; h_x_pk -> h_x; dependent: Type, …; attribute: Type, …; effective column } … }
///         references   { r_x: RX<'a> { hk_pk; code: Type; attribute: Type, …; effective column | insert_once } … }
///         pits         { pit_x { h_x; s_x, … } … }
///         bridges      { b_x { h_x -> l_x_y -> h_y … } … }
///     }
/// }
/// ```
///
/// The header may end with `, ghost_records: true` ([`ModelDef::ghost_records`]); a link may
/// carry a payload after a second `;` (a non-historized link: `t_x: TX { hk; h_a_pk -> h_a,
/// h_b_pk -> h_b; amount: i64, at: Timestamp }`). The patterns: [`TableKind::Effectivity`],
/// [`TableKind::MultiActive`], [`TableKind::Reference`], [`PitDef`], [`BridgeDef`], and a row's
/// own record source ([`Table::push_from`]); the project's guide has a
/// section on each.
///
/// * Every table's first column is its `uuid` key; hub columns are the business key (and any
///   other insert-once column); link columns reference the hubs they join (`-> hub`); a
///   satellite has one parent reference, its attributes, and then says how it keeps history:
///   `effective column` names a [`crate::Timestamp`] field, the time from which the source says
///   the value holds (never the load clock): every distinct value at every effective time is a
///   row, so A → B → A keeps three periods ([`TableDef::effective`]); `insert_once` is for
///   values that never change (one row per key, no history). Neither is a compile error, so
///   nobody loses history by default.
/// * Column types are any [`SqlValue`]: text, booleans, integers, floats, exact decimals
///   ([`crate::Amount`]), UUIDs, dates, timestamps without ([`crate::Timestamp`]) and with zone,
///   JSON, `Option<T>` for a nullable column, and types of your own; a row type that borrows is
///   declared with the lifetime `'a`, the batch type's.
/// * The generated batch type implements [`RowSet`] (its [`ModelDef`] is `Rows::MODEL`) and has
///   `TABLES`, `len`, `is_empty`, `visit` and `clear`; every row type implements [`DvRow`] and
///   `serde::Serialize`.
///
/// Mistakes found at compile time: a link to a table that is not a declared hub, a satellite
/// whose parent is not a declared hub or link, a hub without a business key, a satellite that
/// does not say how it keeps history, and a constructor handed a row of another table than its
/// reference names (that last one when the code is built, not by `cargo check`: it is a constant
/// evaluated where the constructor is used):
///
/// ```compile_fail,E0599
/// vault_core::data_vault! {
///     /// A link to a hub nobody declared.
///     pub struct Rows<'a> {
///         model: "m", schema: "m", load_src: "t";
///         hubs { h_a: HA<'a> { h_a_pk; a: &'a str } }
///         links { l_a_b: LAB { hk_a_b_pk; h_a_pk -> h_a, h_b_pk -> h_b } }
///         satellites {}
///     }
/// }
/// ```
///
/// ```compile_fail,E0599
/// vault_core::data_vault! {
///     /// A satellite of a table nobody declared.
///     pub struct Rows<'a> {
///         model: "m", schema: "m", load_src: "t";
///         hubs { h_a: HA<'a> { h_a_pk; a: &'a str } }
///         links {}
///         satellites { s_b: SB<'a> { hk_b_pk; h_b_pk -> h_b; name: &'a str; insert_once } }
///     }
/// }
/// ```
///
/// ```compile_fail
/// vault_core::data_vault! {
///     /// A hub without a business key ("hub `h_a` has no business key: list its
///     /// business-key columns after its key").
///     pub struct Rows<'a> {
///         model: "m", schema: "m", load_src: "t";
///         hubs { h_a: HA { h_a_pk; } }
///         links {}
///         satellites {}
///     }
/// }
/// ```
///
/// ```compile_fail,E0080
/// vault_core::data_vault! {
///     /// Two hubs, and a satellite of one of them.
///     pub struct Rows<'a> {
///         model: "m", schema: "m", load_src: "t";
///         hubs { h_a: HA<'a> { h_a_pk; a: &'a str } h_b: HB<'a> { h_b_pk; b: &'a str } }
///         links {}
///         satellites { s_a: SA<'a> { hk_a_pk; h_a_pk -> h_a; name: &'a str; insert_once } }
///     }
/// }
/// let keys = vault_core::KeySpec::SEED;
/// // A row of h_b where s_a describes h_a: "`s_a`'s `h_a_pk` takes a row of `h_a`".
/// let _ = SA::new(&keys, &HB::new(&keys, "b-1"), "Ann");
/// ```
///
/// ```compile_fail
/// vault_core::data_vault! {
///     /// A satellite that says nothing of its history.
///     pub struct Rows<'a> {
///         model: "m", schema: "m", load_src: "t";
///         hubs { h_a: HA<'a> { h_a_pk; a: &'a str } }
///         links {}
///         satellites { s_a: SA<'a> { hk_a_pk; h_a_pk -> h_a; name: &'a str } }
///     }
/// }
/// ```
///
/// A hub lists its business-key columns after its key, and optionally, after a second `;`,
/// other columns stored with it that are not part of its key
/// (`h_order: HOrder { h_order_pk; order_id: i64; order_dt: Timestamp }`). Every row type has a
/// `new` that derives its key from the declaration (an effectivity satellite's takes its link's
/// and driving hub's keys):
///
/// * a hub's from its business key (`HOrder::new(&keys, 322519, placed_at)`); a hub row is a
///   [`Parent`];
/// * a link's from the rows of the hubs it joins, in declared order
///   (`LOrderUser::new(&keys, &order, &user)`), then a non-historized link's payload values;
///   `LOrderUser::linked(…)` returns it with its business key ([`Linked`]), the parent of the
///   link's satellites;
/// * a satellite's (and a multi-active satellite's) hashdiff from its attributes under its
///   parent's business key, the parent's row first (`SUserNames::new(&keys, &user, "Ann",
///   "ann", at)`);
/// * a reference table's from its code (`RCountry::new(&keys, "SZ", "Eswatini", at)`).
///
/// A struct literal and [`DvRow::with_hashdiff`] remain for a hand-made row (the order model's
/// builder does so, computing each business key once per order).
#[macro_export]
macro_rules! data_vault {
    (
        $(#[$meta:meta])*
        $vis:vis struct $Rows:ident<$lt:lifetime> {
            model: $model:literal, schema: $schema:literal, load_src: $load_src:literal
                $(, ghost_records: $ghost:literal)?;
            hubs {
                $( $(#[$hdoc:meta])* $ht:ident : $HRow:ident $(<$hlt:lifetime>)?
                    { $hpk:ident ; $($hcol:ident : $hty:ty),* $(,)?
                      $(; $($hxcol:ident : $hxty:ty),+ $(,)?)? } )*
            }
            links {
                $( $(#[$ldoc:meta])* $lnk:ident : $LRow:ident $(<$llt:lifetime>)?
                    { $lpk:ident ; $($lcol:ident -> $lref:ident),+ $(,)?
                      $(; $($lxcol:ident : $lxty:ty),+ $(,)?)? } )*
            }
            satellites {
                $( $(#[$sdoc:meta])* $st:ident : $SRow:ident $(<$slt:lifetime>)?
                    { $spk:ident ; $sfk:ident -> $sref:ident ; $($scol:ident : $sty:ty),+
                      $(; $history:ident $($sver:ident)?)? } )*
            }
            $(effectivity {
                $( $(#[$edoc:meta])* $et:ident : $ERow:ident
                    { $elk:ident -> $eref:ident ; driving $edk:ident -> $edref:ident ;
                      effective $eat:ident } )*
            })?
            $(multi_active {
                $( $(#[$mdoc:meta])* $mt:ident : $MRow:ident $(<$mlt:lifetime>)?
                    { $mpk:ident ; $mfk:ident -> $mref:ident ; $($mcdk:ident : $mcdty:ty),+ ;
                      $($mcol:ident : $mty:ty),+ $(,)? ; effective $mver:ident } )*
            })?
            $(references {
                $( $(#[$rdoc:meta])* $rt:ident : $RRow:ident $(<$rlt:lifetime>)?
                    { $rpk:ident ; $rcode:ident : $rcty:ty ; $($rcol:ident : $rty:ty),+ $(,)?
                      ; $rhistory:ident $($rver:ident)? } )*
            })?
            $(pits {
                $( $(#[$pdoc:meta])* $pt:ident { $phub:ident ; $($psat:ident),+ $(,)? } )*
            })?
            $(bridges {
                $( $(#[$bdoc:meta])* $bt:ident { $bhub:ident $(-> $blink:ident -> $bnext:ident)+ } )*
            })?
        }
    ) => {
        $(
            $(#[$hdoc])*
            #[derive(Debug, Clone, PartialEq, $crate::serde::Serialize)]
            #[serde(crate = "vault_core::serde")]
            #[allow(missing_docs)]
            pub struct $HRow $(<$hlt>)? {
                pub $hpk: $crate::uuid::Uuid,
                $(pub $hcol: $hty,)*
                $($(pub $hxcol: $hxty,)+)?
            }

            impl $(<$hlt>)? $HRow $(<$hlt>)? {
                /// The row, its key derived from its business key: [`KeySpec::key`] over the
                /// material of each business-key column, in declared order (the key spec's
                /// [`KeySpec::hub`] for a single one).
                ///
                /// [`KeySpec::key`]: $crate::KeySpec::key
                /// [`KeySpec::hub`]: $crate::KeySpec::hub
                #[allow(clippy::too_many_arguments)]
                pub fn new(keys: &$crate::KeySpec, $($hcol: $hty,)* $($($hxcol: $hxty,)+)?) -> Self {
                    let mut row = $HRow {
                        $hpk: $crate::uuid::Uuid::nil(),
                        $($hcol,)*
                        $($($hxcol,)+)?
                    };
                    let material = [$($crate::toolkit::SqlValue::column(&row.$hcol).material().into_owned()),*];
                    row.$hpk = keys.key(material.iter().map(::std::string::String::as_str));
                    row
                }
            }

            $crate::data_vault!(@business_key $ht $($hcol)*);

            impl $(<$hlt>)? $crate::toolkit::Parent for $HRow $(<$hlt>)? {
                const TABLE: &'static str = stringify!($ht);
                fn parent_key(&self) -> $crate::uuid::Uuid {
                    self.$hpk
                }
                fn business_key(&self, keys: &$crate::KeySpec) -> ::std::string::String {
                    $crate::toolkit::business_key_of(keys, ::std::vec![
                        $($crate::toolkit::SqlValue::column(&self.$hcol).material().into_owned()),*
                    ])
                }
            }

            impl $(<$hlt>)? $crate::toolkit::DvRow for $HRow $(<$hlt>)? {
                const DEF: $crate::toolkit::TableDef = $crate::toolkit::TableDef {
                    name: stringify!($ht),
                    kind: $crate::toolkit::TableKind::Hub,
                    columns: &[
                        $crate::data_vault!(@key $hpk),
                        $($crate::data_vault!(@column $hcol: $hty),)*
                        $($($crate::data_vault!(@column $hxcol: $hxty),)+)?
                    ],
                    business_key: &[$(stringify!($hcol)),*],
                    effective: None,
                };
                const COLUMNS: &'static [&'static str] =
                    &[stringify!($hpk) $(, stringify!($hcol))* $($(, stringify!($hxcol))+)?];
                fn key(&self) -> $crate::uuid::Uuid {
                    self.$hpk
                }
                fn set_key(&mut self, key: $crate::uuid::Uuid) {
                    self.$hpk = key;
                }
                fn visit_columns<'s>(&'s self, f: &mut dyn FnMut($crate::toolkit::Column<'s>)) {
                    f($crate::toolkit::SqlValue::column(&self.$hpk));
                    $(f($crate::toolkit::SqlValue::column(&self.$hcol));)*
                    $($(f($crate::toolkit::SqlValue::column(&self.$hxcol));)+)?
                }
            }
        )*
        $(
            $(#[$ldoc])*
            #[derive(Debug, Clone, PartialEq, $crate::serde::Serialize)]
            #[serde(crate = "vault_core::serde")]
            #[allow(missing_docs)]
            pub struct $LRow $(<$llt>)? {
                pub $lpk: $crate::uuid::Uuid,
                $(pub $lcol: $crate::uuid::Uuid,)+
                $($(pub $lxcol: $lxty,)+)?
            }

            impl $(<$llt>)? $LRow $(<$llt>)? {
                /// The row joining these hub rows, its key derived from their business keys
                /// ([`KeySpec::link`], in declared order), and for a non-historized link from
                /// its payload's values after them (an event is its whole content: sent twice
                /// it is one row, two events between the same hubs are two). Each argument is a
                /// row of the hub its column references (checked at compile time).
                ///
                /// [`KeySpec::link`]: $crate::KeySpec::link
                #[allow(clippy::too_many_arguments)]
                pub fn new(
                    keys: &$crate::KeySpec,
                    $($lcol: &impl $crate::toolkit::Parent,)+
                    $($($lxcol: $lxty,)+)?
                ) -> Self {
                    Self::linked(keys, $($lcol,)+ $($($lxcol,)+)?).into_row()
                }

                /// [`new`](Self::new), with the business key the key was made from: what a
                /// satellite of this link takes as its parent.
                #[allow(clippy::too_many_arguments)]
                pub fn linked(
                    keys: &$crate::KeySpec,
                    $($lcol: &impl $crate::toolkit::Parent,)+
                    $($($lxcol: $lxty,)+)?
                ) -> $crate::toolkit::Linked<Self> {
                    $($crate::data_vault!(@parent_of $lnk, $lcol -> $lref);)+
                    let parts = [
                        $($crate::toolkit::Parent::business_key($lcol, keys)),+
                        $($(, $crate::toolkit::SqlValue::column(&$lxcol).material().into_owned())+)?
                    ];
                    let row = $LRow {
                        $lpk: keys.key(parts.iter().map(::std::string::String::as_str)),
                        $($lcol: $crate::toolkit::Parent::parent_key($lcol),)+
                        $($($lxcol,)+)?
                    };
                    $crate::toolkit::Linked::new(row, keys.material(parts.iter().map(::std::string::String::as_str)))
                }
            }

            impl $(<$llt>)? $crate::toolkit::DvRow for $LRow $(<$llt>)? {
                const DEF: $crate::toolkit::TableDef = $crate::toolkit::TableDef {
                    name: stringify!($lnk),
                    kind: $crate::toolkit::TableKind::Link,
                    columns: &[
                        $crate::data_vault!(@key $lpk),
                        $($crate::data_vault!(@reference $lcol -> $lref),)+
                        $($($crate::data_vault!(@column $lxcol: $lxty),)+)?
                    ],
                    business_key: &[],
                    effective: None,
                };
                const COLUMNS: &'static [&'static str] =
                    &[stringify!($lpk) $(, stringify!($lcol))+ $($(, stringify!($lxcol))+)?];
                fn key(&self) -> $crate::uuid::Uuid {
                    self.$lpk
                }
                fn set_key(&mut self, key: $crate::uuid::Uuid) {
                    self.$lpk = key;
                }
                fn visit_columns<'s>(&'s self, f: &mut dyn FnMut($crate::toolkit::Column<'s>)) {
                    f($crate::toolkit::SqlValue::column(&self.$lpk));
                    $(f($crate::toolkit::SqlValue::column(&self.$lcol));)+
                    $($(f($crate::toolkit::SqlValue::column(&self.$lxcol));)+)?
                }
            }
        )*
        $(
            $(#[$sdoc])*
            #[derive(Debug, Clone, PartialEq, $crate::serde::Serialize)]
            #[serde(crate = "vault_core::serde")]
            #[allow(missing_docs)]
            pub struct $SRow $(<$slt>)? {
                pub $spk: $crate::uuid::Uuid,
                pub $sfk: $crate::uuid::Uuid,
                $(pub $scol: $sty,)+
                $($(pub $sver: $crate::Timestamp,)?)?
            }

            impl $(<$slt>)? $SRow $(<$slt>)? {
                /// The row describing `parent` (a row of the table its reference names, checked
                /// at compile time: a hub's row, or a link's from its `linked`), its key the
                /// hashdiff of its attributes ([`DvRow::with_hashdiff`]) under the parent's
                /// business key.
                ///
                /// [`DvRow::with_hashdiff`]: $crate::toolkit::DvRow::with_hashdiff
                #[allow(clippy::too_many_arguments)]
                pub fn new(
                    keys: &$crate::KeySpec,
                    $sfk: &impl $crate::toolkit::Parent,
                    $($scol: $sty,)+
                    $($($sver: $crate::Timestamp,)?)?
                ) -> Self {
                    $crate::data_vault!(@parent_of $st, $sfk -> $sref);
                    $crate::toolkit::DvRow::with_hashdiff(
                        $SRow {
                            $spk: $crate::uuid::Uuid::nil(),
                            $sfk: $crate::toolkit::Parent::parent_key($sfk),
                            $($scol,)+ $($($sver,)?)?
                        },
                        keys,
                        &$crate::toolkit::Parent::business_key($sfk, keys),
                    )
                }
            }

            impl $(<$slt>)? $crate::toolkit::DvRow for $SRow $(<$slt>)? {
                const DEF: $crate::toolkit::TableDef = $crate::toolkit::TableDef {
                    name: stringify!($st),
                    kind: $crate::toolkit::TableKind::Satellite,
                    columns: &[
                        $crate::data_vault!(@key $spk),
                        $crate::data_vault!(@reference $sfk -> $sref),
                        $($crate::data_vault!(@column $scol: $sty),)+
                        $($($crate::data_vault!(@column $sver: $crate::Timestamp),)?)?
                    ],
                    business_key: &[],
                    effective: $crate::data_vault!(@history $($history $($sver)?)?),
                };
                const COLUMNS: &'static [&'static str] = &[
                    stringify!($spk), stringify!($sfk) $(, stringify!($scol))+ $($(, stringify!($sver))?)?
                ];
                fn key(&self) -> $crate::uuid::Uuid {
                    self.$spk
                }
                fn set_key(&mut self, key: $crate::uuid::Uuid) {
                    self.$spk = key;
                }
                fn visit_columns<'s>(&'s self, f: &mut dyn FnMut($crate::toolkit::Column<'s>)) {
                    f($crate::toolkit::SqlValue::column(&self.$spk));
                    f($crate::toolkit::SqlValue::column(&self.$sfk));
                    $(f($crate::toolkit::SqlValue::column(&self.$scol));)+
                    $($(f($crate::toolkit::SqlValue::column(&self.$sver));)?)?
                }
                $crate::data_vault!(@effective $($($sver)?)?);
            }
        )*

        $($(
            $(#[$edoc])*
            #[derive(Debug, Clone, PartialEq, $crate::serde::Serialize)]
            #[serde(crate = "vault_core::serde")]
            #[allow(missing_docs)]
            pub struct $ERow {
                pub $elk: $crate::uuid::Uuid,
                pub $edk: $crate::uuid::Uuid,
                pub is_active: bool,
                pub $eat: $crate::Timestamp,
            }

            impl $ERow {
                /// The link holds for its driving key from `at` on (ending the period of any
                /// other link of the same driving key).
                pub fn new(
                    $elk: $crate::uuid::Uuid,
                    $edk: $crate::uuid::Uuid,
                    $eat: $crate::Timestamp,
                ) -> Self {
                    $ERow { $elk, $edk, is_active: true, $eat }
                }

                /// The link ends at `at`, with no other link of its driving key taking its place
                /// (the source says the relationship is gone).
                pub fn ended(
                    $elk: $crate::uuid::Uuid,
                    $edk: $crate::uuid::Uuid,
                    $eat: $crate::Timestamp,
                ) -> Self {
                    $ERow { $elk, $edk, is_active: false, $eat }
                }
            }

            impl $crate::toolkit::DvRow for $ERow {
                const DEF: $crate::toolkit::TableDef = $crate::toolkit::TableDef {
                    name: stringify!($et),
                    kind: $crate::toolkit::TableKind::Effectivity,
                    columns: &[
                        $crate::data_vault!(@reference $elk -> $eref),
                        $crate::data_vault!(@reference $edk -> $edref),
                        $crate::data_vault!(@column is_active: bool),
                        $crate::data_vault!(@column $eat: $crate::Timestamp),
                    ],
                    business_key: &[],
                    effective: Some(stringify!($eat)),
                };
                const COLUMNS: &'static [&'static str] =
                    &[stringify!($elk), stringify!($edk), "is_active", stringify!($eat)];
                fn key(&self) -> $crate::uuid::Uuid {
                    self.$elk
                }
                fn set_key(&mut self, key: $crate::uuid::Uuid) {
                    self.$elk = key;
                }
                fn visit_columns<'s>(&'s self, f: &mut dyn FnMut($crate::toolkit::Column<'s>)) {
                    f($crate::toolkit::SqlValue::column(&self.$elk));
                    f($crate::toolkit::SqlValue::column(&self.$edk));
                    f($crate::toolkit::SqlValue::column(&self.is_active));
                    f($crate::toolkit::SqlValue::column(&self.$eat));
                }
                fn effective(&self) -> Option<$crate::Timestamp> {
                    Some(self.$eat)
                }
            }
        )*)?

        $($(
            $(#[$rdoc])*
            #[derive(Debug, Clone, PartialEq, $crate::serde::Serialize)]
            #[serde(crate = "vault_core::serde")]
            #[allow(missing_docs)]
            pub struct $RRow $(<$rlt>)? {
                pub $rpk: $crate::uuid::Uuid,
                pub $rcode: $rcty,
                $(pub $rcol: $rty,)+
                $(pub $rver: $crate::Timestamp,)?
            }

            impl $(<$rlt>)? $RRow $(<$rlt>)? {
                /// The row, its key derived from its code: an insert-once table's from the code
                /// alone (one row per code), a historized one's the hashdiff of its attributes
                /// under the code (one row per value and effective time).
                #[allow(clippy::too_many_arguments)]
                pub fn new(
                    keys: &$crate::KeySpec,
                    $rcode: $rcty,
                    $($rcol: $rty,)+
                    $($rver: $crate::Timestamp,)?
                ) -> Self {
                    let mut row = $RRow { $rpk: $crate::uuid::Uuid::nil(), $rcode, $($rcol,)+ $($rver,)? };
                    let code = $crate::toolkit::SqlValue::column(&row.$rcode).material().into_owned();
                    row.$rpk = $crate::data_vault!(@reference_key $rhistory, keys, code, row);
                    row
                }
            }

            impl $(<$rlt>)? $crate::toolkit::DvRow for $RRow $(<$rlt>)? {
                const DEF: $crate::toolkit::TableDef = $crate::toolkit::TableDef {
                    name: stringify!($rt),
                    kind: $crate::toolkit::TableKind::Reference,
                    columns: &[
                        $crate::data_vault!(@key $rpk),
                        $crate::data_vault!(@column $rcode: $rcty),
                        $($crate::data_vault!(@column $rcol: $rty),)+
                        $($crate::data_vault!(@column $rver: $crate::Timestamp),)?
                    ],
                    business_key: &[stringify!($rcode)],
                    effective: $crate::data_vault!(@history $rhistory $($rver)?),
                };
                const COLUMNS: &'static [&'static str] = &[
                    stringify!($rpk), stringify!($rcode) $(, stringify!($rcol))+ $(, stringify!($rver))?
                ];
                fn key(&self) -> $crate::uuid::Uuid {
                    self.$rpk
                }
                fn set_key(&mut self, key: $crate::uuid::Uuid) {
                    self.$rpk = key;
                }
                fn visit_columns<'s>(&'s self, f: &mut dyn FnMut($crate::toolkit::Column<'s>)) {
                    f($crate::toolkit::SqlValue::column(&self.$rpk));
                    f($crate::toolkit::SqlValue::column(&self.$rcode));
                    $(f($crate::toolkit::SqlValue::column(&self.$rcol));)+
                    $(f($crate::toolkit::SqlValue::column(&self.$rver));)?
                }
                $crate::data_vault!(@effective $($rver)?);
            }
        )*)?

        $($(
            $(#[$mdoc])*
            #[derive(Debug, Clone, PartialEq, $crate::serde::Serialize)]
            #[serde(crate = "vault_core::serde")]
            #[allow(missing_docs)]
            pub struct $MRow $(<$mlt>)? {
                pub $mpk: $crate::uuid::Uuid,
                pub $mfk: $crate::uuid::Uuid,
                $(pub $mcdk: $mcdty,)+
                $(pub $mcol: $mty,)+
                pub $mver: $crate::Timestamp,
            }

            impl $(<$mlt>)? $MRow $(<$mlt>)? {
                /// One member of `parent`'s set at its effective time (a row of the table its
                /// reference names, checked at compile time), its key the hashdiff of its
                /// dependent key and attributes under the parent's business key.
                #[allow(clippy::too_many_arguments)]
                pub fn new(
                    keys: &$crate::KeySpec,
                    $mfk: &impl $crate::toolkit::Parent,
                    $($mcdk: $mcdty,)+
                    $($mcol: $mty,)+
                    $mver: $crate::Timestamp,
                ) -> Self {
                    $crate::data_vault!(@parent_of $mt, $mfk -> $mref);
                    $crate::toolkit::DvRow::with_hashdiff(
                        $MRow {
                            $mpk: $crate::uuid::Uuid::nil(),
                            $mfk: $crate::toolkit::Parent::parent_key($mfk),
                            $($mcdk,)+ $($mcol,)+ $mver
                        },
                        keys,
                        &$crate::toolkit::Parent::business_key($mfk, keys),
                    )
                }
            }

            impl $(<$mlt>)? $crate::toolkit::DvRow for $MRow $(<$mlt>)? {
                const DEF: $crate::toolkit::TableDef = $crate::toolkit::TableDef {
                    name: stringify!($mt),
                    kind: $crate::toolkit::TableKind::MultiActive,
                    columns: &[
                        $crate::data_vault!(@key $mpk),
                        $crate::data_vault!(@reference $mfk -> $mref),
                        $($crate::data_vault!(@column $mcdk: $mcdty),)+
                        $($crate::data_vault!(@column $mcol: $mty),)+
                        $crate::data_vault!(@column $mver: $crate::Timestamp),
                    ],
                    business_key: &[$(stringify!($mcdk)),+],
                    effective: Some(stringify!($mver)),
                };
                const COLUMNS: &'static [&'static str] = &[
                    stringify!($mpk), stringify!($mfk) $(, stringify!($mcdk))+ $(, stringify!($mcol))+,
                    stringify!($mver)
                ];
                fn key(&self) -> $crate::uuid::Uuid {
                    self.$mpk
                }
                fn set_key(&mut self, key: $crate::uuid::Uuid) {
                    self.$mpk = key;
                }
                fn visit_columns<'s>(&'s self, f: &mut dyn FnMut($crate::toolkit::Column<'s>)) {
                    f($crate::toolkit::SqlValue::column(&self.$mpk));
                    f($crate::toolkit::SqlValue::column(&self.$mfk));
                    $(f($crate::toolkit::SqlValue::column(&self.$mcdk));)+
                    $(f($crate::toolkit::SqlValue::column(&self.$mcol));)+
                    f($crate::toolkit::SqlValue::column(&self.$mver));
                }
                fn effective(&self) -> Option<$crate::Timestamp> {
                    Some(self.$mver)
                }
            }
        )*)?

        // Every reference names a table the model declares: a link's a hub, a satellite's a hub
        // or a link, an effectivity satellite's a link and a hub, a PIT's a hub and satellites
        // ("no variant named `h_x` found for enum `Hubs`" otherwise).
        const _: () = {
            #[allow(non_camel_case_types, dead_code)]
            enum Hubs { $($ht,)* }
            #[allow(non_camel_case_types, dead_code)]
            enum Links { $($lnk,)* }
            #[allow(non_camel_case_types, dead_code)]
            enum HubsAndLinks { $($ht,)* $($lnk,)* }
            #[allow(non_camel_case_types, dead_code)]
            enum Satellites { $($st,)* }
            $($(let _ = Hubs::$lref;)+)*
            $(let _ = HubsAndLinks::$sref;)*
            $($(let _ = Links::$eref; let _ = Hubs::$edref;)*)?
            $($(let _ = HubsAndLinks::$mref;)*)?
            $($(let _ = Hubs::$phub; $(let _ = Satellites::$psat;)+)*)?
            $($(let _ = Hubs::$bhub; $(let _ = Links::$blink; let _ = Hubs::$bnext;)+)*)?
        };

        $(#[$meta])*
        #[derive(Debug, Default, Clone, PartialEq)]
        $vis struct $Rows<$lt> {
            $( $(#[$hdoc])* pub $ht: $crate::toolkit::Table<$HRow $(<$hlt>)?>, )*
            $( $(#[$ldoc])* pub $lnk: $crate::toolkit::Table<$LRow $(<$llt>)?>, )*
            $( $(#[$sdoc])* pub $st: $crate::toolkit::Table<$SRow $(<$slt>)?>, )*
            $($( $(#[$edoc])* pub $et: $crate::toolkit::Table<$ERow>, )*)?
            $($( $(#[$mdoc])* pub $mt: $crate::toolkit::Table<$MRow $(<$mlt>)?>, )*)?
            $($( $(#[$rdoc])* pub $rt: $crate::toolkit::Table<$RRow $(<$rlt>)?>, )*)?
            _borrows: ::std::marker::PhantomData<&$lt ()>,
        }

        impl<$lt> $crate::toolkit::RowSet for $Rows<$lt> {
            const MODEL: $crate::toolkit::ModelDef = $crate::toolkit::ModelDef {
                name: $model,
                schema: $schema,
                load_src: $load_src,
                ghost_records: $crate::data_vault!(@flag $($ghost)?),
                tables: &[
                    $(<$HRow $(<$hlt>)? as $crate::toolkit::DvRow>::DEF,)*
                    $(<$LRow $(<$llt>)? as $crate::toolkit::DvRow>::DEF,)*
                    $(<$SRow $(<$slt>)? as $crate::toolkit::DvRow>::DEF,)*
                    $($(<$ERow as $crate::toolkit::DvRow>::DEF,)*)?
                    $($(<$MRow $(<$mlt>)? as $crate::toolkit::DvRow>::DEF,)*)?
                    $($(<$RRow $(<$rlt>)? as $crate::toolkit::DvRow>::DEF,)*)?
                ],
                pits: &[$($(
                    $crate::toolkit::PitDef {
                        name: stringify!($pt),
                        hub: stringify!($phub),
                        satellites: &[$(stringify!($psat)),+],
                    },
                )*)?],
                bridges: &[$($(
                    $crate::toolkit::BridgeDef {
                        name: stringify!($bt),
                        hub: stringify!($bhub),
                        path: &[$(
                            $crate::toolkit::BridgeStep { link: stringify!($blink), hub: stringify!($bnext) }
                        ),+],
                    },
                )*)?],
            };
            fn visit<V: $crate::toolkit::RowVisitor>(&self, visitor: &mut V) {
                $(visitor.table_of(&self.$ht);)*
                $(visitor.table_of(&self.$lnk);)*
                $(visitor.table_of(&self.$st);)*
                $($(visitor.table_of(&self.$et);)*)?
                $($(visitor.table_of(&self.$mt);)*)?
                $($(visitor.table_of(&self.$rt);)*)?
            }
            fn row_count(&self) -> usize {
                0 $(+ self.$ht.len())* $(+ self.$lnk.len())* $(+ self.$st.len())*
                    $($(+ self.$et.len())*)? $($(+ self.$mt.len())*)? $($(+ self.$rt.len())*)?
            }
        }

        #[allow(dead_code)]
        impl<$lt> $Rows<$lt> {
            /// The names of every table: hubs, links, satellites, effectivity satellites, multi-active
            /// satellites, reference tables.
            pub const TABLES: &'static [&'static str] = &[
                $(stringify!($ht),)* $(stringify!($lnk),)* $(stringify!($st),)*
                $($(stringify!($et),)*)? $($(stringify!($mt),)*)? $($(stringify!($rt),)*)?
            ];

            /// Rows in all tables.
            pub fn len(&self) -> usize {
                $crate::toolkit::RowSet::row_count(self)
            }

            /// Whether there are no rows.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Hands each table's rows to the visitor: hubs, then links, then satellites.
            pub fn visit<V: $crate::toolkit::RowVisitor>(&self, visitor: &mut V) {
                $crate::toolkit::RowSet::visit(self, visitor)
            }

            /// Forgets all rows, keeping allocations.
            pub fn clear(&mut self) {
                $(self.$ht.clear();)*
                $(self.$lnk.clear();)*
                $(self.$st.clear();)*
                $($(self.$et.clear();)*)?
                $($(self.$mt.clear();)*)?
                $($(self.$rt.clear();)*)?
            }
        }
    };
    (@key $name:ident) => {
        $crate::toolkit::ColumnDef {
            name: stringify!($name),
            sql_type: $crate::toolkit::SqlType::Uuid,
            nullable: false,
            references: None,
        }
    };
    (@reference $name:ident -> $target:ident) => {
        $crate::toolkit::ColumnDef {
            name: stringify!($name),
            sql_type: $crate::toolkit::SqlType::Uuid,
            nullable: false,
            references: Some(stringify!($target)),
        }
    };
    (@column $name:ident : $ty:ty) => {
        $crate::toolkit::ColumnDef {
            name: stringify!($name),
            sql_type: <$ty as $crate::toolkit::SqlValue>::SQL_TYPE,
            nullable: <$ty as $crate::toolkit::SqlValue>::NULLABLE,
            references: None,
        }
    };
    (@history) => {
        ::core::compile_error!(
            "a satellite ends with `; effective <column>` (it keeps history by that time) or `; insert_once` (its values never change): say which"
        )
    };
    (@history effective $name:ident) => { Some(stringify!($name)) };
    (@history insert_once) => { None };
    (@history effective) => {
        ::core::compile_error!("a satellite's `effective` names its effective-time column: `; effective updated_at`")
    };
    (@history $other:ident $($name:ident)?) => {
        ::core::compile_error!(concat!(
            "a satellite ends with `; effective <column>` (it keeps history by that time) or `; insert_once` ",
            "(its values never change), not `", stringify!($other), "`"
        ))
    };
    (@reference_key effective, $keys:ident, $code:ident, $row:ident) => {
        $crate::toolkit::hashdiff($keys, &$code, &$row)
    };
    (@reference_key $other:ident, $keys:ident, $code:ident, $row:ident) => {
        $keys.key([$code.as_str()])
    };
    (@business_key $table:ident) => {
        ::core::compile_error!(concat!(
            "hub `", stringify!($table), "` has no business key: list its business-key columns after its key (`h_x: HX { h_x_pk; x_id: i64 }`)"
        ));
    };
    (@business_key $table:ident $($column:ident)+) => {};
    // A constructor's argument for a reference is a row of the table the reference names: a
    // constant evaluated where the constructor is instantiated, so a row of another table is a
    // compile error.
    (@parent_of $table:ident, $arg:ident -> $target:ident) => {{
        fn __vault_parent_of<P: $crate::toolkit::Parent>(_: &P) {
            const {
                ::core::assert!(
                    $crate::toolkit::same_table(P::TABLE, stringify!($target)),
                    concat!(
                        "`", stringify!($table), "`'s `", stringify!($arg), "` takes a row of `",
                        stringify!($target), "`, and this is a row of another table"
                    )
                )
            }
        }
        __vault_parent_of($arg);
    }};
    (@flag) => { false };
    (@flag $value:literal) => { $value };
    (@effective) => {};
    (@effective $name:ident) => {
        fn effective(&self) -> Option<$crate::Timestamp> {
            Some(self.$name)
        }
    };
}
