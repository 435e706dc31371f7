-- What the bench compares between the pipeline's warehouse and the peer's: per table, the rows
-- and a digest of their keys and values (load_dt and load_src left out; counters above 0, as
-- the pipeline keeps a pair that went back to 0 and a recomputation has no row for it).
SELECT 'dds.h_user', count(*), md5(string_agg(h_user_pk || user_id, ',' ORDER BY h_user_pk)) FROM dds.h_user
UNION ALL SELECT 'dds.h_product', count(*), md5(string_agg(h_product_pk || product_id, ',' ORDER BY h_product_pk)) FROM dds.h_product
UNION ALL SELECT 'dds.h_category', count(*), md5(string_agg(h_category_pk || category_name, ',' ORDER BY h_category_pk)) FROM dds.h_category
UNION ALL SELECT 'dds.h_restaurant', count(*), md5(string_agg(h_restaurant_pk || restaurant_id, ',' ORDER BY h_restaurant_pk)) FROM dds.h_restaurant
UNION ALL SELECT 'dds.h_order', count(*), md5(string_agg(h_order_pk || ' ' || order_id || ' ' || order_dt, ',' ORDER BY h_order_pk)) FROM dds.h_order
UNION ALL SELECT 'dds.l_order_product', count(*), md5(string_agg(hk_order_product_pk || ' ' || h_order_pk || h_product_pk, ',' ORDER BY hk_order_product_pk)) FROM dds.l_order_product
UNION ALL SELECT 'dds.l_product_restaurant', count(*), md5(string_agg(hk_product_restaurant_pk || ' ' || h_restaurant_pk || h_product_pk, ',' ORDER BY hk_product_restaurant_pk)) FROM dds.l_product_restaurant
UNION ALL SELECT 'dds.l_product_category', count(*), md5(string_agg(hk_product_category_pk || ' ' || h_category_pk || h_product_pk, ',' ORDER BY hk_product_category_pk)) FROM dds.l_product_category
UNION ALL SELECT 'dds.l_order_user', count(*), md5(string_agg(hk_order_user_pk || ' ' || h_order_pk || h_user_pk, ',' ORDER BY hk_order_user_pk)) FROM dds.l_order_user
UNION ALL SELECT 'dds.s_user_names', count(*), md5(string_agg(hk_user_names_pk || ' ' || h_user_pk || username || userlogin || ' ' || update_ts_utc, ',' ORDER BY hk_user_names_pk, update_ts_utc)) FROM dds.s_user_names
UNION ALL SELECT 'dds.s_restaurant_names', count(*), md5(string_agg(hk_restaurant_names_pk || ' ' || h_restaurant_pk || name || ' ' || update_ts_utc, ',' ORDER BY hk_restaurant_names_pk, update_ts_utc)) FROM dds.s_restaurant_names
UNION ALL SELECT 'dds.s_product_names', count(*), md5(string_agg(hk_product_names_pk || ' ' || h_product_pk || name || ' ' || update_ts_utc, ',' ORDER BY hk_product_names_pk, update_ts_utc)) FROM dds.s_product_names
UNION ALL SELECT 'dds.s_order_cost', count(*), md5(string_agg(hk_order_cost_pk || ' ' || h_order_pk || ' ' || cost || ' ' || payment || ' ' || update_ts, ',' ORDER BY hk_order_cost_pk, update_ts)) FROM dds.s_order_cost
UNION ALL SELECT 'dds.s_order_status', count(*), md5(string_agg(hk_order_status_pk || ' ' || h_order_pk || status || ' ' || update_ts, ',' ORDER BY hk_order_status_pk, update_ts)) FROM dds.s_order_status
UNION ALL SELECT 'cdm.user_product_counters', count(*), md5(string_agg(user_id || ' ' || product_id || ' ' || order_cnt, ',' ORDER BY user_id, product_id)) FROM cdm.user_product_counters WHERE order_cnt > 0
UNION ALL SELECT 'cdm.user_category_counters', count(*), md5(string_agg(user_id || ' ' || category_id || ' ' || order_cnt, ',' ORDER BY user_id, category_id)) FROM cdm.user_category_counters WHERE order_cnt > 0
UNION ALL SELECT 'cdm.restaurant_category_counters', count(*), md5(string_agg(restaurant_id || ' ' || category_id || ' ' || order_cnt, ',' ORDER BY restaurant_id, category_id)) FROM cdm.restaurant_category_counters WHERE order_cnt > 0
UNION ALL SELECT 'cdm.restaurant_category_days', count(*), md5(string_agg(restaurant_id || ' ' || category_id || ' ' || order_day || ' ' || order_cnt || ' ' || item_cnt || ' ' || trim_scale(cost) || ' ' || trim_scale(payment), ',' ORDER BY restaurant_id, category_id, order_day)) FROM cdm.restaurant_category_days WHERE order_cnt > 0
ORDER BY 1
