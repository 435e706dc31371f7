-- The set-based peer, step 3: the four datamarts recomputed from the Data Vault with GROUP BY
-- (an order counts when its latest status is CLOSED; contract §6.2), names from the
-- satellites' latest rows.
TRUNCATE cdm.user_product_counters, cdm.user_category_counters, cdm.restaurant_category_counters,
         cdm.restaurant_category_days;

CREATE TEMP TABLE peer_closed ON COMMIT DROP AS
SELECT lop.h_order_pk, lou.h_user_pk, lpr.h_restaurant_pk, lop.h_product_pk, lpc.h_category_pk
FROM (
    SELECT DISTINCT ON (h_order_pk) h_order_pk, status
    FROM dds.s_order_status
    ORDER BY h_order_pk, update_ts DESC NULLS LAST,
             array_position(ARRAY['OPEN', 'COOKING', 'DELIVERING', 'CLOSED', 'CANCELLED']::varchar[], status) DESC
) latest
JOIN dds.l_order_product lop ON lop.h_order_pk = latest.h_order_pk
JOIN dds.l_order_user lou ON lou.h_order_pk = latest.h_order_pk
JOIN dds.l_product_restaurant lpr ON lpr.h_product_pk = lop.h_product_pk
JOIN dds.l_product_category lpc ON lpc.h_product_pk = lop.h_product_pk
WHERE latest.status = 'CLOSED';

INSERT INTO cdm.user_product_counters (user_id, product_id, product_name, order_cnt)
SELECT c.h_user_pk, c.h_product_pk, n.name, count(DISTINCT c.h_order_pk)
FROM peer_closed c
JOIN (SELECT DISTINCT ON (h_product_pk) h_product_pk, name FROM dds.s_product_names
      ORDER BY h_product_pk, load_dt DESC) n ON n.h_product_pk = c.h_product_pk
GROUP BY c.h_user_pk, c.h_product_pk, n.name;

INSERT INTO cdm.user_category_counters (user_id, category_id, category_name, order_cnt)
SELECT c.h_user_pk, c.h_category_pk, h.category_name, count(DISTINCT c.h_order_pk)
FROM peer_closed c JOIN dds.h_category h ON h.h_category_pk = c.h_category_pk
GROUP BY c.h_user_pk, c.h_category_pk, h.category_name;

INSERT INTO cdm.restaurant_category_counters (restaurant_id, category_id, restaurant_name, category_name, order_cnt)
SELECT c.h_restaurant_pk, c.h_category_pk, r.name, h.category_name, count(DISTINCT c.h_order_pk)
FROM peer_closed c
JOIN dds.h_category h ON h.h_category_pk = c.h_category_pk
JOIN (SELECT DISTINCT ON (h_restaurant_pk) h_restaurant_pk, name FROM dds.s_restaurant_names
      ORDER BY h_restaurant_pk, load_dt DESC) r ON r.h_restaurant_pk = c.h_restaurant_pk
GROUP BY c.h_restaurant_pk, c.h_category_pk, r.name, h.category_name;

-- The daily datamart: per closed order its distinct dishes per category, its date in the
-- warehouse's zone and its newest cost.
INSERT INTO cdm.restaurant_category_days (restaurant_id, category_id, order_day, order_cnt, item_cnt, cost, payment)
SELECT c.h_restaurant_pk, c.h_category_pk, cdm.order_day(o.order_dt, (SELECT time_zone FROM cdm.daily_settings)),
       count(*), sum(c.items), sum(m.cost), sum(m.payment)
FROM (SELECT h_order_pk, h_restaurant_pk, h_category_pk, count(DISTINCT h_product_pk) AS items
      FROM peer_closed GROUP BY 1, 2, 3) c
JOIN dds.h_order o ON o.h_order_pk = c.h_order_pk
JOIN (SELECT DISTINCT ON (h_order_pk) h_order_pk, cost, payment FROM dds.s_order_cost
      ORDER BY h_order_pk, update_ts DESC, load_dt DESC) m ON m.h_order_pk = c.h_order_pk
GROUP BY 1, 2, 3;
