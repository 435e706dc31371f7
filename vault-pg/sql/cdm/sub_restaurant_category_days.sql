-- The orders a batch takes out of cells of the daily datamart (DayDelta with sign -1: what an
-- earlier version had put in), summed per cell and subtracted. The cells exist: what they lose
-- was added before, at the latest by add_restaurant_category_days.sql just before.
UPDATE cdm.restaurant_category_days AS d
SET order_cnt = d.order_cnt - n.orders, item_cnt = d.item_cnt - n.items,
    cost = d.cost - n.cost, payment = d.payment - n.payment
FROM (
    SELECT t.restaurant_id, t.category_id,
           cdm.order_day(t.order_dt, (SELECT time_zone FROM cdm.daily_settings)) AS order_day,
           count(*) AS orders, sum(t.items) AS items,
           sum(t.cost::numeric) AS cost, sum(t.payment::numeric) AS payment
    FROM unnest($1::uuid[], $2::uuid[], $3::timestamp[], $4::integer[], $5::text[], $6::text[])
         AS t (restaurant_id, category_id, order_dt, items, cost, payment)
    GROUP BY 1, 2, 3
) AS n
WHERE d.restaurant_id = n.restaurant_id AND d.category_id = n.category_id AND d.order_day = n.order_day
