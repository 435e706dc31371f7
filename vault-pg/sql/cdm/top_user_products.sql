-- The most ordered dishes per guest (guest tagging), with the guest's current name
-- (dds.s_user_names_current: the newest period by the dictionary's time).
SELECT coalesce(n.username, c.user_id::text) AS guest, c.product_name, c.order_cnt
FROM cdm.user_product_counters c
LEFT JOIN LATERAL (
    SELECT username FROM dds.s_user_names_current s WHERE s.h_user_pk = c.user_id
) n ON true
ORDER BY c.order_cnt DESC, guest, c.product_name
LIMIT $1
