-- The latest status of every order, as the recomputation views see it.
SELECT h_order_pk::text, status FROM cdm.v_order_latest_status ORDER BY 1
