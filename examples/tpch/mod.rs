//! The Data Vault of the TPC-H schema, declared with `vault_core::data_vault!`: a model nobody
//! here designed, in the shape of AutomateDV's TPC-H demo (hubs of customer, order, line item,
//! part, supplier, nation and region; links customer–order, customer–nation, supplier–nation,
//! nation–region, part–supplier (the inventory, `PARTSUPP`), order–line item and line
//! item–part–supplier (the inventory allocation); a satellite of descriptive columns per hub and
//! one on the inventory). Used by the `tpch_vault` example and its test, which load the same
//! generated data through the toolkit and through a set-based SQL load and compare the two
//! (`docs/toolkit.md`, `docs/performance.md`).
//!
//! Keys ([`KEYS`]): plain joining under a namespace of this model's own. A hub's key is over its
//! business-key columns (the line item's is order key and line number); a link's over the
//! business keys of its hubs in the link's order, a composite one as its parts; a satellite's
//! hashdiff over its parent's business key (a composite one as its key material,
//! `KeySpec::material`) and its attributes. TPC-H's text has `#` in it (`Customer#000000001`)
//! but never the delimiter `#$#`, so plain joining is unambiguous on this data, and the
//! set-based load reproduces every key with `concat_ws('#$#', …)`.
//!
//! History, column by column what the source can tell:
//!
//! * `s_order_details` is historized by the order date (`effective o_orderdate`), the time the
//!   source gives the order's record from (AutomateDV's demo takes it as `EFFECTIVE_FROM`);
//! * customers, suppliers, parts and the inventory change in a real source (an address, a
//!   balance, a price, a cost) but TPC-H gives them no time of their own: they are historized by
//!   the date the generated data is a snapshot of ([`snapshot`], the specification's
//!   `CURRENTDATE`, 1995-06-17, from which order and line statuses are computed), so that a
//!   later snapshot adds periods instead of being lost;
//! * nations and regions are reference data, and a line item is the line of a transaction that
//!   TPC-H's refresh functions insert and delete but never update: `insert_once`. (A line item
//!   would be a non-historized link with the line number as its dependent child key; the
//!   toolkit declares it today as the hub `h_lineitem`, keyed by order key and line number, its
//!   two links, and an insert-once satellite.)
//!
//! Below SF 0.01 the generator repeats inventory pairs: at SF 0.001 (10 suppliers) `PARTSUPP`
//! has 800 rows but 700 distinct (part, supplier) pairs, as its supplier formula assumes more
//! suppliers. Each pair is one `l_part_supplier` row (batches are de-duplicated by key), and
//! 60 of them get two values in `s_part_supplier_details` at the same effective time, which
//! both loads keep alike; a multi-active satellite would be the model for such a source.

pub mod data;
pub mod load;

use chrono::{NaiveDate, NaiveTime};
use uuid::Uuid;
use vault_core::{data_vault, KeySpec, ModelDef, RowSet, Timestamp};

use self::data::{Customer, Decimal2, LineItem, Nation, Order, Part, PartSupp, Region, Supplier};

/// The namespace of this model's keys: `uuid5(NAMESPACE_URL, "https://www.tpc.org/tpch/")`.
pub const NAMESPACE: Uuid = Uuid::from_u128(0xd67470c8_78c8_55b3_9ea3_3d7a74f7c2aa);

/// The key spec of this model: plain joining under [`NAMESPACE`].
pub const KEYS: KeySpec = KeySpec::new(NAMESPACE);

