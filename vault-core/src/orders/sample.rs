//! Deterministic, realistic sample data: dictionaries (users, restaurants with menus) and order
//! histories in the shapes of contract §2–§5.2. Used by the simulator, the tests and the
//! benchmarks; the same seed always gives the same data.

use std::collections::HashMap;

use chrono::Duration;

use crate::amount::Amount;
use crate::orders::enrich::EnrichError;
use crate::orders::model::{
    EnrichedOrder, IdRef, MenuItem, OrderStatus, Restaurant, SourceItem, SourceOrder,
    SourcePayload, StatusEntry, User, ORDER_OBJECT_TYPE,
};
use crate::time::Timestamp;

/// The ten categories shared by name across restaurants (contract §3).
pub const CATEGORIES: [&str; 10] = [
    "Закуски",
    "Салаты",
    "Супы",
    "Гарниры",
    "Основные блюда",
    "Выпечка",
    "Чай",
    "Напитки",
    "Соусы",
    "Десерты",
];

const DISHES: [&[&str]; 10] = [
    &["Пхали с фасолью", "Бадриджани", "Сырная тарелка", "Соленья"],
    &["Цезарь", "Оливье", "Греческий", "Винегрет"],
    &["Борщ", "Харчо", "Солянка", "Уха"],
    &["Рис с лимоном", "Картофель фри", "Гречка", "Овощи гриль"],
    &["Хинкали", "Плов", "Котлета по-киевски", "Шашлык"],
    &[
        "Хачапури по-аджарски",
        "Пирожок с капустой",
        "Круассан",
        "Кутаб",
    ],
    &["Чай чёрный", "Чай зелёный", "Иван-чай", "Чай с чабрецом"],
    &["Морс клюквенный", "Лимонад", "Компот", "Квас"],
    &["Ткемали", "Аджика", "Сметана", "Сацебели"],
    &["Медовик", "Наполеон", "Чизкейк", "Пахлава"],
];

const FIRST: [&str; 8] = [
    "Гаврила",
    "Ольга",
    "Иван",
    "Мария",
    "Пётр",
    "Анна",
    "Сергей",
    "Елена",
];
const LAST: [&str; 8] = [
    "Игнатьев",
    "Котова",
    "Смирнов",
    "Кузнецова",
    "Попов",
    "Васильева",
    "Соколов",
    "Морозова",
];
const RESTAURANTS: [&str; 8] = [
    "Кубдари",
    "Кофейня №1",
    "Вкус Востока",
    "Гриль-бар «Угли»",
    "Пекарня у дома",
    "Сытый папа",
    "Чайхона",
    "Пироги & Co",
];

/// A small deterministic generator (SplitMix64): no dependency, same sequence everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A 24-hex-digit id, like the source system's.
    pub fn object_id(&mut self) -> String {
        format!("{:08x}{:016x}", self.below(1 << 32), self.next_u64())
    }
}

/// The dictionaries: users and restaurants with menus, indexed by id.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Users.
    pub users: Vec<User>,
    /// Restaurants with menus.
    pub restaurants: Vec<Restaurant>,
    user_index: HashMap<String, usize>,
    restaurant_index: HashMap<String, usize>,
}

impl Catalog {
    /// `restaurants` restaurants with 20–50 dishes each over the ten categories, `users` users.
    pub fn generate(rng: &mut Rng, restaurants: usize, users: usize) -> Self {
        let updated = Timestamp::parse("2024-09-23 13:20:11").unwrap_or_else(|_| epoch());
        let users: Vec<User> = (0..users)
            .map(|i| User {
                id: rng.object_id(),
                name: format!("{} {}", rng.pick(&FIRST), rng.pick(&LAST)),
                login: Some(format!("guest_{i}")),
                update_ts_utc: Some(updated),
            })
            .collect();
        let restaurants: Vec<Restaurant> = (0..restaurants)
            .map(|i| {
                let dishes = 20 + rng.below(31) as usize;
                let menu = (0..dishes)
                    .map(|d| {
                        let category = d % CATEGORIES.len();
                        let base = rng.pick(DISHES[category]);
                        let price = 100 + 10 * rng.below(60) as i64;
                        let price = if rng.chance(0.05) {
                            Amount::from_f64(price as f64 + 0.5)
                                .unwrap_or_else(|_| Amount::from_i64(price))
                        } else {
                            Amount::from_i64(price)
                        };
                        MenuItem {
                            id: rng.object_id(),
                            name: if d < CATEGORIES.len() * 4 {
                                base.to_string()
                            } else {
                                format!("{base} №{d}")
                            },
                            price: Some(price),
                            category: CATEGORIES[category].to_owned(),
                        }
                    })
                    .collect();
                Restaurant {
                    id: rng.object_id(),
                    name: RESTAURANTS[i % RESTAURANTS.len()].to_owned()
                        + &if i < RESTAURANTS.len() {
                            String::new()
                        } else {
                            format!(" {}", i / RESTAURANTS.len() + 1)
                        },
                    menu,
                    update_ts_utc: Some(updated),
                }
            })
            .collect();
        Catalog::new(users, restaurants)
    }

