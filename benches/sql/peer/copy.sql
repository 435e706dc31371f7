COPY peer.enriched_orders (doc) FROM STDIN (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
