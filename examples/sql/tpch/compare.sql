-- One table of the two loads compared on every declared column (not load_dt): rows in each,
-- rows only in the toolkit's, rows only in the set-based load's.
SELECT
    (SELECT count(*) FROM tpch.{table}) AS toolkit,
    (SELECT count(*) FROM tpch_sql.{table}) AS set_based,
    (SELECT count(*) FROM (
        SELECT {columns} FROM tpch.{table} EXCEPT ALL SELECT {columns} FROM tpch_sql.{table}
    ) d) AS only_toolkit,
    (SELECT count(*) FROM (
        SELECT {columns} FROM tpch_sql.{table} EXCEPT ALL SELECT {columns} FROM tpch.{table}
    ) d) AS only_set_based,
    (SELECT count(*) FROM (
        SELECT {key} FROM tpch.{table} EXCEPT SELECT {key} FROM tpch_sql.{table}
    ) d) AS keys_only_toolkit
