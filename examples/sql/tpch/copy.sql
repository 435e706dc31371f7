-- One raw table's rows, every column in its declared order, in COPY's text format.
COPY tpch_stage.{table} FROM STDIN
