//! Deterministic, realistic inputs for the benchmarks: a few restaurants with 20–50 dishes each,
//! ten shared categories, hundreds of users, orders of one to five dishes.

use std::fmt::Write;

const CATEGORIES: [&str; 10] = [
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

/// A tiny deterministic generator (xorshift), so runs compare like with like.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` enriched orders (SPEC §4) as JSON lines.
pub fn enriched_orders(n: usize) -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|i| {
            let order_id = 1_000_000 + i as u64;
            let restaurant = rng.below(5);
            let user = rng.below(500);
            let mut products = String::new();
            let mut cost = 0;
            for p in 0..=rng.below(5) {
                let dish = rng.below(30);
                let price = 100 + 10 * rng.below(50);
                let quantity = 1 + rng.below(3);
                cost += price * quantity;
                let category = CATEGORIES[(dish % 10) as usize];
                if p > 0 {
                    products.push(',');
                }
                let _ = write!(
                    products,
                    r#"{{"id":"{:024x}","price":{price},"quantity":{quantity},"name":"Блюдо №{dish} ресторана {restaurant}","category":"{category}"}}"#,
                    0x6276_e8cd_0000_u64 + restaurant * 1000 + dish
                );
            }
            let status = if rng.below(10) == 0 { "CANCELLED" } else { "CLOSED" };
            format!(
                r#"{{"object_id":{order_id},"object_type":"order","payload":{{"id":{order_id},"date":"2023-04-01 18:55:52","update_ts":"2023-04-01 20:45:43","cost":{cost},"payment":{cost},"status":"{status}","restaurant":{{"id":"{:024x}","name":"Ресторан {restaurant}"}},"user":{{"id":"{:024x}","name":"Пользователь {user}","login":"user_{user}"}},"products":[{products}]}}}}"#,
                0x626a_81cf_0000_u64 + restaurant,
                0x626a_81ce_0000_u64 + user
            )
        })
        .collect()
}
