-- The most ordered dishes per guest (guest tagging), with the guest's latest known name.
SELECT coalesce(n.username, c.user_id::text) AS guest, c.product_name, c.order_cnt
FROM cdm.user_product_counters c
LEFT JOIN LATERAL (
    SELECT username FROM dds.s_user_names s WHERE s.h_user_pk = c.user_id ORDER BY load_dt DESC LIMIT 1
) n ON true
ORDER BY c.order_cnt DESC, guest, c.product_name
LIMIT $1
