-- The counters recomputed from the Data Vault: the oracle for tests and for operators
-- (`vault check` compares them with the cdm tables; `sql/cdm_check.sql` is the query).
--
-- An order counts when its latest status is CLOSED. The latest status is the one seen at the
-- newest version timestamp; ties (one version cannot have two statuses, but old rows lack
-- update_ts) go to the later lifecycle status, as in vault_core::cdm.
-- Assumes what the source system guarantees: the lines of an order, the restaurant of a product
-- and the category of a product do not change between versions (the links are insert-only and
-- carry no validity period).

CREATE OR REPLACE VIEW cdm.v_order_latest_status AS
SELECT DISTINCT ON (h_order_pk) h_order_pk, status
FROM dds.s_order_status
ORDER BY h_order_pk,
         update_ts DESC NULLS LAST,
         array_position(ARRAY['OPEN', 'COOKING', 'DELIVERING', 'CLOSED', 'CANCELLED']::varchar[], status) DESC;

CREATE OR REPLACE VIEW cdm.v_closed_order_products AS
SELECT s.h_order_pk, lou.h_user_pk, lpr.h_restaurant_pk, lop.h_product_pk, lpc.h_category_pk
FROM cdm.v_order_latest_status s
JOIN dds.l_order_product lop ON lop.h_order_pk = s.h_order_pk
JOIN dds.l_order_user lou ON lou.h_order_pk = s.h_order_pk
JOIN dds.l_product_restaurant lpr ON lpr.h_product_pk = lop.h_product_pk
JOIN dds.l_product_category lpc ON lpc.h_product_pk = lop.h_product_pk
WHERE s.status = 'CLOSED';

CREATE OR REPLACE VIEW cdm.v_user_product_counters_recomputed AS
SELECT h_user_pk AS user_id, h_product_pk AS product_id, count(DISTINCT h_order_pk)::integer AS order_cnt
FROM cdm.v_closed_order_products
GROUP BY h_user_pk, h_product_pk;

CREATE OR REPLACE VIEW cdm.v_user_category_counters_recomputed AS
SELECT h_user_pk AS user_id, h_category_pk AS category_id, count(DISTINCT h_order_pk)::integer AS order_cnt
FROM cdm.v_closed_order_products
GROUP BY h_user_pk, h_category_pk;

CREATE OR REPLACE VIEW cdm.v_restaurant_category_counters_recomputed AS
SELECT h_restaurant_pk AS restaurant_id, h_category_pk AS category_id, count(DISTINCT h_order_pk)::integer AS order_cnt
FROM cdm.v_closed_order_products
GROUP BY h_restaurant_pk, h_category_pk;
