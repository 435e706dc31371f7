-- Every satellite keeps its history (docs/data-vault.md, "History"): a row is one value of its
-- parent from an effective time the source gives (the dictionary entry's update_ts_utc for
-- names, the order version's update_ts for cost and status), keyed by (hashdiff, effective
-- time). A → B → A is three rows; a replay adds none; a late value lands where it belongs.
--
-- Rows loaded before this migration have no source time (s_order_status keeps its update_ts
-- where it has one): they take -infinity, stay in their load order among themselves, and what
-- the source sends from now on supersedes them; as before the upgrade, where a NULL update_ts
-- sorted last and the newest load was current. Each satellite gets
-- `_current` (newest by effective time), `_at(timestamp)` (in force at a time) and `_periods`
-- (valid_from / valid_to per run of an unchanged value).
--
-- Cost on a large warehouse: filling the new columns rewrites each satellite, and the new
-- primary keys are built under an ACCESS EXCLUSIVE lock. Stop the services first (they wait
-- for the migration lock anyway).

-- s_order_status's index on h_order_pk (migration 0001) is covered by (h_order_pk, update_ts).
DROP INDEX IF EXISTS dds.s_order_status_order_idx;

-- (generated: vault_pg::model::history_upgrade)

-- dds.s_user_names keeps periods by update_ts_utc: a table made by an earlier release (one row
-- per key) gets the column, and the primary key becomes (hk_user_names_pk, update_ts_utc). Its rows have no
-- source time: they take -infinity, keep their order among themselves by load_dt, and any
-- value the source gives from now on supersedes them (their load_dt is later than the source
-- time of what follows them, so as effective time it would keep them current over it).
ALTER TABLE dds.s_user_names ADD COLUMN IF NOT EXISTS update_ts_utc timestamp;
UPDATE dds.s_user_names SET update_ts_utc = '-infinity' WHERE update_ts_utc IS NULL;
ALTER TABLE dds.s_user_names ALTER COLUMN update_ts_utc SET NOT NULL;
DO $$
DECLARE
    pk name;
    width int;
BEGIN
    SELECT conname, array_length(conkey, 1) INTO pk, width
    FROM pg_constraint
    WHERE conrelid = 'dds.s_user_names'::regclass AND contype = 'p';
    IF pk IS NULL OR width = 1 THEN
        IF pk IS NOT NULL THEN
            EXECUTE format('ALTER TABLE dds.s_user_names DROP CONSTRAINT %I', pk);
        END IF;
        ALTER TABLE dds.s_user_names ADD PRIMARY KEY (hk_user_names_pk, update_ts_utc);
    END IF;
END
$$;
DROP INDEX IF EXISTS dds.s_user_names_h_user_pk_idx;
CREATE INDEX IF NOT EXISTS s_user_names_h_user_pk_update_ts_utc_idx ON dds.s_user_names (h_user_pk, update_ts_utc);

-- dds.s_restaurant_names keeps periods by update_ts_utc: a table made by an earlier release (one row
-- per key) gets the column, and the primary key becomes (hk_restaurant_names_pk, update_ts_utc). Its rows have no
-- source time: they take -infinity, keep their order among themselves by load_dt, and any
-- value the source gives from now on supersedes them (their load_dt is later than the source
-- time of what follows them, so as effective time it would keep them current over it).
ALTER TABLE dds.s_restaurant_names ADD COLUMN IF NOT EXISTS update_ts_utc timestamp;
UPDATE dds.s_restaurant_names SET update_ts_utc = '-infinity' WHERE update_ts_utc IS NULL;
ALTER TABLE dds.s_restaurant_names ALTER COLUMN update_ts_utc SET NOT NULL;
DO $$
DECLARE
    pk name;
    width int;
