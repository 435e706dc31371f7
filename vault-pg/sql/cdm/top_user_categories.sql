-- The most ordered categories per guest.
SELECT coalesce(n.username, c.user_id::text) AS guest, c.category_name, c.order_cnt
FROM cdm.user_category_counters c
LEFT JOIN LATERAL (
    SELECT username FROM dds.s_user_names_current s WHERE s.h_user_pk = c.user_id
) n ON true
ORDER BY c.order_cnt DESC, guest, c.category_name
LIMIT $1
