//! The Data Vault model of docs/contract.md §5: row types of every hub, link and satellite, and the
//! builder that turns enriched orders into deduplicated rows.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;
use uuid::Uuid;

use crate::amount::Amount;
use crate::keys::KeySpec;
use crate::model::{EnrichedOrder, OrderStatus};
use crate::time::Timestamp;

/// `load_src` of every row loaded from the order stream.
pub const LOAD_SRC: &str = "orders-system-kafka";

/// A row of one DV table. Rows are insert-only: a row whose key exists is left as it is.
pub trait DvRow: Serialize {
    /// The table's name in schema `dds`.
    const TABLE: &'static str;
    /// The columns this row fills, key first (`load_dt` and `load_src` are added by the writer).
    const COLUMNS: &'static [&'static str];
    /// The row's primary key.
    fn key(&self) -> Uuid;
    /// Hands the row's values to `f`, one per entry of [`DvRow::COLUMNS`], in that order.
    fn visit_columns<'s>(&'s self, f: &mut dyn FnMut(Column<'s>));
}

/// One value of a DV row, typed for a writer to bind (no database types here: this crate is IO-free).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Column<'a> {
    /// A key.
    Uuid(Uuid),
    /// A business id or a name.
    Text(&'a str),
    /// An order id.
    BigInt(i64),
    /// A timestamp without zone.
    Timestamp(Timestamp),
    /// An amount (numeric, as Python-`str()` text).
    Numeric(&'a Amount),
    /// A status name.
    Status(OrderStatus),
}

impl From<Uuid> for Column<'_> {
    fn from(v: Uuid) -> Self {
        Column::Uuid(v)
    }
}
impl<'a> From<&'a str> for Column<'a> {
    fn from(v: &'a str) -> Self {
        Column::Text(v)
    }
}
impl From<i64> for Column<'_> {
    fn from(v: i64) -> Self {
        Column::BigInt(v)
    }
}
impl From<Timestamp> for Column<'_> {
    fn from(v: Timestamp) -> Self {
        Column::Timestamp(v)
    }
}
impl<'a> From<&'a Amount> for Column<'a> {
    fn from(v: &'a Amount) -> Self {
        Column::Numeric(v)
    }
}
impl From<OrderStatus> for Column<'_> {
    fn from(v: OrderStatus) -> Self {
        Column::Status(v)
    }
}

/// Something that takes the rows of each table in turn (writers, printers).
pub trait RowVisitor {
    /// Called once per table, in the order hubs, links, satellites.
    fn table<R: DvRow>(&mut self, rows: &[R]);
}

macro_rules! dv_tables {
    ($( $(#[$doc:meta])* $table:ident: $Row:ident $(<$lt:lifetime>)? { $pk:ident $(, $col:ident: $ty:ty)* } )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, Serialize)]
            #[allow(missing_docs)]
            pub struct $Row $(<$lt>)? {
                pub $pk: Uuid,
                $(pub $col: $ty,)*
            }

            impl $(<$lt>)? DvRow for $Row $(<$lt>)? {
                const TABLE: &'static str = stringify!($table);
                const COLUMNS: &'static [&'static str] = &[stringify!($pk) $(, stringify!($col))*];
                fn key(&self) -> Uuid {
                    self.$pk
                }
                fn visit_columns<'s>(&'s self, f: &mut dyn FnMut(Column<'s>)) {
                    f(Column::from(self.$pk));
                    $(f(Column::from(self.$col));)*
                }
            }
        )*

        /// Rows of every DV table, each table deduplicated by key.
        #[derive(Debug, Default, Clone, PartialEq)]
        #[allow(missing_docs)]
        pub struct DvRows<'a> {
            $(pub $table: Vec<$Row $(<$lt>)?>,)*
        }

        impl DvRows<'_> {
            /// The names of every DV table, hubs first, then links, then satellites.
            pub const TABLES: &'static [&'static str] = &[$(stringify!($table)),*];

            /// Rows in all tables.
            pub fn len(&self) -> usize {
                0 $(+ self.$table.len())*
            }

            /// Whether there are no rows.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Hands each table's rows to the visitor: hubs, then links, then satellites.
            pub fn visit<V: RowVisitor>(&self, visitor: &mut V) {
                $(visitor.table(&self.$table);)*
            }

            /// Forgets all rows, keeping allocations.
            pub fn clear(&mut self) {
                $(self.$table.clear();)*
            }
        }

        #[derive(Debug, Default, Clone)]
        struct Seen {
            $($table: KeyIndex,)*
        }

        impl Seen {
            fn clear(&mut self) {
                $(self.$table.clear();)*
            }
        }
    };
}