    /// A catalog of given entries.
    pub fn new(users: Vec<User>, restaurants: Vec<Restaurant>) -> Self {
        let user_index = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.clone(), i))
            .collect();
        let restaurant_index = restaurants
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Catalog {
            users,
            restaurants,
            user_index,
            restaurant_index,
        }
    }

    /// The user with this id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.user_index.get(id).map(|&i| &self.users[i])
    }

    /// The restaurant with this id.
    pub fn restaurant(&self, id: &str) -> Option<&Restaurant> {
        self.restaurant_index.get(id).map(|&i| &self.restaurants[i])
    }

    /// `order` enriched from this catalog, as STG enriches it from Redis.
    pub fn enrich(&self, order: &SourceOrder) -> Result<EnrichedOrder, EnrichError> {
        let p = &order.payload;
        crate::orders::enrich::enrich(
            order,
            self.user(&p.user.id),
            self.restaurant(&p.restaurant.id),
        )
    }

    /// The versions of one order as the source system sends them, oldest first: one per status
    /// (OPEN, COOKING, DELIVERING, then CLOSED or CANCELLED), with `cancel_after_close` chance of a
    /// final CANCELLED after CLOSED. Items, cost and payment are the same in every version.
    pub fn order_history(
        &self,
        rng: &mut Rng,
        object_id: i64,
        placed: Timestamp,
        cancel_after_close: f64,
    ) -> Vec<SourceOrder> {
        let user = rng.pick(&self.users);
        let restaurant = rng.pick(&self.restaurants);
        let mut items: Vec<SourceItem> = Vec::new();
        for _ in 0..=rng.below(4) {
            let dish = rng.pick(&restaurant.menu);
            if items.iter().any(|i| i.id == dish.id) {
                continue;
            }
            items.push(SourceItem {
                id: dish.id.clone(),
                name: dish.name.clone(),
                price: dish.price.clone().unwrap_or_else(|| Amount::from_i64(0)),
                quantity: Amount::from_i64(1 + rng.below(3) as i64),
            });
        }
        let total: f64 = items
            .iter()
            .map(|i| i.price.to_f64() * i.quantity.to_f64())
            .sum();
        let cost = if items.iter().all(|i| i.price.is_integer()) {
            Amount::from_i64(total as i64)
        } else {
            Amount::from_f64(total).unwrap_or_else(|_| Amount::from_i64(0))
        };
        let bonus = Amount::from_i64(0);

        let mut timeline = vec![(OrderStatus::Open, placed)];
        let mut at = placed;
        let cancelled_early = rng.chance(0.05);
        for status in [OrderStatus::Cooking, OrderStatus::Delivering] {
            if cancelled_early && rng.chance(0.5) {
                break;
            }
            at = at.plus(Duration::minutes(5 + rng.below(30) as i64));
            timeline.push((status, at));
        }
        at = at.plus(Duration::minutes(5 + rng.below(40) as i64));
        timeline.push((
            if cancelled_early {
                OrderStatus::Cancelled
            } else {
                OrderStatus::Closed
            },
            at,
        ));
        if !cancelled_early && rng.chance(cancel_after_close) {
            at = at.plus(Duration::hours(1 + rng.below(24) as i64));
            timeline.push((OrderStatus::Cancelled, at));
        }

        (1..=timeline.len())
            .map(|n| {
                let seen = &timeline[..n];
                let (final_status, update_ts) = seen[n - 1];
                SourceOrder {
                    object_id,
                    object_type: ORDER_OBJECT_TYPE.to_owned(),
                    sent_dttm: update_ts.plus(Duration::seconds(1 + rng.below(60) as i64)),
                    payload: SourcePayload {
                        restaurant: IdRef {
                            id: restaurant.id.clone(),
                        },
                        date: placed,
                        user: IdRef {
                            id: user.id.clone(),
                        },
                        order_items: items.clone(),
                        bonus_payment: Some(bonus.clone()),
                        cost: cost.clone(),
                        payment: cost.clone(),
                        bonus_grant: Some(bonus.clone()),
                        statuses: seen
                            .iter()
                            .rev()
                            .map(|&(status, dttm)| StatusEntry { status, dttm })
                            .collect(),
                        final_status,
                        update_ts,
                    },
                }
            })
            .collect()
    }
}

fn epoch() -> Timestamp {
    Timestamp::new(chrono::NaiveDateTime::default())
}
