-- The most ordered dishes per guest (guest tagging), with the guest's and the dish's current
-- names (dds.s_*_current: the newest period by the dictionary's time; the counter's own dish
-- name where DDS has none).
SELECT coalesce(n.username, c.user_id::text) AS guest, coalesce(d.name, c.product_name) AS dish,
       c.order_cnt
FROM cdm.user_product_counters c
LEFT JOIN LATERAL (
    SELECT username FROM dds.s_user_names_current s WHERE s.h_user_pk = c.user_id
) n ON true
LEFT JOIN LATERAL (
    SELECT name FROM dds.s_product_names_current s WHERE s.h_product_pk = c.product_id
) d ON true
ORDER BY c.order_cnt DESC, guest, dish
LIMIT $1
