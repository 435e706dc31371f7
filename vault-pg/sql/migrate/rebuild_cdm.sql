-- Runs once, after the migrations, on a warehouse of the original Python services: their
-- counters were incremented once per message (not exact after replays), and vault's ledger is
-- empty. Both are rebuilt from the Data Vault, so that `vault check` is exact right after the
-- upgrade and every later report is applied against what is already counted.

-- The ledger: per order, its latest version as the Data Vault knows it. The version timestamp
-- comes from the raw layer's payload when it has one, else from the order's date (then any
-- later report of the order counts as newer).
INSERT INTO cdm.order_ledger (order_id, update_ts, status, user_id, restaurant_id, product_ids,
                              category_ids, category_items, order_dt, cost, payment)
SELECT o.h_order_pk,
       coalesce(
           -- Status rows without a source time (-infinity since migration 0006) tell none.
           (SELECT nullif(max(s.update_ts), '-infinity') FROM dds.s_order_status s
            WHERE s.h_order_pk = o.h_order_pk),
           (SELECT e.update_ts FROM stg.order_events e WHERE e.object_id = o.order_id),
           o.order_dt),
       ls.status,
       u.h_user_pk,
       coalesce(
           (SELECT lpr.h_restaurant_pk
            FROM dds.l_order_product lop
            JOIN dds.l_product_restaurant lpr ON lpr.h_product_pk = lop.h_product_pk
            WHERE lop.h_order_pk = o.h_order_pk
            ORDER BY lpr.h_restaurant_pk LIMIT 1),
           '00000000-0000-0000-0000-000000000000'::uuid),
       ARRAY(SELECT DISTINCT lop.h_product_pk FROM dds.l_order_product lop
             WHERE lop.h_order_pk = o.h_order_pk ORDER BY 1),
       ARRAY(SELECT DISTINCT lpc.h_category_pk
             FROM dds.l_order_product lop
             JOIN dds.l_product_category lpc ON lpc.h_product_pk = lop.h_product_pk
             WHERE lop.h_order_pk = o.h_order_pk ORDER BY 1),
       -- The dishes of each category, in the order of category_ids.
       ARRAY(SELECT count(DISTINCT lop.h_product_pk)::integer
             FROM dds.l_order_product lop
             JOIN dds.l_product_category lpc ON lpc.h_product_pk = lop.h_product_pk
             WHERE lop.h_order_pk = o.h_order_pk
             GROUP BY lpc.h_category_pk ORDER BY lpc.h_category_pk),
       o.order_dt,
       coalesce(c.cost, 0),
       coalesce(c.payment, 0)
FROM dds.h_order o
LEFT JOIN dds.s_order_cost_current c ON c.h_order_pk = o.h_order_pk
JOIN cdm.v_order_latest_status ls ON ls.h_order_pk = o.h_order_pk
JOIN LATERAL (SELECT lou.h_user_pk FROM dds.l_order_user lou
              WHERE lou.h_order_pk = o.h_order_pk ORDER BY lou.load_dt LIMIT 1) u ON true
ON CONFLICT (order_id) DO NOTHING;

-- The counters: the recomputation, with the current names of the Data Vault.
DELETE FROM cdm.user_product_counters;
INSERT INTO cdm.user_product_counters (user_id, product_id, product_name, order_cnt)
SELECT r.user_id, r.product_id,
       coalesce((SELECT n.name FROM dds.s_product_names_current n WHERE n.h_product_pk = r.product_id), ''),
       r.order_cnt
FROM cdm.v_user_product_counters_recomputed r;

DELETE FROM cdm.user_category_counters;
INSERT INTO cdm.user_category_counters (user_id, category_id, category_name, order_cnt)
SELECT r.user_id, r.category_id,
       coalesce((SELECT c.category_name FROM dds.h_category c WHERE c.h_category_pk = r.category_id), ''),
       r.order_cnt
FROM cdm.v_user_category_counters_recomputed r;

DELETE FROM cdm.restaurant_category_counters;
INSERT INTO cdm.restaurant_category_counters (restaurant_id, category_id, restaurant_name, category_name, order_cnt)
SELECT r.restaurant_id, r.category_id,
       coalesce((SELECT n.name FROM dds.s_restaurant_names_current n WHERE n.h_restaurant_pk = r.restaurant_id), ''),
       coalesce((SELECT c.category_name FROM dds.h_category c WHERE c.h_category_pk = r.category_id), ''),
       r.order_cnt
FROM cdm.v_restaurant_category_counters_recomputed r;

-- The daily datamart, from the ledger just built (migration 0010).
SELECT cdm.rebuild_restaurant_category_days();
