-- The orders a batch puts into cells of the daily datamart (vault_core::orders::DayDelta with
-- sign +1), summed per cell and added, cells created as needed, in key order (concurrent
-- appliers lock cells in one order). Runs before sub_restaurant_category_days.sql, so a cell
-- whose order moves within the batch exists when it is taken from. The day is cdm.order_day in
-- the warehouse's time zone (cdm.daily_settings, read once: a scalar subquery).
INSERT INTO cdm.restaurant_category_days AS d
    (restaurant_id, category_id, order_day, order_cnt, item_cnt, cost, payment)
SELECT t.restaurant_id, t.category_id, cdm.order_day(t.order_dt, (SELECT time_zone FROM cdm.daily_settings)),
       count(*), sum(t.items), sum(t.cost::numeric), sum(t.payment::numeric)
FROM unnest($1::uuid[], $2::uuid[], $3::timestamp[], $4::integer[], $5::text[], $6::text[])
     AS t (restaurant_id, category_id, order_dt, items, cost, payment)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (restaurant_id, category_id, order_day) DO UPDATE
SET order_cnt = d.order_cnt + EXCLUDED.order_cnt, item_cnt = d.item_cnt + EXCLUDED.item_cnt,
    cost = d.cost + EXCLUDED.cost, payment = d.payment + EXCLUDED.payment
