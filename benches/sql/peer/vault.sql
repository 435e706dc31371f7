-- The set-based peer, step 2: the Data Vault from the staging table, the AutomateDV way — a
-- staging model with every hash key (uuid_generate_v5 over the contract's key material, §5.1),
-- then one INSERT … SELECT … ON CONFLICT DO NOTHING per hub, link and satellite. The keys equal
-- the services' (the bench compares both warehouses table by table).

CREATE TEMP TABLE peer_orders ON COMMIT DROP AS
SELECT o.*,
       uuid_generate_v5(ns, order_id_text) AS h_order_pk,
       uuid_generate_v5(ns, user_id) AS h_user_pk,
       uuid_generate_v5(ns, restaurant_id) AS h_restaurant_pk,
       uuid_generate_v5(ns, order_id_text || '#$#' || user_id) AS hk_order_user_pk,
       uuid_generate_v5(ns, user_id || '#$#' || username || '#$#' || userlogin) AS hk_user_names_pk,
       uuid_generate_v5(ns, restaurant_id || '#$#' || restaurant_name) AS hk_restaurant_names_pk,
       uuid_generate_v5(ns, order_id_text || '#$#' || cost_text || '#$#' || payment_text) AS hk_order_cost_pk,
       uuid_generate_v5(ns, order_id_text || '#$#' || status) AS hk_order_status_pk
FROM (
    -- Each document parsed once (json_to_record), its numbers kept as the text sent.
    SELECT '7f288a2e-0ad0-4039-8e59-6c9838d87307'::uuid AS ns,
           p.id AS order_id_text,
           p.date::timestamp AS order_dt,
           COALESCE(p.update_ts, p.date)::timestamp AS update_ts,
           p.status,
           p.cost AS cost_text,
           p.payment AS payment_text,
           r.id AS restaurant_id,
           r.name AS restaurant_name,
           COALESCE(r.update_ts_utc, p.update_ts, p.date)::timestamp AS restaurant_ts,
           u.id AS user_id,
           u.name AS username,
           COALESCE(u.login, u.name) AS userlogin,
           COALESCE(u.update_ts_utc, p.update_ts, p.date)::timestamp AS user_ts,
           p.products
    FROM peer.enriched_orders d,
         json_to_record(d.doc -> 'payload') AS p (id text, date text, update_ts text, status text, cost text,
                                                   payment text, restaurant json, "user" json, products json),
         json_to_record(p.restaurant) AS r (id text, name text, update_ts_utc text),
         json_to_record(p."user") AS u (id text, name text, login text, update_ts_utc text)
) o;

CREATE TEMP TABLE peer_items ON COMMIT DROP AS
SELECT i.*,
       uuid_generate_v5(ns, product_id) AS h_product_pk,
       uuid_generate_v5(ns, category_name) AS h_category_pk,
       uuid_generate_v5(ns, order_id_text || '#$#' || product_id) AS hk_order_product_pk,
       uuid_generate_v5(ns, product_id || '#$#' || restaurant_id) AS hk_product_restaurant_pk,
       uuid_generate_v5(ns, product_id || '#$#' || category_name) AS hk_product_category_pk,
       uuid_generate_v5(ns, product_id || '#$#' || product_name) AS hk_product_names_pk
FROM (
    SELECT o.ns, o.order_id_text, o.h_order_pk, o.restaurant_id, o.h_restaurant_pk, o.restaurant_ts,
           p.id AS product_id, p.name AS product_name, p.category AS category_name
    FROM peer_orders o, json_to_recordset(o.products) AS p (id text, name text, category text)
) i;

INSERT INTO dds.h_user (h_user_pk, user_id, load_dt, load_src)
SELECT DISTINCT h_user_pk, user_id, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_orders
ON CONFLICT DO NOTHING;

INSERT INTO dds.h_product (h_product_pk, product_id, load_dt, load_src)
SELECT DISTINCT h_product_pk, product_id, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_items
ON CONFLICT DO NOTHING;

INSERT INTO dds.h_category (h_category_pk, category_name, load_dt, load_src)
SELECT DISTINCT h_category_pk, category_name, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_items
ON CONFLICT DO NOTHING;

INSERT INTO dds.h_restaurant (h_restaurant_pk, restaurant_id, load_dt, load_src)
SELECT DISTINCT h_restaurant_pk, restaurant_id, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_orders
ON CONFLICT DO NOTHING;

INSERT INTO dds.h_order (h_order_pk, order_id, order_dt, load_dt, load_src)
SELECT DISTINCT ON (h_order_pk) h_order_pk, order_id_text::bigint, order_dt, now() AT TIME ZONE 'utc', 'orders-system-kafka'
FROM peer_orders ORDER BY h_order_pk, update_ts DESC
ON CONFLICT DO NOTHING;

INSERT INTO dds.l_order_product (hk_order_product_pk, h_order_pk, h_product_pk, load_dt, load_src)
SELECT DISTINCT hk_order_product_pk, h_order_pk, h_product_pk, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_items
ON CONFLICT DO NOTHING;

INSERT INTO dds.l_product_restaurant (hk_product_restaurant_pk, h_restaurant_pk, h_product_pk, load_dt, load_src)
SELECT DISTINCT hk_product_restaurant_pk, h_restaurant_pk, h_product_pk, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_items
ON CONFLICT DO NOTHING;

INSERT INTO dds.l_product_category (hk_product_category_pk, h_category_pk, h_product_pk, load_dt, load_src)
SELECT DISTINCT hk_product_category_pk, h_category_pk, h_product_pk, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_items
ON CONFLICT DO NOTHING;

INSERT INTO dds.l_order_user (hk_order_user_pk, h_order_pk, h_user_pk, load_dt, load_src)
SELECT DISTINCT hk_order_user_pk, h_order_pk, h_user_pk, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_orders
ON CONFLICT DO NOTHING;

-- Satellites: every distinct value at every effective time (the dictionary's, the order
-- version's), as the services keep history.
INSERT INTO dds.s_user_names (hk_user_names_pk, h_user_pk, username, userlogin, update_ts_utc, load_dt, load_src)
SELECT DISTINCT hk_user_names_pk, h_user_pk, username, userlogin, user_ts, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_orders
ON CONFLICT DO NOTHING;

INSERT INTO dds.s_restaurant_names (hk_restaurant_names_pk, h_restaurant_pk, name, update_ts_utc, load_dt, load_src)
SELECT DISTINCT hk_restaurant_names_pk, h_restaurant_pk, restaurant_name, restaurant_ts, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_orders
ON CONFLICT DO NOTHING;

INSERT INTO dds.s_product_names (hk_product_names_pk, h_product_pk, name, update_ts_utc, load_dt, load_src)
SELECT DISTINCT hk_product_names_pk, h_product_pk, product_name, restaurant_ts, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_items
ON CONFLICT DO NOTHING;

INSERT INTO dds.s_order_cost (hk_order_cost_pk, h_order_pk, cost, payment, update_ts, load_dt, load_src)
SELECT DISTINCT hk_order_cost_pk, h_order_pk, cost_text::numeric, payment_text::numeric, update_ts, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_orders
ON CONFLICT DO NOTHING;

INSERT INTO dds.s_order_status (hk_order_status_pk, h_order_pk, status, update_ts, load_dt, load_src)
SELECT DISTINCT hk_order_status_pk, h_order_pk, status, update_ts, now() AT TIME ZONE 'utc', 'orders-system-kafka' FROM peer_orders
ON CONFLICT DO NOTHING;