dv_tables! {
    /// `dds.h_user`.
    h_user: HUser<'a> { h_user_pk, user_id: &'a str }
    /// `dds.h_product`.
    h_product: HProduct<'a> { h_product_pk, product_id: &'a str }
    /// `dds.h_category`.
    h_category: HCategory<'a> { h_category_pk, category_name: &'a str }
    /// `dds.h_restaurant`.
    h_restaurant: HRestaurant<'a> { h_restaurant_pk, restaurant_id: &'a str }
    /// `dds.h_order`.
    h_order: HOrder { h_order_pk, order_id: i64, order_dt: Timestamp }
    /// `dds.l_order_product`.
    l_order_product: LOrderProduct { hk_order_product_pk, h_order_pk: Uuid, h_product_pk: Uuid }
    /// `dds.l_product_restaurant`.
    l_product_restaurant: LProductRestaurant {
        hk_product_restaurant_pk, h_restaurant_pk: Uuid, h_product_pk: Uuid
    }
    /// `dds.l_product_category`.
    l_product_category: LProductCategory {
        hk_product_category_pk, h_category_pk: Uuid, h_product_pk: Uuid
    }
    /// `dds.l_order_user`.
    l_order_user: LOrderUser { hk_order_user_pk, h_order_pk: Uuid, h_user_pk: Uuid }
    /// `dds.s_user_names`.
    s_user_names: SUserNames<'a> {
        hk_user_names_pk, h_user_pk: Uuid, username: &'a str, userlogin: &'a str
    }
    /// `dds.s_restaurant_names`.
    s_restaurant_names: SRestaurantNames<'a> { hk_restaurant_names_pk, h_restaurant_pk: Uuid, name: &'a str }
    /// `dds.s_product_names`.
    s_product_names: SProductNames<'a> { hk_product_names_pk, h_product_pk: Uuid, name: &'a str }
    /// `dds.s_order_cost`.
    s_order_cost: SOrderCost<'a> { hk_order_cost_pk, h_order_pk: Uuid, cost: &'a Amount, payment: &'a Amount }
    /// `dds.s_order_status`; `update_ts` (an addition) is the newest version seen in this status.
    s_order_status: SOrderStatus {
        hk_order_status_pk, h_order_pk: Uuid, status: OrderStatus, update_ts: Timestamp
    }
}

/// The hub keys of one order, for the order report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKeys {
    /// `h_order_pk`.
    pub order: Uuid,
    /// `h_user_pk`.
    pub user: Uuid,
    /// `h_restaurant_pk`.
    pub restaurant: Uuid,
    /// `(h_product_pk, h_category_pk)` of each product line, in the order's order.
    pub products: Vec<(Uuid, Uuid)>,
}

/// Builds the DV rows of many orders, each table deduplicated across the whole batch.
#[derive(Debug, Clone)]
pub struct DvBatch<'a> {
    keys: KeySpec,
    rows: DvRows<'a>,
    seen: Seen,
    orders: usize,
}

impl<'a> DvBatch<'a> {
    /// An empty batch deriving keys with `keys` (use [`KeySpec::SEED`] for the original warehouse).
    pub fn new(keys: KeySpec) -> Self {
        DvBatch {
            keys,
            rows: DvRows::default(),
            seen: Seen::default(),
            orders: 0,
        }
    }