BEGIN
    SELECT conname, array_length(conkey, 1) INTO pk, width
    FROM pg_constraint
    WHERE conrelid = 'dds.s_restaurant_names'::regclass AND contype = 'p';
    IF pk IS NULL OR width = 1 THEN
        IF pk IS NOT NULL THEN
            EXECUTE format('ALTER TABLE dds.s_restaurant_names DROP CONSTRAINT %I', pk);
        END IF;
        ALTER TABLE dds.s_restaurant_names ADD PRIMARY KEY (hk_restaurant_names_pk, update_ts_utc);
    END IF;
END
$$;
DROP INDEX IF EXISTS dds.s_restaurant_names_h_restaurant_pk_idx;
CREATE INDEX IF NOT EXISTS s_restaurant_names_h_restaurant_pk_update_ts_utc_idx ON dds.s_restaurant_names (h_restaurant_pk, update_ts_utc);

-- dds.s_product_names keeps periods by update_ts_utc: a table made by an earlier release (one row
-- per key) gets the column, and the primary key becomes (hk_product_names_pk, update_ts_utc). Its rows have no
-- source time: they take -infinity, keep their order among themselves by load_dt, and any
-- value the source gives from now on supersedes them (their load_dt is later than the source
-- time of what follows them, so as effective time it would keep them current over it).
ALTER TABLE dds.s_product_names ADD COLUMN IF NOT EXISTS update_ts_utc timestamp;
UPDATE dds.s_product_names SET update_ts_utc = '-infinity' WHERE update_ts_utc IS NULL;
ALTER TABLE dds.s_product_names ALTER COLUMN update_ts_utc SET NOT NULL;
DO $$
DECLARE
    pk name;
    width int;
BEGIN
    SELECT conname, array_length(conkey, 1) INTO pk, width
    FROM pg_constraint
    WHERE conrelid = 'dds.s_product_names'::regclass AND contype = 'p';
    IF pk IS NULL OR width = 1 THEN
        IF pk IS NOT NULL THEN
            EXECUTE format('ALTER TABLE dds.s_product_names DROP CONSTRAINT %I', pk);
        END IF;
        ALTER TABLE dds.s_product_names ADD PRIMARY KEY (hk_product_names_pk, update_ts_utc);
    END IF;
END
$$;
DROP INDEX IF EXISTS dds.s_product_names_h_product_pk_idx;
CREATE INDEX IF NOT EXISTS s_product_names_h_product_pk_update_ts_utc_idx ON dds.s_product_names (h_product_pk, update_ts_utc);

-- dds.s_order_cost keeps periods by update_ts: a table made by an earlier release (one row
-- per key) gets the column, and the primary key becomes (hk_order_cost_pk, update_ts). Its rows have no
-- source time: they take -infinity, keep their order among themselves by load_dt, and any
-- value the source gives from now on supersedes them (their load_dt is later than the source
-- time of what follows them, so as effective time it would keep them current over it).
ALTER TABLE dds.s_order_cost ADD COLUMN IF NOT EXISTS update_ts timestamp;
UPDATE dds.s_order_cost SET update_ts = '-infinity' WHERE update_ts IS NULL;
ALTER TABLE dds.s_order_cost ALTER COLUMN update_ts SET NOT NULL;
DO $$
DECLARE
    pk name;
    width int;
BEGIN
    SELECT conname, array_length(conkey, 1) INTO pk, width
    FROM pg_constraint
    WHERE conrelid = 'dds.s_order_cost'::regclass AND contype = 'p';
    IF pk IS NULL OR width = 1 THEN
        IF pk IS NOT NULL THEN
            EXECUTE format('ALTER TABLE dds.s_order_cost DROP CONSTRAINT %I', pk);
        END IF;
        ALTER TABLE dds.s_order_cost ADD PRIMARY KEY (hk_order_cost_pk, update_ts);
    END IF;
END
$$;
DROP INDEX IF EXISTS dds.s_order_cost_h_order_pk_idx;
CREATE INDEX IF NOT EXISTS s_order_cost_h_order_pk_update_ts_idx ON dds.s_order_cost (h_order_pk, update_ts);

