-- The daily datamart with money (docs/contract.md §6.5, docs/bi.md): orders, dishes, cost and
-- payment per restaurant × category × day, the day being the order's date in the warehouse's
-- time zone (CDM_DAY_TIME_ZONE, recorded in cdm.daily_settings by `vault migrate`). Fed by the
-- CDM applier in the transaction that moves the counters (vault_pg::cdm::apply), exact under the
-- same rules, and recomputed from the Data Vault by cdm.v_restaurant_category_days_recomputed.
--
-- The ledger learns what an order puts into the mart (its date, its version's cost and payment,
-- its dishes per category), so that a later version takes out exactly what was put in. Existing
-- ledger entries get it from the Data Vault and the mart is built from the ledger, so that
-- orders whose reports are still on their way are counted once, when they arrive.
--
-- Stop the cdm-service replicas of earlier releases before this migration: they do not move
-- the mart (a closed entry they write without these columns is refused by the check below, but
-- a cancellation they apply would leave the mart one order too high).

CREATE TABLE IF NOT EXISTS cdm.daily_settings (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    time_zone text    NOT NULL
);
INSERT INTO cdm.daily_settings (time_zone) VALUES ('UTC') ON CONFLICT DO NOTHING;
-- One row. Read as a scalar subquery everywhere (an InitPlan, evaluated once per statement):
-- joined, a table without statistics is guessed at ~1,300 rows, and the applier's statement
-- was planned a thousand times too big and JIT-compiled (+50 ms a batch, measured).
COMMENT ON TABLE cdm.daily_settings IS 'The time zone whose dates are the days of cdm.restaurant_category_days (CDM_DAY_TIME_ZONE, set by vault migrate).';

-- The day of an order placed at order_dt (UTC, as in dds.h_order) in a time zone: the one rule
-- of the applier, the rebuild and the recomputation.
CREATE OR REPLACE FUNCTION cdm.order_day(order_dt timestamp, time_zone text)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((order_dt AT TIME ZONE 'UTC') AT TIME ZONE time_zone)::date $$;

CREATE TABLE IF NOT EXISTS cdm.restaurant_category_days (
    restaurant_id uuid    NOT NULL,
    category_id   uuid    NOT NULL,
    order_day     date    NOT NULL,
    order_cnt     integer NOT NULL CHECK (order_cnt >= 0),
    item_cnt      integer NOT NULL CHECK (item_cnt >= 0),
    cost          numeric NOT NULL CHECK (cost >= 0),
    payment       numeric NOT NULL CHECK (payment >= 0),
    PRIMARY KEY (restaurant_id, category_id, order_day)
);
CREATE INDEX IF NOT EXISTS restaurant_category_days_day_idx ON cdm.restaurant_category_days (order_day);

ALTER TABLE cdm.order_ledger
    ADD COLUMN IF NOT EXISTS order_dt timestamp,
    ADD COLUMN IF NOT EXISTS cost numeric,
    ADD COLUMN IF NOT EXISTS payment numeric,
    ADD COLUMN IF NOT EXISTS category_items integer[];

-- Existing entries that count (CLOSED): the order's date, the cost of the applied version (the
-- newest at or before it; the current one where none is), the dishes of each category (same
-- positions). The other entries keep NULL there: what they put in the mart is nothing, and the
-- ledger rows of the many versions before CLOSED stay as narrow as before.
UPDATE cdm.order_ledger l
SET order_dt = coalesce((SELECT o.order_dt FROM dds.h_order o WHERE o.h_order_pk = l.order_id), l.update_ts),
    cost = coalesce(c.cost, 0),
    payment = coalesce(c.payment, 0),
    category_items = ARRAY(
        SELECT (SELECT count(*)::integer
                FROM unnest(l.product_ids) AS p (id)
                JOIN dds.l_product_category lpc ON lpc.h_product_pk = p.id
                WHERE lpc.h_category_pk = k.id)
        FROM unnest(l.category_ids) WITH ORDINALITY AS k (id, n)
        ORDER BY k.n)
