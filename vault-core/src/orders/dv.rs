//! The Data Vault model of contract §5, declared with the toolkit ([`crate::data_vault!`]):
//! row types of every hub, link and satellite, and the builder that turns enriched orders into
//! deduplicated rows.

use uuid::Uuid;

use crate::amount::Amount;
use crate::data_vault;
use crate::keys::KeySpec;
use crate::orders::model::{EnrichedOrder, OrderStatus};
use crate::time::Timestamp;
use crate::toolkit::RowSet;

/// `load_src` of every row loaded from the order stream.
pub const LOAD_SRC: &str = DvRows::MODEL.load_src;

data_vault! {
    /// Rows of every DV table of the order model (contract §5), each table deduplicated
    /// by key.
    pub struct DvRows<'a> {
        model: "orders", schema: "dds", load_src: "orders-system-kafka";
        hubs {
            /// `dds.h_user`.
            h_user: HUser<'a> { h_user_pk; user_id: &'a str }
            /// `dds.h_product`.
            h_product: HProduct<'a> { h_product_pk; product_id: &'a str }
            /// `dds.h_category`.
            h_category: HCategory<'a> { h_category_pk; category_name: &'a str }
            /// `dds.h_restaurant`.
            h_restaurant: HRestaurant<'a> { h_restaurant_pk; restaurant_id: &'a str }
            /// `dds.h_order`: keyed by `order_id` alone; `order_dt` is stored with it.
            h_order: HOrder { h_order_pk; order_id: i64; order_dt: Timestamp }
        }
        links {
            /// `dds.l_order_product`.
            l_order_product: LOrderProduct {
                hk_order_product_pk; h_order_pk -> h_order, h_product_pk -> h_product
            }
            /// `dds.l_product_restaurant`.
            l_product_restaurant: LProductRestaurant {
                hk_product_restaurant_pk; h_restaurant_pk -> h_restaurant, h_product_pk -> h_product
            }
            /// `dds.l_product_category`.
            l_product_category: LProductCategory {
                hk_product_category_pk; h_category_pk -> h_category, h_product_pk -> h_product
            }
            /// `dds.l_order_user`.
            l_order_user: LOrderUser { hk_order_user_pk; h_order_pk -> h_order, h_user_pk -> h_user }
        }
        satellites {
            /// `dds.s_user_names`, effective from the user entry's `update_ts_utc` (an addition;
            /// the order's `update_ts` where the message does not carry it).
            s_user_names: SUserNames<'a> {
                hk_user_names_pk; h_user_pk -> h_user; username: &'a str, userlogin: &'a str;
                effective update_ts_utc
            }
            /// `dds.s_restaurant_names`, effective from the restaurant entry's `update_ts_utc`.
            s_restaurant_names: SRestaurantNames<'a> {
                hk_restaurant_names_pk; h_restaurant_pk -> h_restaurant; name: &'a str;
                effective update_ts_utc
            }
            /// `dds.s_product_names` (the menu's name), effective from the restaurant entry's
            /// `update_ts_utc`.
            s_product_names: SProductNames<'a> {
                hk_product_names_pk; h_product_pk -> h_product; name: &'a str;
                effective update_ts_utc
            }
            /// `dds.s_order_cost`, effective from the order version's `update_ts` (an addition).
            s_order_cost: SOrderCost<'a> {
                hk_order_cost_pk; h_order_pk -> h_order; cost: &'a Amount, payment: &'a Amount;
                effective update_ts
            }
            /// `dds.s_order_status`, effective from the order version's `update_ts`.
            s_order_status: SOrderStatus {
                hk_order_status_pk; h_order_pk -> h_order; status: OrderStatus; effective update_ts
            }
        }
        effectivity {
            /// `dds.es_product_category` (an addition): which category a product is in, from
            /// the restaurant entry's `update_ts_utc`; a product moved to another category ends
            /// the old link's period.
            es_product_category: EsProductCategory {
                hk_product_category_pk -> l_product_category; driving h_product_pk -> h_product;
                effective update_ts_utc
            }
            /// `dds.es_product_restaurant` (an addition): which restaurant's menu a product is
            /// on, from the restaurant entry's `update_ts_utc`.
            es_product_restaurant: EsProductRestaurant {
                hk_product_restaurant_pk -> l_product_restaurant; driving h_product_pk -> h_product;
                effective update_ts_utc
            }
        }
        pits {
            /// `dds.pit_order` (an addition): an order's cost and status rows in force at each
            /// snapshot time (`dds.pit_order_refresh`).
            pit_order { h_order; s_order_cost, s_order_status }
        }
        bridges {
            /// `dds.b_order_category` (an addition): each order's products and the category
            /// each was in at each snapshot time (`dds.b_order_category_refresh`).
            b_order_category { h_order -> l_order_product -> h_product -> l_product_category -> h_category }
        }
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
    orders: usize,
}

