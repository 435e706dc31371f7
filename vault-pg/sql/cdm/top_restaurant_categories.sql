-- The categories each restaurant sells most (distinct closed orders).
SELECT restaurant_name, category_name, order_cnt
FROM cdm.restaurant_category_counters
ORDER BY order_cnt DESC, restaurant_name, category_name
LIMIT $1
