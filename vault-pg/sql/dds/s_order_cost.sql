-- Inserts a batch of dds.s_order_cost rows (one array per column); existing keys are left as they are.
INSERT INTO dds.s_order_cost AS existing (hk_order_cost_pk, h_order_pk, cost, payment, load_dt, load_src)
SELECT t.hk_order_cost_pk, t.h_order_pk, t.cost::numeric, t.payment::numeric, (now() AT TIME ZONE 'utc'), $5
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS t (hk_order_cost_pk, h_order_pk, cost, payment)
ON CONFLICT DO NOTHING