    /// Adds every row of one order (docs/contract.md §5) and returns its hub keys.
    pub fn add(&mut self, order: &'a EnrichedOrder) -> OrderKeys {
        let k = &self.keys;
        let p = &order.payload;
        let mut id_buf = itoa::Buffer::new();
        let order_id: &str = id_buf.format(p.id);
        let user_id = p.user.id.as_str();
        let restaurant_id = p.restaurant.id.as_str();

        let h_order_pk = k.hub(order_id);
        let h_user_pk = k.hub(user_id);
        let h_restaurant_pk = k.hub(restaurant_id);
        let (rows, seen) = (&mut self.rows, &mut self.seen);

        push(
            &mut rows.h_order,
            &mut seen.h_order,
            HOrder {
                h_order_pk,
                order_id: p.id,
                order_dt: p.date,
            },
        );
        push(
            &mut rows.h_user,
            &mut seen.h_user,
            HUser { h_user_pk, user_id },
        );
        push(
            &mut rows.h_restaurant,
            &mut seen.h_restaurant,
            HRestaurant {
                h_restaurant_pk,
                restaurant_id,
            },
        );
        push(
            &mut rows.l_order_user,
            &mut seen.l_order_user,
            LOrderUser {
                hk_order_user_pk: k.link(&[order_id, user_id]),
                h_order_pk,
                h_user_pk,
            },
        );
        let (username, userlogin) = (p.user.name.as_str(), p.user.userlogin());
        push(
            &mut rows.s_user_names,
            &mut seen.s_user_names,
            SUserNames {
                hk_user_names_pk: k.hashdiff(user_id, &[username, userlogin]),
                h_user_pk,
                username,
                userlogin,
            },
        );
        let name = p.restaurant.name.as_str();
        push(
            &mut rows.s_restaurant_names,
            &mut seen.s_restaurant_names,
            SRestaurantNames {
                hk_restaurant_names_pk: k.hashdiff(restaurant_id, &[name]),
                h_restaurant_pk,
                name,
            },
        );
        push(
            &mut rows.s_order_cost,
            &mut seen.s_order_cost,
            SOrderCost {
                hk_order_cost_pk: k.hashdiff(order_id, &[p.cost.as_str(), p.payment.as_str()]),
                h_order_pk,
                cost: &p.cost,
                payment: &p.payment,
            },
        );
        let update_ts = order.version_ts();
        let status = SOrderStatus {
            hk_order_status_pk: k.hashdiff(order_id, &[p.status.as_str()]),
            h_order_pk,
            status: p.status,
            update_ts,
        };
        if let Some(i) = push(&mut rows.s_order_status, &mut seen.s_order_status, status) {
            // The same status again (another version in this batch): keep the newest version.
            let kept = &mut rows.s_order_status[i];
            kept.update_ts = kept.update_ts.max(update_ts);
        }

        let mut products = Vec::with_capacity(p.products.len());
        for product in &p.products {
            let product_id = product.id.as_str();
            let category_name = product.category.as_str();
            let h_product_pk = k.hub(product_id);
            let h_category_pk = k.hub(category_name);
            products.push((h_product_pk, h_category_pk));
            push(
                &mut rows.l_order_product,
                &mut seen.l_order_product,
                LOrderProduct {
                    hk_order_product_pk: k.link(&[order_id, product_id]),
                    h_order_pk,
                    h_product_pk,
                },
            );
            push(
                &mut rows.h_product,
                &mut seen.h_product,
                HProduct {
                    h_product_pk,
                    product_id,
                },
            );
            push(
                &mut rows.h_category,
                &mut seen.h_category,
                HCategory {
                    h_category_pk,
                    category_name,
                },
            );
            push(
                &mut rows.l_product_restaurant,
                &mut seen.l_product_restaurant,
                LProductRestaurant {
                    hk_product_restaurant_pk: k.link(&[product_id, restaurant_id]),
                    h_restaurant_pk,
                    h_product_pk,
                },
            );
            push(
                &mut rows.l_product_category,
                &mut seen.l_product_category,
                LProductCategory {
                    hk_product_category_pk: k.link(&[product_id, category_name]),
                    h_category_pk,
                    h_product_pk,
                },
            );
            let name = product.name.as_str();
            push(
                &mut rows.s_product_names,
                &mut seen.s_product_names,
                SProductNames {
                    hk_product_names_pk: k.hashdiff(product_id, &[name]),
                    h_product_pk,
                    name,
                },
            );
        }
        self.orders += 1;
        OrderKeys {
            order: h_order_pk,
            user: h_user_pk,
            restaurant: h_restaurant_pk,
            products,
        }
    }

    /// The rows so far.
    pub fn rows(&self) -> &DvRows<'a> {
        &self.rows
    }

    /// The rows, consuming the batch.
    pub fn into_rows(self) -> DvRows<'a> {
        self.rows
    }

    /// How many orders were added.
    pub fn orders(&self) -> usize {
        self.orders
    }

    /// The key spec in use.
    pub fn key_spec(&self) -> KeySpec {
        self.keys
    }

    /// Empties the batch, keeping allocations for the next one.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.seen.clear();
        self.orders = 0;
    }
}

/// Every DV row of one order, without duplicates, and its hub keys.
pub fn build_order(order: &EnrichedOrder, keys: KeySpec) -> (DvRows<'_>, OrderKeys) {
    let mut batch = DvBatch::new(keys);
    let order_keys = batch.add(order);
    (batch.into_rows(), order_keys)
}

/// Appends a row whose key is new; for a known key, returns the index of the row kept.
fn push<R: DvRow>(rows: &mut Vec<R>, seen: &mut KeyIndex, row: R) -> Option<usize> {
    match seen.entry(row.key()) {
        Entry::Occupied(kept) => Some(*kept.get()),
        Entry::Vacant(slot) => {
            slot.insert(rows.len());
            rows.push(row);
            None
        }
    }
}

/// Row index by key. UUIDv5 keys are already uniformly distributed, so hashing them again with
/// SipHash would be wasted work; a multiply-rotate over their bytes is enough.
type KeyIndex = HashMap<Uuid, usize, BuildHasherDefault<KeyHasher>>;

#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}
