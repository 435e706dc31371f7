-- Effectivity satellites on product → category and product → restaurant, a point-in-time
-- table over the order's satellites and a bridge from orders to categories (the Data Vault
-- patterns of vault_pg::model).
--
-- dds.es_product_category / dds.es_product_restaurant: when each link holds for its product
-- (the driving key), one row per observation at the menu's time; their _current, _at and
-- _periods. The links loaded before this migration have no source time: each gets one active
-- observation at -infinity (its load time ordering ties), so every product has the link it
-- had, and what the source says from now on supersedes it.
--
-- dds.pit_order: an order's s_order_cost and s_order_status rows in force at each snapshot
-- time, rebuilt by dds.pit_order_refresh(as_of); dds.b_order_category: each order's products
-- and their categories in force at each snapshot time, rebuilt by
-- dds.b_order_category_refresh(as_of) (nothing is snapshotted by the migration).
--
-- Apart from the backfill, the body is vault_pg::model's DDL of these objects, generated.

-- effectivity satellite dds.es_product_category: insert-only, one row per observation of a link (hk_product_category_pk) at an effective time (update_ts_utc), active or ended.
CREATE TABLE IF NOT EXISTS dds.es_product_category (
    hk_product_category_pk uuid NOT NULL REFERENCES dds.l_product_category (hk_product_category_pk),
    h_product_pk uuid NOT NULL REFERENCES dds.h_product (h_product_pk),
    is_active boolean NOT NULL,
    update_ts_utc timestamp NOT NULL,
    load_dt timestamp NOT NULL,
    load_src varchar NOT NULL,
    PRIMARY KEY (hk_product_category_pk, update_ts_utc)
);
CREATE INDEX IF NOT EXISTS es_product_category_h_product_pk_update_ts_utc_idx ON dds.es_product_category (h_product_pk, update_ts_utc);

-- effectivity satellite dds.es_product_restaurant: insert-only, one row per observation of a link (hk_product_restaurant_pk) at an effective time (update_ts_utc), active or ended.
CREATE TABLE IF NOT EXISTS dds.es_product_restaurant (
    hk_product_restaurant_pk uuid NOT NULL REFERENCES dds.l_product_restaurant (hk_product_restaurant_pk),
    h_product_pk uuid NOT NULL REFERENCES dds.h_product (h_product_pk),
    is_active boolean NOT NULL,
    update_ts_utc timestamp NOT NULL,
    load_dt timestamp NOT NULL,
    load_src varchar NOT NULL,
    PRIMARY KEY (hk_product_restaurant_pk, update_ts_utc)
);
CREATE INDEX IF NOT EXISTS es_product_restaurant_h_product_pk_update_ts_utc_idx ON dds.es_product_restaurant (h_product_pk, update_ts_utc);

-- point-in-time table dds.pit_order over h_order: for each snapshot time (as_of), the row of
-- each satellite in force then (s_order_cost, s_order_status): its key and effective time, or the ghost
-- record's (the nil uuid and -infinity) when the hub had none yet. Derived: rebuilt for a time
-- by dds.pit_order_refresh(as_of).
CREATE TABLE IF NOT EXISTS dds.pit_order (
    h_order_pk uuid NOT NULL REFERENCES dds.h_order (h_order_pk),
    as_of timestamp NOT NULL,
    hk_order_cost_pk uuid NOT NULL,
    s_order_cost_update_ts timestamp NOT NULL,
    hk_order_status_pk uuid NOT NULL,
    s_order_status_update_ts timestamp NOT NULL,
    PRIMARY KEY (as_of, h_order_pk)
);

-- bridge table dds.b_order_category from h_order along l_order_product → h_product → l_product_category → h_category: for each snapshot time (as_of), every
-- path of links in force then, with the keys of its links and hubs. Derived: rebuilt for a
-- time by dds.b_order_category_refresh(as_of).
CREATE TABLE IF NOT EXISTS dds.b_order_category (
    h_order_pk uuid NOT NULL REFERENCES dds.h_order (h_order_pk),
    as_of timestamp NOT NULL,
    hk_order_product_pk uuid NOT NULL,
    h_product_pk uuid NOT NULL,
    hk_product_category_pk uuid NOT NULL,
    h_category_pk uuid NOT NULL,
    PRIMARY KEY (as_of, h_order_pk, hk_order_product_pk, hk_product_category_pk)
);

INSERT INTO dds.es_product_category
    (hk_product_category_pk, h_product_pk, is_active, update_ts_utc, load_dt, load_src)
SELECT l.hk_product_category_pk, l.h_product_pk, true, '-infinity', l.load_dt, l.load_src
FROM dds.l_product_category AS l
ON CONFLICT DO NOTHING;

