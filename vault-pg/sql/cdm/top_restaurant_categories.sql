-- The categories each restaurant sells most (distinct closed orders), with the restaurant's
-- current name (dds.s_restaurant_names_current; the counter's own name where DDS has none).
SELECT coalesce(n.name, c.restaurant_name) AS restaurant, c.category_name, c.order_cnt
FROM cdm.restaurant_category_counters c
LEFT JOIN LATERAL (
    SELECT name FROM dds.s_restaurant_names_current s WHERE s.h_restaurant_pk = c.restaurant_id
) n ON true
ORDER BY c.order_cnt DESC, restaurant, c.category_name
LIMIT $1
