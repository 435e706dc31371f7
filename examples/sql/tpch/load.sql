-- The set-based load of the TPC-H Data Vault: every hub, link and satellite of {schema} filled
-- from the raw tables (staging.sql) by one INSERT … SELECT each, the keys computed in SQL with
-- uuid-ossp's uuid_generate_v5 over the material vault_core::KeySpec hashes (docs/keys.md):
-- the parts joined by '#$#' (plain joining), integers and numeric(15,2) as their text
-- ('901.00'), dates as YYYY-MM-DD, text as it is. A hub's key is over its business key; a
-- link's over the business keys of its hubs in the link's order (the line item's is two
-- parts: order key, line number); a satellite's (its hashdiff) over its parent's business
-- key, then its attributes in declared order. No value is NULL (concat_ws would skip it where
-- the toolkit writes 'None'). Insert-only like the toolkit's loader: a row whose identity is
-- there already is left as it is (ON CONFLICT DO NOTHING), which also makes a relationship the
-- source repeats one link row (at SF 0.001 TPC-H's PARTSUPP repeats (part, supplier) pairs:
-- its supplier formula assumes more suppliers). Written independently of examples/tpch/mod.rs: the test
-- compares the two loads row for row.
--
-- Placeholders: {schema} (the target schema, made by the model's DDL), {namespace} (the key
-- namespace), {snapshot} (the effective time of the snapshot satellites), {load_src}.