-- dds.s_order_status keeps periods by update_ts: a table made by an earlier release (one row
-- per key) gets the column, and the primary key becomes (hk_order_status_pk, update_ts). Its rows have no
-- source time: they take -infinity, keep their order among themselves by load_dt, and any
-- value the source gives from now on supersedes them (their load_dt is later than the source
-- time of what follows them, so as effective time it would keep them current over it).
ALTER TABLE dds.s_order_status ADD COLUMN IF NOT EXISTS update_ts timestamp;
UPDATE dds.s_order_status SET update_ts = '-infinity' WHERE update_ts IS NULL;
ALTER TABLE dds.s_order_status ALTER COLUMN update_ts SET NOT NULL;
DO $$
DECLARE
    pk name;
    width int;
BEGIN
    SELECT conname, array_length(conkey, 1) INTO pk, width
    FROM pg_constraint
    WHERE conrelid = 'dds.s_order_status'::regclass AND contype = 'p';
    IF pk IS NULL OR width = 1 THEN
        IF pk IS NOT NULL THEN
            EXECUTE format('ALTER TABLE dds.s_order_status DROP CONSTRAINT %I', pk);
        END IF;
        ALTER TABLE dds.s_order_status ADD PRIMARY KEY (hk_order_status_pk, update_ts);
    END IF;
END
$$;
DROP INDEX IF EXISTS dds.s_order_status_h_order_pk_idx;
CREATE INDEX IF NOT EXISTS s_order_status_h_order_pk_update_ts_idx ON dds.s_order_status (h_order_pk, update_ts);

-- The current value of each h_user_pk in dds.s_user_names: the newest period by update_ts_utc, whatever the arrival order.
CREATE OR REPLACE VIEW dds.s_user_names_current AS
SELECT DISTINCT ON (s.h_user_pk) s.*
FROM dds.s_user_names AS s
ORDER BY s.h_user_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_user_names_pk DESC;

