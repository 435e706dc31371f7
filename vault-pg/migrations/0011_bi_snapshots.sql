-- The order model's snapshots for analysts (docs/bi.md): the point-in-time table dds.pit_order
-- and the bridge dds.b_order_category read through schema bi, with the source ids, the values
-- in force at each snapshot and current names, so that the role vault_bi (which reads bi only)
-- can report as of a date. They hold the snapshot times refreshed by `vault refresh`.

CREATE OR REPLACE VIEW bi.order_snapshots AS
SELECT p.as_of,
       p.h_order_pk AS order_key,
       o.order_id,
       o.order_dt AS ordered_at,
       s.status,
       c.cost,
       c.payment
FROM dds.pit_order p
JOIN dds.h_order o ON o.h_order_pk = p.h_order_pk
LEFT JOIN dds.s_order_status s
  ON s.hk_order_status_pk = p.hk_order_status_pk AND s.update_ts = p.s_order_status_update_ts
LEFT JOIN dds.s_order_cost c
  ON c.hk_order_cost_pk = p.hk_order_cost_pk AND c.update_ts = p.s_order_cost_update_ts;

COMMENT ON VIEW bi.order_snapshots IS 'Each order as it stood at each snapshot time refreshed by vault refresh (dds.pit_order): its status, cost and payment then.';
COMMENT ON COLUMN bi.order_snapshots.as_of IS 'The snapshot time (UTC); only the times refreshed are there.';
COMMENT ON COLUMN bi.order_snapshots.order_key IS 'The order''s hub key (dds.h_order.h_order_pk).';
COMMENT ON COLUMN bi.order_snapshots.order_id IS 'The order''s id in the source system.';
COMMENT ON COLUMN bi.order_snapshots.ordered_at IS 'When the order was placed (UTC).';
COMMENT ON COLUMN bi.order_snapshots.status IS 'The order''s status in force at the snapshot time (NULL: none known yet).';
COMMENT ON COLUMN bi.order_snapshots.cost IS 'The order''s cost in force at the snapshot time (NULL: none known yet).';
COMMENT ON COLUMN bi.order_snapshots.payment IS 'The order''s payment in force at the snapshot time (NULL: none known yet).';

CREATE OR REPLACE VIEW bi.order_dish_categories AS
SELECT b.as_of,
       b.h_order_pk AS order_key,
       o.order_id,
       b.h_product_pk AS dish_key,
       pr.product_id AS dish_id,
       d.name AS dish_name,
       b.h_category_pk AS category_key,
       c.category_name
FROM dds.b_order_category b
JOIN dds.h_order o ON o.h_order_pk = b.h_order_pk
JOIN dds.h_product pr ON pr.h_product_pk = b.h_product_pk
JOIN dds.h_category c ON c.h_category_pk = b.h_category_pk
LEFT JOIN dds.s_product_names_current d ON d.h_product_pk = b.h_product_pk;

COMMENT ON VIEW bi.order_dish_categories IS 'Each order''s dishes and the category each dish was in at each snapshot time refreshed by vault refresh (dds.b_order_category).';
COMMENT ON COLUMN bi.order_dish_categories.as_of IS 'The snapshot time (UTC); only the times refreshed are there.';
COMMENT ON COLUMN bi.order_dish_categories.order_key IS 'The order''s hub key (dds.h_order.h_order_pk).';
COMMENT ON COLUMN bi.order_dish_categories.order_id IS 'The order''s id in the source system.';
COMMENT ON COLUMN bi.order_dish_categories.dish_key IS 'The dish''s hub key (dds.h_product.h_product_pk).';
COMMENT ON COLUMN bi.order_dish_categories.dish_id IS 'The dish''s id in the restaurant''s menu.';
COMMENT ON COLUMN bi.order_dish_categories.dish_name IS 'The dish''s current name (dds.s_product_names_current).';
COMMENT ON COLUMN bi.order_dish_categories.category_key IS 'The category''s hub key (dds.h_category.h_category_pk).';
COMMENT ON COLUMN bi.order_dish_categories.category_name IS 'The category the dish was in at the snapshot time.';