FROM cdm.order_ledger l2
LEFT JOIN LATERAL (
    SELECT s.cost, s.payment
    FROM dds.s_order_cost s
    WHERE s.h_order_pk = l2.order_id
    ORDER BY s.update_ts <= l2.update_ts DESC, s.update_ts DESC, s.load_dt DESC, s.hk_order_cost_pk DESC
    LIMIT 1
) c ON true
WHERE l2.order_id = l.order_id AND l.order_dt IS NULL AND l.status = 'CLOSED';

-- A closed entry always has them (vault_pg::cdm refuses one without).
ALTER TABLE cdm.order_ledger DROP CONSTRAINT IF EXISTS order_ledger_closed_has_day;
ALTER TABLE cdm.order_ledger ADD CONSTRAINT order_ledger_closed_has_day CHECK (
    status <> 'CLOSED'
    OR (order_dt IS NOT NULL AND cost IS NOT NULL AND payment IS NOT NULL AND category_items IS NOT NULL));

-- The mart from what the ledger has counted: by this migration, and again by `vault migrate`
-- when CDM_DAY_TIME_ZONE changes (vault-pg/sql/migrate/day_time_zone.sql).
CREATE OR REPLACE FUNCTION cdm.rebuild_restaurant_category_days()
RETURNS void
LANGUAGE sql
AS $$
DELETE FROM cdm.restaurant_category_days;
INSERT INTO cdm.restaurant_category_days
    (restaurant_id, category_id, order_day, order_cnt, item_cnt, cost, payment)
SELECT l.restaurant_id, k.category_id, cdm.order_day(l.order_dt, (SELECT time_zone FROM cdm.daily_settings)),
       count(*)::integer, sum(k.items)::integer, sum(l.cost), sum(l.payment)
FROM cdm.order_ledger l
CROSS JOIN LATERAL unnest(l.category_ids, l.category_items) AS k (category_id, items)
WHERE l.status = 'CLOSED'
GROUP BY 1, 2, 3;
$$;

SELECT cdm.rebuild_restaurant_category_days();

-- The recomputation from the Data Vault (as the views of migration 0002): per closed order, its
-- date, its current cost and payment, and its distinct dishes per restaurant and category.
CREATE OR REPLACE VIEW cdm.v_restaurant_category_days_recomputed AS
WITH cells AS (
    SELECT h_order_pk, h_restaurant_pk, h_category_pk, count(DISTINCT h_product_pk) AS items
    FROM cdm.v_closed_order_products
    GROUP BY h_order_pk, h_restaurant_pk, h_category_pk
)
SELECT c.h_restaurant_pk AS restaurant_id,
       c.h_category_pk AS category_id,
       cdm.order_day(o.order_dt, (SELECT time_zone FROM cdm.daily_settings)) AS order_day,
       count(*)::integer AS order_cnt,
       sum(c.items)::integer AS item_cnt,
       coalesce(sum(m.cost), 0) AS cost,
       coalesce(sum(m.payment), 0) AS payment
FROM cells c
JOIN dds.h_order o ON o.h_order_pk = c.h_order_pk
LEFT JOIN dds.s_order_cost_current m ON m.h_order_pk = c.h_order_pk
GROUP BY 1, 2, 3;

-- For analysts: the mart with names (current, from the Data Vault).
CREATE OR REPLACE VIEW bi.restaurant_category_days AS
SELECT d.order_day AS day,
       d.restaurant_id AS restaurant_key,
       r.restaurant_id AS restaurant_id,
       coalesce(n.name, rc.restaurant_name) AS restaurant_name,
       d.category_id AS category_key,
       h.category_name AS category_name,
       d.order_cnt AS orders,
       d.item_cnt AS dishes,
       d.cost AS cost,
       d.payment AS payment
FROM cdm.restaurant_category_days d
LEFT JOIN dds.h_restaurant r ON r.h_restaurant_pk = d.restaurant_id
LEFT JOIN dds.s_restaurant_names_current n ON n.h_restaurant_pk = d.restaurant_id
LEFT JOIN cdm.restaurant_category_counters rc
       ON rc.restaurant_id = d.restaurant_id AND rc.category_id = d.category_id
LEFT JOIN dds.h_category h ON h.h_category_pk = d.category_id
WHERE d.order_cnt > 0;

