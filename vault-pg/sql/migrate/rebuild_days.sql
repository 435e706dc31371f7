-- Every counted order to its date in the daily datamart's time zone, from what the ledger has
-- counted (migration 0010's cdm.rebuild_restaurant_category_days).
SELECT cdm.rebuild_restaurant_category_days()
