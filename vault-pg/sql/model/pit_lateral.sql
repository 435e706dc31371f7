LEFT JOIN LATERAL (
    SELECT s.{key} AS key, s.{effective} AS effective
    FROM {schema}.{satellite} AS s
    WHERE s.{parent} = h.{hub_key} AND s.{effective} <= $1
    ORDER BY {order}
    LIMIT 1
) AS {alias} ON true
