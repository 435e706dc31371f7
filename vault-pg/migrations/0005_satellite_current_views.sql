-- The current value of every satellite of the Data Vault, one view per satellite
-- (docs/toolkit.md#satellite-history): dds.s_order_status by its version (update_ts), whatever
-- the order the versions arrived in; the satellites without a version by their latest load.
-- (generated: vault_pg::model::current_views)

-- The current value of each h_user_pk in dds.s_user_names: the latest loaded row (the satellite has no version).
CREATE OR REPLACE VIEW dds.s_user_names_current AS
SELECT DISTINCT ON (s.h_user_pk) s.*
FROM dds.s_user_names AS s
ORDER BY s.h_user_pk, s.load_dt DESC, s.hk_user_names_pk DESC;

-- The current value of each h_restaurant_pk in dds.s_restaurant_names: the latest loaded row (the satellite has no version).
CREATE OR REPLACE VIEW dds.s_restaurant_names_current AS
SELECT DISTINCT ON (s.h_restaurant_pk) s.*
FROM dds.s_restaurant_names AS s
ORDER BY s.h_restaurant_pk, s.load_dt DESC, s.hk_restaurant_names_pk DESC;

-- The current value of each h_product_pk in dds.s_product_names: the latest loaded row (the satellite has no version).
CREATE OR REPLACE VIEW dds.s_product_names_current AS
SELECT DISTINCT ON (s.h_product_pk) s.*
FROM dds.s_product_names AS s
ORDER BY s.h_product_pk, s.load_dt DESC, s.hk_product_names_pk DESC;

-- The current value of each h_order_pk in dds.s_order_cost: the latest loaded row (the satellite has no version).
CREATE OR REPLACE VIEW dds.s_order_cost_current AS
SELECT DISTINCT ON (s.h_order_pk) s.*
FROM dds.s_order_cost AS s
ORDER BY s.h_order_pk, s.load_dt DESC, s.hk_order_cost_pk DESC;

-- The current value of each h_order_pk in dds.s_order_status: the row of the newest source version (update_ts), whatever the arrival order.
CREATE OR REPLACE VIEW dds.s_order_status_current AS
SELECT DISTINCT ON (s.h_order_pk) s.*
FROM dds.s_order_status AS s
ORDER BY s.h_order_pk, s.update_ts DESC NULLS LAST, s.load_dt DESC, s.hk_order_status_pk DESC;
