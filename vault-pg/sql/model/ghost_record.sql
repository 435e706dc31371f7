
-- The ghost record of {schema}.{table}: the nil key, nil references, -infinity times, every
-- other column's zero (or NULL), loaded by SYSTEM. What means "no row yet" (a point-in-time
-- table's entry) joins it with an equality. No view, as-of function or refresh shows it.
INSERT INTO {schema}.{table} ({columns}, load_dt, load_src)
VALUES ({values}, '-infinity', 'SYSTEM')
ON CONFLICT DO NOTHING;
