-- The analysts' schema (docs/bi.md): one view per datamart with names and source ids beside the
-- keys, current names from the Data Vault's `_current` views, and a comment on every view and
-- column, which BI tools show as field descriptions. Read-only through the role vault_bi
-- (vault-pg/sql/migrate/bi_access.sql, applied by every `vault migrate`).

CREATE SCHEMA IF NOT EXISTS bi;
COMMENT ON SCHEMA bi IS 'For analysts and BI tools: the datamarts with names, read-only (role vault_bi).';

CREATE OR REPLACE VIEW bi.guest_dishes AS
SELECT c.user_id AS guest_key,
       u.user_id AS guest_id,
       n.username AS guest_name,
       n.userlogin AS guest_login,
       c.product_id AS dish_key,
       p.product_id AS dish_id,
       coalesce(d.name, c.product_name) AS dish_name,
       c.order_cnt AS orders
FROM cdm.user_product_counters c
LEFT JOIN dds.h_user u ON u.h_user_pk = c.user_id
LEFT JOIN dds.s_user_names_current n ON n.h_user_pk = c.user_id
LEFT JOIN dds.h_product p ON p.h_product_pk = c.product_id
LEFT JOIN dds.s_product_names_current d ON d.h_product_pk = c.product_id
WHERE c.order_cnt > 0;

COMMENT ON VIEW bi.guest_dishes IS 'How many closed orders of each guest contained each dish (cdm.user_product_counters), with current names. Exact: duplicates, replays and cancellations after closing are accounted for.';
COMMENT ON COLUMN bi.guest_dishes.guest_key IS 'The guest''s hub key (dds.h_user.h_user_pk, UUIDv5 of the user id).';
COMMENT ON COLUMN bi.guest_dishes.guest_id IS 'The guest''s id in the source system.';
COMMENT ON COLUMN bi.guest_dishes.guest_name IS 'The guest''s current name (dds.s_user_names_current).';
COMMENT ON COLUMN bi.guest_dishes.guest_login IS 'The guest''s current login (the name where the dictionary has no login).';
COMMENT ON COLUMN bi.guest_dishes.dish_key IS 'The dish''s hub key (dds.h_product.h_product_pk).';
COMMENT ON COLUMN bi.guest_dishes.dish_id IS 'The dish''s id in the restaurant''s menu.';
COMMENT ON COLUMN bi.guest_dishes.dish_name IS 'The dish''s current name (dds.s_product_names_current).';
COMMENT ON COLUMN bi.guest_dishes.orders IS 'Closed orders of this guest containing this dish (an order counts once, whatever the quantity).';

CREATE OR REPLACE VIEW bi.guest_categories AS
SELECT c.user_id AS guest_key,
       u.user_id AS guest_id,
       n.username AS guest_name,
       n.userlogin AS guest_login,
       c.category_id AS category_key,
       coalesce(h.category_name, c.category_name) AS category_name,
       c.order_cnt AS orders
FROM cdm.user_category_counters c
LEFT JOIN dds.h_user u ON u.h_user_pk = c.user_id
LEFT JOIN dds.s_user_names_current n ON n.h_user_pk = c.user_id
LEFT JOIN dds.h_category h ON h.h_category_pk = c.category_id
WHERE c.order_cnt > 0;

COMMENT ON VIEW bi.guest_categories IS 'How many closed orders of each guest contained a dish of each category (cdm.user_category_counters), with current names. Exact.';
COMMENT ON COLUMN bi.guest_categories.guest_key IS 'The guest''s hub key (dds.h_user.h_user_pk).';
COMMENT ON COLUMN bi.guest_categories.guest_id IS 'The guest''s id in the source system.';
COMMENT ON COLUMN bi.guest_categories.guest_name IS 'The guest''s current name.';
COMMENT ON COLUMN bi.guest_categories.guest_login IS 'The guest''s current login.';
COMMENT ON COLUMN bi.guest_categories.category_key IS 'The category''s hub key (dds.h_category.h_category_pk, UUIDv5 of its name).';
COMMENT ON COLUMN bi.guest_categories.category_name IS 'The category (categories are shared across restaurants by name).';
COMMENT ON COLUMN bi.guest_categories.orders IS 'Closed orders of this guest with at least one dish of this category.';

CREATE OR REPLACE VIEW bi.restaurant_categories AS
SELECT c.restaurant_id AS restaurant_key,
       r.restaurant_id AS restaurant_id,
       coalesce(n.name, c.restaurant_name) AS restaurant_name,
       c.category_id AS category_key,
       coalesce(h.category_name, c.category_name) AS category_name,
       c.order_cnt AS orders
FROM cdm.restaurant_category_counters c
LEFT JOIN dds.h_restaurant r ON r.h_restaurant_pk = c.restaurant_id
LEFT JOIN dds.s_restaurant_names_current n ON n.h_restaurant_pk = c.restaurant_id
LEFT JOIN dds.h_category h ON h.h_category_pk = c.category_id
WHERE c.order_cnt > 0;

COMMENT ON VIEW bi.restaurant_categories IS 'How many closed orders of each restaurant contained a dish of each category (cdm.restaurant_category_counters), with current names. Exact.';
COMMENT ON COLUMN bi.restaurant_categories.restaurant_key IS 'The restaurant''s hub key (dds.h_restaurant.h_restaurant_pk).';
COMMENT ON COLUMN bi.restaurant_categories.restaurant_id IS 'The restaurant''s id in the source system.';
COMMENT ON COLUMN bi.restaurant_categories.restaurant_name IS 'The restaurant''s current name (dds.s_restaurant_names_current).';
COMMENT ON COLUMN bi.restaurant_categories.category_key IS 'The category''s hub key (dds.h_category.h_category_pk).';
COMMENT ON COLUMN bi.restaurant_categories.category_name IS 'The category.';
COMMENT ON COLUMN bi.restaurant_categories.orders IS 'Closed orders of this restaurant with at least one dish of this category.';
