-- The raw TPC-H tables the set-based load reads (examples/tpch/load.rs), one per source table,
-- the columns as TPC-H declares them except text: varchar instead of char(n), which would pad
-- the values with spaces and change their key material. Filled by COPY (copy.sql).
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE SCHEMA IF NOT EXISTS tpch_stage;

CREATE TABLE tpch_stage.region (
    r_regionkey bigint NOT NULL,
    r_name varchar NOT NULL,
    r_comment varchar NOT NULL
);
CREATE TABLE tpch_stage.nation (
    n_nationkey bigint NOT NULL,
    n_name varchar NOT NULL,
    n_regionkey bigint NOT NULL,
    n_comment varchar NOT NULL
);
CREATE TABLE tpch_stage.customer (
    c_custkey bigint NOT NULL,
    c_name varchar NOT NULL,
    c_address varchar NOT NULL,
    c_nationkey bigint NOT NULL,
    c_phone varchar NOT NULL,
    c_acctbal numeric(15, 2) NOT NULL,
    c_mktsegment varchar NOT NULL,
    c_comment varchar NOT NULL
);
CREATE TABLE tpch_stage.supplier (
    s_suppkey bigint NOT NULL,
    s_name varchar NOT NULL,
    s_address varchar NOT NULL,
    s_nationkey bigint NOT NULL,
    s_phone varchar NOT NULL,
    s_acctbal numeric(15, 2) NOT NULL,
    s_comment varchar NOT NULL
);
CREATE TABLE tpch_stage.part (
    p_partkey bigint NOT NULL,
    p_name varchar NOT NULL,
    p_mfgr varchar NOT NULL,
    p_brand varchar NOT NULL,
    p_type varchar NOT NULL,
    p_size integer NOT NULL,
    p_container varchar NOT NULL,
    p_retailprice numeric(15, 2) NOT NULL,
    p_comment varchar NOT NULL
);
CREATE TABLE tpch_stage.partsupp (
    ps_partkey bigint NOT NULL,
    ps_suppkey bigint NOT NULL,
    ps_availqty integer NOT NULL,
    ps_supplycost numeric(15, 2) NOT NULL,
    ps_comment varchar NOT NULL
);
CREATE TABLE tpch_stage.orders (
    o_orderkey bigint NOT NULL,
    o_custkey bigint NOT NULL,
    o_orderstatus varchar NOT NULL,
    o_totalprice numeric(15, 2) NOT NULL,
    o_orderdate date NOT NULL,
    o_orderpriority varchar NOT NULL,
    o_clerk varchar NOT NULL,
    o_shippriority integer NOT NULL,
    o_comment varchar NOT NULL
);
CREATE TABLE tpch_stage.lineitem (
    l_orderkey bigint NOT NULL,
    l_partkey bigint NOT NULL,
    l_suppkey bigint NOT NULL,
    l_linenumber integer NOT NULL,
    l_quantity bigint NOT NULL,
    l_extendedprice numeric(15, 2) NOT NULL,
    l_discount numeric(15, 2) NOT NULL,
    l_tax numeric(15, 2) NOT NULL,
    l_returnflag varchar NOT NULL,
    l_linestatus varchar NOT NULL,
    l_shipdate date NOT NULL,
    l_commitdate date NOT NULL,
    l_receiptdate date NOT NULL,
    l_shipinstruct varchar NOT NULL,
    l_shipmode varchar NOT NULL,
    l_comment varchar NOT NULL
);
