-- Statistics for the check (sql/cdm/check.sql), taken first: it compares whole tables, and
-- right after a load — before autovacuum has got to them — the planner can hold the statistics
-- of a nearly empty warehouse and pick a plan that runs for minutes (seen after a drain of
-- 100,000 orders: 1.1–1.5 s with fresh statistics). ANALYZE reads a sample of each table.
-- SKIP_LOCKED: a table another session holds for maintenance (a VACUUM, an index build) is
-- skipped with a warning rather than waited for; the check then uses the statistics it has.
ANALYZE (SKIP_LOCKED)
        dds.s_order_status, dds.l_order_product, dds.l_order_user, dds.l_product_restaurant,
        dds.l_product_category, cdm.user_product_counters, cdm.user_category_counters,
        cdm.restaurant_category_counters, cdm.restaurant_category_days,
        dds.h_order, dds.s_order_cost