data_vault! {
    /// The TPC-H Data Vault: 7 hubs, 7 links, 8 satellites.
    pub struct TpchRows<'a> {
        model: "tpch", schema: "tpch", load_src: "tpch-dbgen";
        hubs {
            /// A region, by its key.
            h_region: HRegion { h_region_pk; r_regionkey: i64 }
            /// A nation, by its key.
            h_nation: HNation { h_nation_pk; n_nationkey: i64 }
            /// A customer, by its key.
            h_customer: HCustomer { h_customer_pk; c_custkey: i64 }
            /// A supplier, by its key.
            h_supplier: HSupplier { h_supplier_pk; s_suppkey: i64 }
            /// A part, by its key.
            h_part: HPart { h_part_pk; p_partkey: i64 }
            /// An order, by its key.
            h_order: HOrder { h_order_pk; o_orderkey: i64 }
            /// A line item, by its order and line number.
            h_lineitem: HLineitem { h_lineitem_pk; l_orderkey: i64, l_linenumber: i32 }
        }
        links {
            /// The region of a nation.
            l_nation_region: LNationRegion {
                hk_nation_region_pk; h_nation_pk -> h_nation, h_region_pk -> h_region
            }
            /// The nation of a customer.
            l_customer_nation: LCustomerNation {
                hk_customer_nation_pk; h_customer_pk -> h_customer, h_nation_pk -> h_nation
            }
            /// The nation of a supplier.
            l_supplier_nation: LSupplierNation {
                hk_supplier_nation_pk; h_supplier_pk -> h_supplier, h_nation_pk -> h_nation
            }
            /// A part a supplier supplies (`PARTSUPP`, the inventory).
            l_part_supplier: LPartSupplier {
                hk_part_supplier_pk; h_part_pk -> h_part, h_supplier_pk -> h_supplier
            }
            /// Who placed an order.
            l_customer_order: LCustomerOrder {
                hk_customer_order_pk; h_customer_pk -> h_customer, h_order_pk -> h_order
            }
            /// The lines of an order.
            l_order_lineitem: LOrderLineitem {
                hk_order_lineitem_pk; h_order_pk -> h_order, h_lineitem_pk -> h_lineitem
            }
            /// Which part from which supplier a line is for (the inventory allocation).
            l_lineitem_part_supplier: LLineitemPartSupplier {
                hk_lineitem_part_supplier_pk; h_lineitem_pk -> h_lineitem, h_part_pk -> h_part,
                h_supplier_pk -> h_supplier
            }
        }
        satellites {
            /// A region's name and comment (reference data).
            s_region_details: SRegionDetails<'a> {
                hk_region_details_pk; h_region_pk -> h_region; r_name: &'a str, r_comment: &'a str;
                insert_once
            }
            /// A nation's name and comment (reference data).
            s_nation_details: SNationDetails<'a> {
                hk_nation_details_pk; h_nation_pk -> h_nation; n_name: &'a str, n_comment: &'a str;
                insert_once
            }
            /// A customer's details, as of the snapshot.
            s_customer_details: SCustomerDetails<'a> {
                hk_customer_details_pk; h_customer_pk -> h_customer;
                c_name: &'a str, c_address: &'a str, c_phone: &'a str, c_acctbal: Decimal2,
                c_mktsegment: &'a str, c_comment: &'a str;
                effective as_of
            }
            /// A supplier's details, as of the snapshot.
            s_supplier_details: SSupplierDetails<'a> {
                hk_supplier_details_pk; h_supplier_pk -> h_supplier;
                s_name: &'a str, s_address: &'a str, s_phone: &'a str, s_acctbal: Decimal2,
                s_comment: &'a str;
                effective as_of
            }
            /// A part's details, as of the snapshot.
            s_part_details: SPartDetails<'a> {
                hk_part_details_pk; h_part_pk -> h_part;
                p_name: &'a str, p_mfgr: &'a str, p_brand: &'a str, p_type: &'a str, p_size: i32,
                p_container: &'a str, p_retailprice: Decimal2, p_comment: &'a str;
                effective as_of
            }
            /// A supplier's stock and cost of a part, as of the snapshot.
            s_part_supplier_details: SPartSupplierDetails<'a> {
                hk_part_supplier_details_pk; hk_part_supplier_pk -> l_part_supplier;
                ps_availqty: i32, ps_supplycost: Decimal2, ps_comment: &'a str;
                effective as_of
            }
            /// An order's details, from its order date.
            s_order_details: SOrderDetails<'a> {
                hk_order_details_pk; h_order_pk -> h_order;
                o_orderstatus: &'a str, o_totalprice: Decimal2, o_orderpriority: &'a str,
                o_clerk: &'a str, o_shippriority: i32, o_comment: &'a str;
                effective o_orderdate
            }
            /// A line item's quantities, prices, statuses and dates (never updated).
            s_lineitem_details: SLineitemDetails<'a> {
                hk_lineitem_details_pk; h_lineitem_pk -> h_lineitem;
                l_quantity: i64, l_extendedprice: Decimal2, l_discount: Decimal2, l_tax: Decimal2,
                l_returnflag: &'a str, l_linestatus: &'a str, l_shipdate: NaiveDate,
                l_commitdate: NaiveDate, l_receiptdate: NaiveDate, l_shipinstruct: &'a str,
                l_shipmode: &'a str, l_comment: &'a str;
                insert_once
            }
        }
    }
}