COMMENT ON VIEW bi.restaurant_category_days IS 'Per day, restaurant and category: the closed orders with at least one dish of the category, their dishes of it, and their cost and payment (cdm.restaurant_category_days). Exact: duplicates, replays and cancellations after closing are accounted for; a cancelled order leaves the day it was counted in. An order with dishes of two categories counts in both: sum cost over categories only within one category (restaurant totals: bi.restaurant_days).';
COMMENT ON COLUMN bi.restaurant_category_days.day IS 'The date the order was placed, in the warehouse''s time zone (CDM_DAY_TIME_ZONE, cdm.daily_settings; UTC by default).';
COMMENT ON COLUMN bi.restaurant_category_days.restaurant_key IS 'The restaurant''s hub key (dds.h_restaurant.h_restaurant_pk).';
COMMENT ON COLUMN bi.restaurant_category_days.restaurant_id IS 'The restaurant''s id in the source system.';
COMMENT ON COLUMN bi.restaurant_category_days.restaurant_name IS 'The restaurant''s current name (dds.s_restaurant_names_current).';
COMMENT ON COLUMN bi.restaurant_category_days.category_key IS 'The category''s hub key (dds.h_category.h_category_pk, UUIDv5 of its name).';
COMMENT ON COLUMN bi.restaurant_category_days.category_name IS 'The category (categories are shared across restaurants by name).';
COMMENT ON COLUMN bi.restaurant_category_days.orders IS 'Closed orders placed that day at this restaurant with at least one dish of this category.';
COMMENT ON COLUMN bi.restaurant_category_days.dishes IS 'Distinct dishes of this category in those orders (a dish counts once per order whatever its quantity).';
COMMENT ON COLUMN bi.restaurant_category_days.cost IS 'The sum of those orders'' cost (the whole order''s, in the version that closed it).';
COMMENT ON COLUMN bi.restaurant_category_days.payment IS 'The sum of what the guests paid for those orders (the whole order''s).';

-- Restaurant totals per day without counting an order once per category: from the ledger, one
-- row per order as the CDM has applied it.
CREATE OR REPLACE VIEW bi.restaurant_days AS
SELECT cdm.order_day(l.order_dt, (SELECT time_zone FROM cdm.daily_settings)) AS day,
       l.restaurant_id AS restaurant_key,
       r.restaurant_id AS restaurant_id,
       n.name AS restaurant_name,
       count(*)::integer AS orders,
       sum(l.cost) AS cost,
       sum(l.payment) AS payment
FROM cdm.order_ledger l
LEFT JOIN dds.h_restaurant r ON r.h_restaurant_pk = l.restaurant_id
LEFT JOIN dds.s_restaurant_names_current n ON n.h_restaurant_pk = l.restaurant_id
WHERE l.status = 'CLOSED'
GROUP BY 1, 2, 3, 4;

COMMENT ON VIEW bi.restaurant_days IS 'Per day and restaurant: the closed orders, their cost and payment, each order once (from the CDM ledger, cdm.order_ledger). Exact as the datamarts.';
COMMENT ON COLUMN bi.restaurant_days.day IS 'The date the order was placed, in the warehouse''s time zone (CDM_DAY_TIME_ZONE; UTC by default).';
COMMENT ON COLUMN bi.restaurant_days.restaurant_key IS 'The restaurant''s hub key (dds.h_restaurant.h_restaurant_pk).';
COMMENT ON COLUMN bi.restaurant_days.restaurant_id IS 'The restaurant''s id in the source system.';
COMMENT ON COLUMN bi.restaurant_days.restaurant_name IS 'The restaurant''s current name (dds.s_restaurant_names_current).';
COMMENT ON COLUMN bi.restaurant_days.orders IS 'Closed orders placed that day at this restaurant.';
COMMENT ON COLUMN bi.restaurant_days.cost IS 'The sum of their cost (in the version that closed them).';
COMMENT ON COLUMN bi.restaurant_days.payment IS 'The sum of what the guests paid for them.';

