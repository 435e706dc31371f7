-- The daily datamart's changes of a batch (one row per order put into or taken out of a cell,
-- vault_core::orders::DayDelta), netted per cell: the cells that only gain are created or
-- added to here, in key order; sub_restaurant_category_days.sql does the others (a proposed
-- insert row with a negative count would fail the checks). The day is cdm.order_day in the
-- warehouse's time zone (cdm.daily_settings).
INSERT INTO cdm.restaurant_category_days AS d
    (restaurant_id, category_id, order_day, order_cnt, item_cnt, cost, payment)
SELECT t.restaurant_id, t.category_id, cdm.order_day(t.order_dt, z.time_zone),
       sum(t.sign), sum(t.sign * t.items), sum(t.sign * t.cost::numeric), sum(t.sign * t.payment::numeric)
FROM unnest($1::uuid[], $2::uuid[], $3::timestamp[], $4::integer[], $5::integer[], $6::text[], $7::text[])
     AS t (restaurant_id, category_id, order_dt, sign, items, cost, payment)
CROSS JOIN cdm.daily_settings z
GROUP BY 1, 2, 3
HAVING sum(t.sign) >= 0 AND sum(t.sign * t.items) >= 0 AND sum(t.sign * t.cost::numeric) >= 0
   AND sum(t.sign * t.payment::numeric) >= 0
   AND (sum(t.sign) <> 0 OR sum(t.sign * t.items) <> 0 OR sum(t.sign * t.cost::numeric) <> 0
        OR sum(t.sign * t.payment::numeric) <> 0)
ORDER BY 1, 2, 3
ON CONFLICT (restaurant_id, category_id, order_day) DO UPDATE
SET order_cnt = d.order_cnt + EXCLUDED.order_cnt, item_cnt = d.item_cnt + EXCLUDED.item_cnt,
    cost = d.cost + EXCLUDED.cost, payment = d.payment + EXCLUDED.payment
