-- Everything `vault report` draws, as one JSON object, read from the views of schema bi (what
-- a BI tool with the role vault_bi sees): the most ordered dishes and categories, restaurants ×
-- categories, the daily trend, and the freshness of each layer.
SELECT json_build_object(
    'generated_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
    'time_zone', (SELECT time_zone FROM bi.freshness LIMIT 1),
    'top_dishes', (
        SELECT coalesce(json_agg(t), '[]') FROM (
            SELECT g.dish_name || coalesce(' · ' || d.restaurant_name, '') AS name,
                   sum(g.orders)::bigint AS orders
            FROM bi.guest_dishes g
            LEFT JOIN bi.dishes d ON d.dish_key = g.dish_key
            GROUP BY g.dish_key, g.dish_name, d.restaurant_name
            ORDER BY 2 DESC, 1
            LIMIT $1
        ) t),
    'top_categories', (
        SELECT coalesce(json_agg(t), '[]') FROM (
            SELECT category_name AS name, sum(orders)::bigint AS orders
            FROM bi.restaurant_categories
            GROUP BY category_key, category_name
            ORDER BY 2 DESC, 1
            LIMIT $1
        ) t),
    'restaurant_categories', (
        SELECT coalesce(json_agg(t ORDER BY t.restaurant, t.category), '[]') FROM (
            SELECT restaurant_name AS restaurant, category_name AS category, orders
            FROM bi.restaurant_categories
        ) t),
    'days', (
        SELECT coalesce(json_agg(t ORDER BY t.day), '[]') FROM (
            SELECT day::text AS day, sum(orders)::bigint AS orders,
                   sum(cost)::float8 AS cost, sum(payment)::float8 AS payment
            FROM bi.restaurant_days
            GROUP BY day
        ) t),
    'freshness', (
        SELECT coalesce(json_agg(t ORDER BY t.position), '[]') FROM (
            SELECT position, layer, "table", orders, time_zone,
                   to_char(newest_version, 'YYYY-MM-DD HH24:MI:SS') AS newest_version,
                   to_char(newest_load AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS newest_load
            FROM bi.freshness
        ) t)
)::text