INSERT INTO dds.es_product_restaurant
    (hk_product_restaurant_pk, h_product_pk, is_active, update_ts_utc, load_dt, load_src)
SELECT l.hk_product_restaurant_pk, l.h_product_pk, true, '-infinity', l.load_dt, l.load_src
FROM dds.l_product_restaurant AS l
ON CONFLICT DO NOTHING;

-- The link in force for each h_product_pk in dds.es_product_category: the newest observation by
-- update_ts_utc whatever the arrival order (ties: the later load, then the greater key), when it
-- is active. A driving key whose newest observation ended its link has none.
CREATE OR REPLACE VIEW dds.es_product_category_current AS
SELECT newest.*
FROM (
    SELECT DISTINCT ON (s.h_product_pk) s.*
    FROM dds.es_product_category AS s
    ORDER BY s.h_product_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_product_category_pk DESC
) AS newest
WHERE newest.is_active;

-- The link in force for each h_product_pk in dds.es_product_category at a time: the newest observation
-- at or before it, when it is active ($1: a column may share the parameter's name).
-- SELECT * FROM dds.es_product_category_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION dds.es_product_category_at(at timestamp)
RETURNS SETOF dds.es_product_category
LANGUAGE sql STABLE
AS $$
SELECT newest.*
FROM (
    SELECT DISTINCT ON (s.h_product_pk) s.*
    FROM dds.es_product_category AS s
    WHERE s.update_ts_utc <= $1
    ORDER BY s.h_product_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_product_category_pk DESC
) AS newest
WHERE newest.is_active
$$;

-- The periods of each link in dds.es_product_category, by its driving key h_product_pk: one row per run
-- of the same link in force, from valid_from until valid_to (when another link of the same
-- driving key, or the end of this one, was observed; NULL while in force). Observations that
-- repeat the link in force belong to its period.
CREATE OR REPLACE VIEW dds.es_product_category_periods AS
SELECT runs.h_product_pk, runs.hk_product_category_pk, runs.valid_from, runs.valid_to, runs.load_dt, runs.load_src
FROM (
    SELECT o.*, o.update_ts_utc AS valid_from,
           lead(o.update_ts_utc) OVER (PARTITION BY o.h_product_pk ORDER BY o.update_ts_utc, o.load_dt, o.hk_product_category_pk) AS valid_to
    FROM (
        SELECT s.*,
               lag(s.hk_product_category_pk) OVER w AS previous_key,
               lag(s.is_active) OVER w AS previous_active
        FROM dds.es_product_category AS s
        WINDOW w AS (PARTITION BY s.h_product_pk ORDER BY s.update_ts_utc, s.load_dt, s.hk_product_category_pk)
    ) AS o
    WHERE o.previous_key IS DISTINCT FROM o.hk_product_category_pk
       OR o.previous_active IS DISTINCT FROM o.is_active
) AS runs
WHERE runs.is_active;

-- The link in force for each h_product_pk in dds.es_product_restaurant: the newest observation by
-- update_ts_utc whatever the arrival order (ties: the later load, then the greater key), when it
-- is active. A driving key whose newest observation ended its link has none.
CREATE OR REPLACE VIEW dds.es_product_restaurant_current AS
SELECT newest.*
FROM (
    SELECT DISTINCT ON (s.h_product_pk) s.*
    FROM dds.es_product_restaurant AS s
    ORDER BY s.h_product_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_product_restaurant_pk DESC
) AS newest
WHERE newest.is_active;

-- The link in force for each h_product_pk in dds.es_product_restaurant at a time: the newest observation
-- at or before it, when it is active ($1: a column may share the parameter's name).
-- SELECT * FROM dds.es_product_restaurant_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION dds.es_product_restaurant_at(at timestamp)
RETURNS SETOF dds.es_product_restaurant
LANGUAGE sql STABLE
AS $$
SELECT newest.*
FROM (
    SELECT DISTINCT ON (s.h_product_pk) s.*
    FROM dds.es_product_restaurant AS s
    WHERE s.update_ts_utc <= $1
    ORDER BY s.h_product_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_product_restaurant_pk DESC
) AS newest
WHERE newest.is_active
$$;

-- The periods of each link in dds.es_product_restaurant, by its driving key h_product_pk: one row per run
-- of the same link in force, from valid_from until valid_to (when another link of the same
-- driving key, or the end of this one, was observed; NULL while in force). Observations that
-- repeat the link in force belong to its period.
CREATE OR REPLACE VIEW dds.es_product_restaurant_periods AS
SELECT runs.h_product_pk, runs.hk_product_restaurant_pk, runs.valid_from, runs.valid_to, runs.load_dt, runs.load_src
FROM (
    SELECT o.*, o.update_ts_utc AS valid_from,
           lead(o.update_ts_utc) OVER (PARTITION BY o.h_product_pk ORDER BY o.update_ts_utc, o.load_dt, o.hk_product_restaurant_pk) AS valid_to
    FROM (
        SELECT s.*,
               lag(s.hk_product_restaurant_pk) OVER w AS previous_key,
               lag(s.is_active) OVER w AS previous_active
        FROM dds.es_product_restaurant AS s
        WINDOW w AS (PARTITION BY s.h_product_pk ORDER BY s.update_ts_utc, s.load_dt, s.hk_product_restaurant_pk)
    ) AS o
    WHERE o.previous_key IS DISTINCT FROM o.hk_product_restaurant_pk
       OR o.previous_active IS DISTINCT FROM o.is_active
) AS runs
WHERE runs.is_active;

-- Rebuilds the snapshot of dds.pit_order at a time, in one statement each: what was there
-- for that time goes, then every h_order with a row in force in any of its satellites gets one
-- row. Returns the rows written. Schedule it (daily, hourly) for the times BI reports on; run
-- it again for a past time when late data arrived.
-- SELECT dds.pit_order_refresh(date_trunc('day', now() AT TIME ZONE 'utc'));
CREATE OR REPLACE FUNCTION dds.pit_order_refresh(as_of timestamp)
RETURNS bigint
LANGUAGE sql
AS $$
DELETE FROM dds.pit_order AS p WHERE p.as_of = $1;
INSERT INTO dds.pit_order (h_order_pk, as_of, hk_order_cost_pk, s_order_cost_update_ts, hk_order_status_pk, s_order_status_update_ts)
SELECT h.h_order_pk, $1, COALESCE(s0.key, '00000000-0000-0000-0000-000000000000'), COALESCE(s0.effective, '-infinity'),
       COALESCE(s1.key, '00000000-0000-0000-0000-000000000000'), COALESCE(s1.effective, '-infinity')
FROM dds.h_order AS h
LEFT JOIN LATERAL (
    SELECT s.hk_order_cost_pk AS key, s.update_ts AS effective
    FROM dds.s_order_cost AS s
    WHERE s.h_order_pk = h.h_order_pk AND s.update_ts <= $1
    ORDER BY s.update_ts DESC, s.load_dt DESC, s.hk_order_cost_pk DESC
    LIMIT 1
) AS s0 ON true
LEFT JOIN LATERAL (
    SELECT s.hk_order_status_pk AS key, s.update_ts AS effective
    FROM dds.s_order_status AS s
    WHERE s.h_order_pk = h.h_order_pk AND s.update_ts <= $1
    ORDER BY s.update_ts DESC, s.load_dt DESC, s.hk_order_status_pk DESC
    LIMIT 1
) AS s1 ON true
WHERE s0.key IS NOT NULL OR s1.key IS NOT NULL;
SELECT count(*) FROM dds.pit_order AS p WHERE p.as_of = $1;
$$;

-- Rebuilds the snapshot of dds.b_order_category at a time: what was there for that time goes,
-- then every path from h_order along l_order_product → h_product → l_product_category → h_category whose links were in force then (a link with an
-- effectivity satellite while active at that time; one without, once loaded) gets one row.
-- Returns the rows written. Schedule it for the times BI reports on.
-- SELECT dds.b_order_category_refresh(date_trunc('day', now() AT TIME ZONE 'utc'));
CREATE OR REPLACE FUNCTION dds.b_order_category_refresh(as_of timestamp)
RETURNS bigint
LANGUAGE sql
AS $$
DELETE FROM dds.b_order_category AS b WHERE b.as_of = $1;
INSERT INTO dds.b_order_category (h_order_pk, as_of, hk_order_product_pk, h_product_pk, hk_product_category_pk, h_category_pk)
SELECT h.h_order_pk, $1, l0.hk_order_product_pk, l0.h_product_pk, l1.hk_product_category_pk, l1.h_category_pk
FROM dds.h_order AS h
JOIN dds.l_order_product AS l0 ON l0.h_order_pk = h.h_order_pk
JOIN dds.l_product_category AS l1 ON l1.h_product_pk = l0.h_product_pk
JOIN dds.es_product_category_at($1) AS e1 ON e1.hk_product_category_pk = l1.hk_product_category_pk;
SELECT count(*) FROM dds.b_order_category AS b WHERE b.as_of = $1;
$$;
