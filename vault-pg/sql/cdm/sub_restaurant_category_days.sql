-- The daily datamart's cells that lose something in a batch (see
-- add_restaurant_category_days.sql): they exist, since what they lose was put in before.
UPDATE cdm.restaurant_category_days AS d
SET order_cnt = d.order_cnt + n.orders, item_cnt = d.item_cnt + n.items,
    cost = d.cost + n.cost, payment = d.payment + n.payment
FROM (
    SELECT t.restaurant_id, t.category_id, cdm.order_day(t.order_dt, z.time_zone) AS order_day,
           sum(t.sign) AS orders, sum(t.sign * t.items) AS items,
           sum(t.sign * t.cost::numeric) AS cost, sum(t.sign * t.payment::numeric) AS payment
    FROM unnest($1::uuid[], $2::uuid[], $3::timestamp[], $4::integer[], $5::integer[], $6::text[], $7::text[])
         AS t (restaurant_id, category_id, order_dt, sign, items, cost, payment)
    CROSS JOIN cdm.daily_settings z
    GROUP BY 1, 2, 3
    HAVING sum(t.sign) < 0 OR sum(t.sign * t.items) < 0 OR sum(t.sign * t.cost::numeric) < 0
        OR sum(t.sign * t.payment::numeric) < 0
) AS n
WHERE d.restaurant_id = n.restaurant_id AND d.category_id = n.category_id AND d.order_day = n.order_day