-- The value of each h_user_pk in dds.s_user_names in force at a time: the newest period that
-- began at or before it ($1: a column may share the parameter's name).
-- SELECT * FROM dds.s_user_names_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION dds.s_user_names_at(at timestamp)
RETURNS SETOF dds.s_user_names
LANGUAGE sql STABLE
AS $$
SELECT DISTINCT ON (s.h_user_pk) s.*
FROM dds.s_user_names AS s
WHERE s.update_ts_utc <= $1
ORDER BY s.h_user_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_user_names_pk DESC
$$;

-- The periods of each h_user_pk in dds.s_user_names: one row per run of an unchanged value by
-- update_ts_utc, from valid_from until valid_to (the next period's start; NULL while in force).
-- A row that repeats the value in force (seen again later) is part of that value's period.
CREATE OR REPLACE VIEW dds.s_user_names_periods AS
SELECT o.h_user_pk, o.hk_user_names_pk, o.username, o.userlogin, o.update_ts_utc AS valid_from,
       lead(o.update_ts_utc) OVER (PARTITION BY o.h_user_pk ORDER BY o.update_ts_utc, o.load_dt, o.hk_user_names_pk) AS valid_to,
       o.load_dt, o.load_src
FROM (
    SELECT s.*, lag(s.hk_user_names_pk) OVER (PARTITION BY s.h_user_pk ORDER BY s.update_ts_utc, s.load_dt, s.hk_user_names_pk) AS previous_key
    FROM dds.s_user_names AS s
) AS o
WHERE o.previous_key IS DISTINCT FROM o.hk_user_names_pk;

-- The current value of each h_restaurant_pk in dds.s_restaurant_names: the newest period by update_ts_utc, whatever the arrival order.
CREATE OR REPLACE VIEW dds.s_restaurant_names_current AS
SELECT DISTINCT ON (s.h_restaurant_pk) s.*
FROM dds.s_restaurant_names AS s
ORDER BY s.h_restaurant_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_restaurant_names_pk DESC;

-- The value of each h_restaurant_pk in dds.s_restaurant_names in force at a time: the newest period that
-- began at or before it ($1: a column may share the parameter's name).
-- SELECT * FROM dds.s_restaurant_names_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION dds.s_restaurant_names_at(at timestamp)
RETURNS SETOF dds.s_restaurant_names
LANGUAGE sql STABLE
AS $$
SELECT DISTINCT ON (s.h_restaurant_pk) s.*
FROM dds.s_restaurant_names AS s
WHERE s.update_ts_utc <= $1
ORDER BY s.h_restaurant_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_restaurant_names_pk DESC
$$;

-- The periods of each h_restaurant_pk in dds.s_restaurant_names: one row per run of an unchanged value by
-- update_ts_utc, from valid_from until valid_to (the next period's start; NULL while in force).
-- A row that repeats the value in force (seen again later) is part of that value's period.
CREATE OR REPLACE VIEW dds.s_restaurant_names_periods AS
SELECT o.h_restaurant_pk, o.hk_restaurant_names_pk, o.name, o.update_ts_utc AS valid_from,
       lead(o.update_ts_utc) OVER (PARTITION BY o.h_restaurant_pk ORDER BY o.update_ts_utc, o.load_dt, o.hk_restaurant_names_pk) AS valid_to,
       o.load_dt, o.load_src
FROM (
    SELECT s.*, lag(s.hk_restaurant_names_pk) OVER (PARTITION BY s.h_restaurant_pk ORDER BY s.update_ts_utc, s.load_dt, s.hk_restaurant_names_pk) AS previous_key
    FROM dds.s_restaurant_names AS s
) AS o
WHERE o.previous_key IS DISTINCT FROM o.hk_restaurant_names_pk;

-- The current value of each h_product_pk in dds.s_product_names: the newest period by update_ts_utc, whatever the arrival order.
CREATE OR REPLACE VIEW dds.s_product_names_current AS
SELECT DISTINCT ON (s.h_product_pk) s.*
FROM dds.s_product_names AS s
ORDER BY s.h_product_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_product_names_pk DESC;

-- The value of each h_product_pk in dds.s_product_names in force at a time: the newest period that
-- began at or before it ($1: a column may share the parameter's name).
-- SELECT * FROM dds.s_product_names_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION dds.s_product_names_at(at timestamp)
RETURNS SETOF dds.s_product_names
LANGUAGE sql STABLE
AS $$
SELECT DISTINCT ON (s.h_product_pk) s.*
FROM dds.s_product_names AS s
WHERE s.update_ts_utc <= $1
ORDER BY s.h_product_pk, s.update_ts_utc DESC, s.load_dt DESC, s.hk_product_names_pk DESC
$$;

-- The periods of each h_product_pk in dds.s_product_names: one row per run of an unchanged value by
-- update_ts_utc, from valid_from until valid_to (the next period's start; NULL while in force).
-- A row that repeats the value in force (seen again later) is part of that value's period.
CREATE OR REPLACE VIEW dds.s_product_names_periods AS
SELECT o.h_product_pk, o.hk_product_names_pk, o.name, o.update_ts_utc AS valid_from,
       lead(o.update_ts_utc) OVER (PARTITION BY o.h_product_pk ORDER BY o.update_ts_utc, o.load_dt, o.hk_product_names_pk) AS valid_to,
       o.load_dt, o.load_src
FROM (
    SELECT s.*, lag(s.hk_product_names_pk) OVER (PARTITION BY s.h_product_pk ORDER BY s.update_ts_utc, s.load_dt, s.hk_product_names_pk) AS previous_key
    FROM dds.s_product_names AS s
) AS o
WHERE o.previous_key IS DISTINCT FROM o.hk_product_names_pk;

-- The current value of each h_order_pk in dds.s_order_cost: the newest period by update_ts, whatever the arrival order.
CREATE OR REPLACE VIEW dds.s_order_cost_current AS
SELECT DISTINCT ON (s.h_order_pk) s.*
FROM dds.s_order_cost AS s
ORDER BY s.h_order_pk, s.update_ts DESC, s.load_dt DESC, s.hk_order_cost_pk DESC;

-- The value of each h_order_pk in dds.s_order_cost in force at a time: the newest period that
-- began at or before it ($1: a column may share the parameter's name).
-- SELECT * FROM dds.s_order_cost_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION dds.s_order_cost_at(at timestamp)
RETURNS SETOF dds.s_order_cost
LANGUAGE sql STABLE
AS $$
SELECT DISTINCT ON (s.h_order_pk) s.*
FROM dds.s_order_cost AS s
WHERE s.update_ts <= $1
ORDER BY s.h_order_pk, s.update_ts DESC, s.load_dt DESC, s.hk_order_cost_pk DESC
$$;

-- The periods of each h_order_pk in dds.s_order_cost: one row per run of an unchanged value by
-- update_ts, from valid_from until valid_to (the next period's start; NULL while in force).
-- A row that repeats the value in force (seen again later) is part of that value's period.
CREATE OR REPLACE VIEW dds.s_order_cost_periods AS
SELECT o.h_order_pk, o.hk_order_cost_pk, o.cost, o.payment, o.update_ts AS valid_from,
       lead(o.update_ts) OVER (PARTITION BY o.h_order_pk ORDER BY o.update_ts, o.load_dt, o.hk_order_cost_pk) AS valid_to,
       o.load_dt, o.load_src
FROM (
    SELECT s.*, lag(s.hk_order_cost_pk) OVER (PARTITION BY s.h_order_pk ORDER BY s.update_ts, s.load_dt, s.hk_order_cost_pk) AS previous_key
    FROM dds.s_order_cost AS s
) AS o
WHERE o.previous_key IS DISTINCT FROM o.hk_order_cost_pk;

-- The current value of each h_order_pk in dds.s_order_status: the newest period by update_ts, whatever the arrival order.
CREATE OR REPLACE VIEW dds.s_order_status_current AS
SELECT DISTINCT ON (s.h_order_pk) s.*
FROM dds.s_order_status AS s
ORDER BY s.h_order_pk, s.update_ts DESC, s.load_dt DESC, s.hk_order_status_pk DESC;

-- The value of each h_order_pk in dds.s_order_status in force at a time: the newest period that
-- began at or before it ($1: a column may share the parameter's name).
-- SELECT * FROM dds.s_order_status_at('2024-05-01 12:00');
CREATE OR REPLACE FUNCTION dds.s_order_status_at(at timestamp)
RETURNS SETOF dds.s_order_status
LANGUAGE sql STABLE
AS $$
SELECT DISTINCT ON (s.h_order_pk) s.*
FROM dds.s_order_status AS s
WHERE s.update_ts <= $1
ORDER BY s.h_order_pk, s.update_ts DESC, s.load_dt DESC, s.hk_order_status_pk DESC
$$;

-- The periods of each h_order_pk in dds.s_order_status: one row per run of an unchanged value by
-- update_ts, from valid_from until valid_to (the next period's start; NULL while in force).
-- A row that repeats the value in force (seen again later) is part of that value's period.
CREATE OR REPLACE VIEW dds.s_order_status_periods AS
SELECT o.h_order_pk, o.hk_order_status_pk, o.status, o.update_ts AS valid_from,
       lead(o.update_ts) OVER (PARTITION BY o.h_order_pk ORDER BY o.update_ts, o.load_dt, o.hk_order_status_pk) AS valid_to,
       o.load_dt, o.load_src
FROM (
    SELECT s.*, lag(s.hk_order_status_pk) OVER (PARTITION BY s.h_order_pk ORDER BY s.update_ts, s.load_dt, s.hk_order_status_pk) AS previous_key
    FROM dds.s_order_status AS s
) AS o
WHERE o.previous_key IS DISTINCT FROM o.hk_order_status_pk;