-- Hubs.
INSERT INTO {schema}.h_region (h_region_pk, r_regionkey, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', r_regionkey::text), r_regionkey,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.region
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.h_nation (h_nation_pk, n_nationkey, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', n_nationkey::text), n_nationkey,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.nation
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.h_customer (h_customer_pk, c_custkey, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', c_custkey::text), c_custkey,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.customer
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.h_supplier (h_supplier_pk, s_suppkey, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', s_suppkey::text), s_suppkey,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.supplier
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.h_part (h_part_pk, p_partkey, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', p_partkey::text), p_partkey,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.part
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.h_order (h_order_pk, o_orderkey, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', o_orderkey::text), o_orderkey,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.orders
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.h_lineitem (h_lineitem_pk, l_orderkey, l_linenumber, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', l_orderkey, l_linenumber)),
    l_orderkey, l_linenumber, now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.lineitem
ON CONFLICT DO NOTHING;

-- Links.
INSERT INTO {schema}.l_nation_region
    (hk_nation_region_pk, h_nation_pk, h_region_pk, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', n_nationkey, n_regionkey)),
    uuid_generate_v5('{namespace}', n_nationkey::text),
    uuid_generate_v5('{namespace}', n_regionkey::text),
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.nation
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.l_customer_nation
    (hk_customer_nation_pk, h_customer_pk, h_nation_pk, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', c_custkey, c_nationkey)),
    uuid_generate_v5('{namespace}', c_custkey::text),
    uuid_generate_v5('{namespace}', c_nationkey::text),
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.customer
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.l_supplier_nation
    (hk_supplier_nation_pk, h_supplier_pk, h_nation_pk, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', s_suppkey, s_nationkey)),
    uuid_generate_v5('{namespace}', s_suppkey::text),
    uuid_generate_v5('{namespace}', s_nationkey::text),
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.supplier
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.l_part_supplier
    (hk_part_supplier_pk, h_part_pk, h_supplier_pk, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', ps_partkey, ps_suppkey)),
    uuid_generate_v5('{namespace}', ps_partkey::text),
    uuid_generate_v5('{namespace}', ps_suppkey::text),
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.partsupp
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.l_customer_order
    (hk_customer_order_pk, h_customer_pk, h_order_pk, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', o_custkey, o_orderkey)),
    uuid_generate_v5('{namespace}', o_custkey::text),
    uuid_generate_v5('{namespace}', o_orderkey::text),
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.orders
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.l_order_lineitem
    (hk_order_lineitem_pk, h_order_pk, h_lineitem_pk, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', l_orderkey, l_orderkey, l_linenumber)),
    uuid_generate_v5('{namespace}', l_orderkey::text),
    uuid_generate_v5('{namespace}', concat_ws('#$#', l_orderkey, l_linenumber)),
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.lineitem
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.l_lineitem_part_supplier
    (hk_lineitem_part_supplier_pk, h_lineitem_pk, h_part_pk, h_supplier_pk, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}',
        concat_ws('#$#', l_orderkey, l_linenumber, l_partkey, l_suppkey)),
    uuid_generate_v5('{namespace}', concat_ws('#$#', l_orderkey, l_linenumber)),
    uuid_generate_v5('{namespace}', l_partkey::text),
    uuid_generate_v5('{namespace}', l_suppkey::text),
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.lineitem
ON CONFLICT DO NOTHING;

-- Satellites.
INSERT INTO {schema}.s_region_details
    (hk_region_details_pk, h_region_pk, r_name, r_comment, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', r_regionkey, r_name, r_comment)),
    uuid_generate_v5('{namespace}', r_regionkey::text), r_name, r_comment,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.region
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.s_nation_details
    (hk_nation_details_pk, h_nation_pk, n_name, n_comment, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', n_nationkey, n_name, n_comment)),
    uuid_generate_v5('{namespace}', n_nationkey::text), n_name, n_comment,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.nation
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.s_customer_details
    (hk_customer_details_pk, h_customer_pk, c_name, c_address, c_phone, c_acctbal,
     c_mktsegment, c_comment, as_of, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', c_custkey, c_name, c_address, c_phone,
        c_acctbal, c_mktsegment, c_comment)),
    uuid_generate_v5('{namespace}', c_custkey::text),
    c_name, c_address, c_phone, c_acctbal, c_mktsegment, c_comment, '{snapshot}'::timestamp,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.customer
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.s_supplier_details
    (hk_supplier_details_pk, h_supplier_pk, s_name, s_address, s_phone, s_acctbal, s_comment,
     as_of, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', s_suppkey, s_name, s_address, s_phone,
        s_acctbal, s_comment)),
    uuid_generate_v5('{namespace}', s_suppkey::text),
    s_name, s_address, s_phone, s_acctbal, s_comment, '{snapshot}'::timestamp,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.supplier
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.s_part_details
    (hk_part_details_pk, h_part_pk, p_name, p_mfgr, p_brand, p_type, p_size, p_container,
     p_retailprice, p_comment, as_of, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', p_partkey, p_name, p_mfgr, p_brand,
        p_type, p_size, p_container, p_retailprice, p_comment)),
    uuid_generate_v5('{namespace}', p_partkey::text),
    p_name, p_mfgr, p_brand, p_type, p_size, p_container, p_retailprice, p_comment,
    '{snapshot}'::timestamp, now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.part
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.s_part_supplier_details
    (hk_part_supplier_details_pk, hk_part_supplier_pk, ps_availqty, ps_supplycost, ps_comment,
     as_of, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', ps_partkey, ps_suppkey, ps_availqty,
        ps_supplycost, ps_comment)),
    uuid_generate_v5('{namespace}', concat_ws('#$#', ps_partkey, ps_suppkey)),
    ps_availqty, ps_supplycost, ps_comment, '{snapshot}'::timestamp,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.partsupp
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.s_order_details
    (hk_order_details_pk, h_order_pk, o_orderstatus, o_totalprice, o_orderpriority, o_clerk,
     o_shippriority, o_comment, o_orderdate, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', o_orderkey, o_orderstatus,
        o_totalprice, o_orderpriority, o_clerk, o_shippriority, o_comment)),
    uuid_generate_v5('{namespace}', o_orderkey::text),
    o_orderstatus, o_totalprice, o_orderpriority, o_clerk, o_shippriority, o_comment,
    o_orderdate::timestamp, now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.orders
ON CONFLICT DO NOTHING;

INSERT INTO {schema}.s_lineitem_details
    (hk_lineitem_details_pk, h_lineitem_pk, l_quantity, l_extendedprice, l_discount, l_tax,
     l_returnflag, l_linestatus, l_shipdate, l_commitdate, l_receiptdate, l_shipinstruct,
     l_shipmode, l_comment, load_dt, load_src)
SELECT uuid_generate_v5('{namespace}', concat_ws('#$#', l_orderkey, l_linenumber, l_quantity,
        l_extendedprice, l_discount, l_tax, l_returnflag, l_linestatus,
        to_char(l_shipdate, 'YYYY-MM-DD'), to_char(l_commitdate, 'YYYY-MM-DD'),
        to_char(l_receiptdate, 'YYYY-MM-DD'), l_shipinstruct, l_shipmode, l_comment)),
    uuid_generate_v5('{namespace}', concat_ws('#$#', l_orderkey, l_linenumber)),
    l_quantity, l_extendedprice, l_discount, l_tax, l_returnflag, l_linestatus, l_shipdate,
    l_commitdate, l_receiptdate, l_shipinstruct, l_shipmode, l_comment,
    now() AT TIME ZONE 'utc', '{load_src}'
FROM tpch_stage.lineitem
ON CONFLICT DO NOTHING;