-- How fresh each layer is: the newest order version it holds and when it was loaded.
CREATE OR REPLACE VIEW bi.freshness AS
SELECT 1 AS position, 'stg' AS layer, 'stg.order_events' AS "table",
       count(*) AS orders, max(e.update_ts) AS newest_version,
       max(e.load_dt) AT TIME ZONE 'UTC' AS newest_load,
       (SELECT time_zone FROM cdm.daily_settings) AS time_zone
FROM stg.order_events e
UNION ALL
SELECT 2, 'dds', 'dds.s_order_status',
       count(DISTINCT s.h_order_pk), nullif(max(s.update_ts), '-infinity'),
       max(s.load_dt) AT TIME ZONE 'UTC',
       (SELECT time_zone FROM cdm.daily_settings)
FROM dds.s_order_status s
UNION ALL
SELECT 3, 'cdm', 'cdm.order_ledger',
       count(*), max(l.update_ts), max(l.applied_at),
       (SELECT time_zone FROM cdm.daily_settings)
FROM cdm.order_ledger l;

COMMENT ON VIEW bi.freshness IS 'How fresh each layer of the warehouse is (stg raw orders, dds Data Vault, cdm datamarts): one row per layer. A layer behind the one before it is still working through its input.';
COMMENT ON COLUMN bi.freshness.position IS 'The layer''s place in the pipeline (1 stg, 2 dds, 3 cdm).';
COMMENT ON COLUMN bi.freshness.layer IS 'stg, dds or cdm.';
COMMENT ON COLUMN bi.freshness."table" IS 'The table the row is read from.';
COMMENT ON COLUMN bi.freshness.orders IS 'Orders the layer holds.';
COMMENT ON COLUMN bi.freshness.newest_version IS 'The newest order version (its update_ts, UTC) the layer holds.';
COMMENT ON COLUMN bi.freshness.newest_load IS 'When the layer last loaded an order version.';
COMMENT ON COLUMN bi.freshness.time_zone IS 'The time zone of the days of bi.restaurant_category_days and bi.restaurant_days (CDM_DAY_TIME_ZONE).';

-- The dishes, to label and group the others by: each with its restaurant and category.
CREATE OR REPLACE VIEW bi.dishes AS
SELECT p.h_product_pk AS dish_key,
       p.product_id AS dish_id,
       d.name AS dish_name,
       lpr.h_restaurant_pk AS restaurant_key,
       r.name AS restaurant_name,
       lpc.h_category_pk AS category_key,
       h.category_name AS category_name
FROM dds.h_product p
LEFT JOIN dds.s_product_names_current d ON d.h_product_pk = p.h_product_pk
LEFT JOIN LATERAL (SELECT x.h_restaurant_pk FROM dds.l_product_restaurant x
                   WHERE x.h_product_pk = p.h_product_pk ORDER BY x.load_dt LIMIT 1) lpr ON true
LEFT JOIN dds.s_restaurant_names_current r ON r.h_restaurant_pk = lpr.h_restaurant_pk
LEFT JOIN LATERAL (SELECT x.h_category_pk FROM dds.l_product_category x
                   WHERE x.h_product_pk = p.h_product_pk ORDER BY x.load_dt LIMIT 1) lpc ON true
LEFT JOIN dds.h_category h ON h.h_category_pk = lpc.h_category_pk;

COMMENT ON VIEW bi.dishes IS 'Every dish of every menu with its restaurant and category (current names): join on dish_key to label or group bi.guest_dishes. Two restaurants may have dishes of the same name: they are different dishes.';
COMMENT ON COLUMN bi.dishes.dish_key IS 'The dish''s hub key (dds.h_product.h_product_pk).';
COMMENT ON COLUMN bi.dishes.dish_id IS 'The dish''s id in the restaurant''s menu.';
COMMENT ON COLUMN bi.dishes.dish_name IS 'The dish''s current name (dds.s_product_names_current).';
COMMENT ON COLUMN bi.dishes.restaurant_key IS 'The hub key of the restaurant whose menu has the dish.';
COMMENT ON COLUMN bi.dishes.restaurant_name IS 'That restaurant''s current name.';
COMMENT ON COLUMN bi.dishes.category_key IS 'The hub key of the dish''s category.';
COMMENT ON COLUMN bi.dishes.category_name IS 'The dish''s category.';