/// The same model in the schema `tpch_sql`, which the set-based SQL load fills
/// ([`load::load_set_based`]): the tables are made by the same DDL, so that both loads can be
/// compared row for row.
pub const SQL_MODEL: ModelDef = ModelDef {
    schema: "tpch_sql",
    ..<TpchRows<'static> as RowSet>::MODEL
};

/// The date the generated data is a snapshot of: TPC-H's `CURRENTDATE` (1995-06-17), the
/// effective time of the satellites whose source gives no time of its own.
pub fn snapshot() -> Timestamp {
    Timestamp::new(
        NaiveDate::from_ymd_opt(1995, 6, 17)
            .unwrap_or(NaiveDate::MIN)
            .and_time(NaiveTime::MIN),
    )
}

/// A calendar date as the timestamp of its midnight.
fn midnight(date: NaiveDate) -> Timestamp {
    Timestamp::new(date.and_time(NaiveTime::MIN))
}

/// Adds a region's rows: its hub and details.
pub fn add_region<'a>(rows: &mut TpchRows<'a>, keys: &KeySpec, r: &'a Region) {
    let hub = HRegion::new(keys, r.r_regionkey);
    rows.s_region_details
        .push(SRegionDetails::new(keys, &hub, &r.r_name, &r.r_comment));
    rows.h_region.push(hub);
}

/// Adds a nation's rows: its hub, its link to its region, its details. A link takes the rows
/// of the hubs it joins: the region's is made from the nation's foreign key.
pub fn add_nation<'a>(rows: &mut TpchRows<'a>, keys: &KeySpec, n: &'a Nation) {
    let hub = HNation::new(keys, n.n_nationkey);
    let region = HRegion::new(keys, n.n_regionkey);
    rows.l_nation_region
        .push(LNationRegion::new(keys, &hub, &region));
    rows.s_nation_details
        .push(SNationDetails::new(keys, &hub, &n.n_name, &n.n_comment));
    rows.h_nation.push(hub);
}

/// Adds a customer's rows: its hub, its link to its nation, its details as of the snapshot.
pub fn add_customer<'a>(rows: &mut TpchRows<'a>, keys: &KeySpec, c: &'a Customer) {
    let hub = HCustomer::new(keys, c.c_custkey);
    let nation = HNation::new(keys, c.c_nationkey);
    rows.l_customer_nation
        .push(LCustomerNation::new(keys, &hub, &nation));
    rows.s_customer_details.push(SCustomerDetails::new(
        keys,
        &hub,
        &c.c_name,
        &c.c_address,
        &c.c_phone,
        c.c_acctbal,
        &c.c_mktsegment,
        &c.c_comment,
        snapshot(),
    ));
    rows.h_customer.push(hub);
}