impl<'a> DvBatch<'a> {
    /// An empty batch deriving keys with `keys` (use [`KeySpec::SEED`] for the original warehouse).
    pub fn new(keys: KeySpec) -> Self {
        DvBatch {
            keys,
            rows: DvRows::default(),
            orders: 0,
        }
    }

    /// Adds every row of one order (contract §5) and returns its hub keys.
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
        let rows = &mut self.rows;

        rows.h_order.push(HOrder {
            h_order_pk,
            order_id: p.id,
            order_dt: p.date,
        });
        rows.h_user.push(HUser { h_user_pk, user_id });
        rows.h_restaurant.push(HRestaurant {
            h_restaurant_pk,
            restaurant_id,
        });
        rows.l_order_user.push(LOrderUser {
            hk_order_user_pk: k.link(&[order_id, user_id]),
            h_order_pk,
            h_user_pk,
        });
        // Effective times come from the source: the order version's, and each dictionary
        // entry's own where the message carries it (the history rule: the effective time comes from the source).
        let update_ts = order.version_ts();
        let user_ts = p.user.update_ts_utc.unwrap_or(update_ts);
        let restaurant_ts = p.restaurant.update_ts_utc.unwrap_or(update_ts);
        let (username, userlogin) = (p.user.name.as_str(), p.user.userlogin());
        rows.s_user_names.push(SUserNames {
            hk_user_names_pk: k.hashdiff(user_id, &[username, userlogin]),
            h_user_pk,
            username,
            userlogin,
            update_ts_utc: user_ts,
        });
        let name = p.restaurant.name.as_str();
        rows.s_restaurant_names.push(SRestaurantNames {
            hk_restaurant_names_pk: k.hashdiff(restaurant_id, &[name]),
            h_restaurant_pk,
            name,
            update_ts_utc: restaurant_ts,
        });
        rows.s_order_cost.push(SOrderCost {
            hk_order_cost_pk: k.hashdiff(order_id, &[p.cost.as_str(), p.payment.as_str()]),
            h_order_pk,
            cost: &p.cost,
            payment: &p.payment,
            update_ts,
        });
        rows.s_order_status.push(SOrderStatus {
            hk_order_status_pk: k.hashdiff(order_id, &[p.status.as_str()]),
            h_order_pk,
            status: p.status,
            update_ts,
        });

        let mut products = Vec::with_capacity(p.products.len());
        for product in &p.products {
            let product_id = product.id.as_str();
            let category_name = product.category.as_str();
            let h_product_pk = k.hub(product_id);
            let h_category_pk = k.hub(category_name);
            products.push((h_product_pk, h_category_pk));
            rows.l_order_product.push(LOrderProduct {
                hk_order_product_pk: k.link(&[order_id, product_id]),
                h_order_pk,
                h_product_pk,
            });
            rows.h_product.push(HProduct {
                h_product_pk,
                product_id,
            });
            rows.h_category.push(HCategory {
                h_category_pk,
                category_name,
            });
            let hk_product_restaurant_pk = k.link(&[product_id, restaurant_id]);
            rows.l_product_restaurant.push(LProductRestaurant {
                hk_product_restaurant_pk,
                h_restaurant_pk,
                h_product_pk,
            });
            let hk_product_category_pk = k.link(&[product_id, category_name]);
            rows.l_product_category.push(LProductCategory {
                hk_product_category_pk,
                h_category_pk,
                h_product_pk,
            });
            rows.es_product_restaurant.push(EsProductRestaurant::new(
                hk_product_restaurant_pk,
                h_product_pk,
                restaurant_ts,
            ));
            rows.es_product_category.push(EsProductCategory::new(
                hk_product_category_pk,
                h_product_pk,
                restaurant_ts,
            ));
            let name = product.name.as_str();
            rows.s_product_names.push(SProductNames {
                hk_product_names_pk: k.hashdiff(product_id, &[name]),
                h_product_pk,
                name,
                update_ts_utc: restaurant_ts,
            });
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
        self.orders = 0;
    }
}

/// Every DV row of one order, without duplicates, and its hub keys.
pub fn build_order(order: &EnrichedOrder, keys: KeySpec) -> (DvRows<'_>, OrderKeys) {
    let mut batch = DvBatch::new(keys);
    let order_keys = batch.add(order);
    (batch.into_rows(), order_keys)
}