/// Adds a supplier's rows: its hub, its link to its nation, its details as of the snapshot.
pub fn add_supplier<'a>(rows: &mut TpchRows<'a>, keys: &KeySpec, s: &'a Supplier) {
    let hub = HSupplier::new(keys, s.s_suppkey);
    let nation = HNation::new(keys, s.s_nationkey);
    rows.l_supplier_nation
        .push(LSupplierNation::new(keys, &hub, &nation));
    rows.s_supplier_details.push(SSupplierDetails::new(
        keys,
        &hub,
        &s.s_name,
        &s.s_address,
        &s.s_phone,
        s.s_acctbal,
        &s.s_comment,
        snapshot(),
    ));
    rows.h_supplier.push(hub);
}

/// Adds a part's rows: its hub and its details as of the snapshot.
pub fn add_part<'a>(rows: &mut TpchRows<'a>, keys: &KeySpec, p: &'a Part) {
    let hub = HPart::new(keys, p.p_partkey);
    rows.s_part_details.push(SPartDetails::new(
        keys,
        &hub,
        &p.p_name,
        &p.p_mfgr,
        &p.p_brand,
        &p.p_type,
        p.p_size,
        &p.p_container,
        p.p_retailprice,
        &p.p_comment,
        snapshot(),
    ));
    rows.h_part.push(hub);
}

/// Adds an inventory row's rows: the part–supplier link and its details as of the snapshot (a
/// satellite of a link hangs from the link's `linked` row, which carries its business key).
pub fn add_partsupp<'a>(rows: &mut TpchRows<'a>, keys: &KeySpec, ps: &'a PartSupp) {
    let part = HPart::new(keys, ps.ps_partkey);
    let supplier = HSupplier::new(keys, ps.ps_suppkey);
    let link = LPartSupplier::linked(keys, &part, &supplier);
    rows.s_part_supplier_details.push(SPartSupplierDetails::new(
        keys,
        &link,
        ps.ps_availqty,
        ps.ps_supplycost,
        &ps.ps_comment,
        snapshot(),
    ));
    rows.l_part_supplier.push(link.into_row());
}

/// Adds an order's rows: its hub, its link to its customer, its details from its order date.
pub fn add_order<'a>(rows: &mut TpchRows<'a>, keys: &KeySpec, o: &'a Order) {
    let hub = HOrder::new(keys, o.o_orderkey);
    let customer = HCustomer::new(keys, o.o_custkey);
    rows.l_customer_order
        .push(LCustomerOrder::new(keys, &customer, &hub));
    rows.s_order_details.push(SOrderDetails::new(
        keys,
        &hub,
        &o.o_orderstatus,
        o.o_totalprice,
        &o.o_orderpriority,
        &o.o_clerk,
        o.o_shippriority,
        &o.o_comment,
        midnight(o.o_orderdate),
    ));
    rows.h_order.push(hub);
}

/// Adds a line item's rows: its hub, its links to its order and to its part and supplier, its
/// details. The line item's business key is two columns: its material joins both.
pub fn add_lineitem<'a>(rows: &mut TpchRows<'a>, keys: &KeySpec, l: &'a LineItem) {
    let hub = HLineitem::new(keys, l.l_orderkey, l.l_linenumber);
    let order = HOrder::new(keys, l.l_orderkey);
    let part = HPart::new(keys, l.l_partkey);
    let supplier = HSupplier::new(keys, l.l_suppkey);
    rows.l_order_lineitem
        .push(LOrderLineitem::new(keys, &order, &hub));
    rows.l_lineitem_part_supplier
        .push(LLineitemPartSupplier::new(keys, &hub, &part, &supplier));
    rows.s_lineitem_details.push(SLineitemDetails::new(
        keys,
        &hub,
        l.l_quantity,
        l.l_extendedprice,
        l.l_discount,
        l.l_tax,
        &l.l_returnflag,
        &l.l_linestatus,
        l.l_shipdate,
        l.l_commitdate,
        l.l_receiptdate,
        &l.l_shipinstruct,
        &l.l_shipmode,
        &l.l_comment,
    ));
    rows.h_lineitem.push(hub);
}
