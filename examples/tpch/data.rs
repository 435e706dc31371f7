//! The eight TPC-H tables at a scale factor, generated in process by the `tpchgen` crate (the
//! TPC's `dbgen`, in Rust: the same rows for the same scale factor), as plain owned rows that
//! both loads read: the toolkit's ([`super::add_region`] …) and the set-based one
//! ([`super::load::copy_staging`]).

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};
use tpchgen::dates::TPCHDate;
use tpchgen::decimal::TPCHDecimal;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};
use vault_core::{Column, SqlType, SqlValue};

/// An exact decimal with two fractional digits (TPC-H's `decimal(15,2)`), in hundredths.
///
/// Stored as `numeric`; its key material is its text with both fractional digits, as TPC-H
/// writes it and as PostgreSQL writes a `numeric(15,2)` (`901.00`, `-0.05`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decimal2(pub i64);

impl fmt::Display for Decimal2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Decimal2 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl SqlValue for Decimal2 {
    const SQL_TYPE: SqlType = SqlType::Numeric;
    fn column(&self) -> Column<'_> {
        Column::Numeric(Cow::Owned(self.to_string()))
    }
}

impl From<TPCHDecimal> for Decimal2 {
    fn from(value: TPCHDecimal) -> Self {
        Decimal2(value.into_inner())
    }
}

/// A TPC-H date as a calendar date.
fn date(value: TPCHDate) -> NaiveDate {
    // Days since 1970-01-01; 719_163 is that day's number from the common era.
    NaiveDate::from_num_days_from_ce_opt(719_163 + value.to_unix_epoch()).unwrap_or(NaiveDate::MIN)
}

/// A REGION row.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Region {
    pub r_regionkey: i64,
    pub r_name: String,
    pub r_comment: String,
}

/// A NATION row.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Nation {
    pub n_nationkey: i64,
    pub n_name: String,
    pub n_regionkey: i64,
    pub n_comment: String,
}

/// A CUSTOMER row.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Customer {
    pub c_custkey: i64,
    pub c_name: String,
    pub c_address: String,
    pub c_nationkey: i64,
    pub c_phone: String,
    pub c_acctbal: Decimal2,
    pub c_mktsegment: String,
    pub c_comment: String,
}

/// A SUPPLIER row.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Supplier {
    pub s_suppkey: i64,
    pub s_name: String,
    pub s_address: String,
    pub s_nationkey: i64,
    pub s_phone: String,
    pub s_acctbal: Decimal2,
    pub s_comment: String,
}

/// A PART row.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Part {
    pub p_partkey: i64,
    pub p_name: String,
    pub p_mfgr: String,
    pub p_brand: String,
    pub p_type: String,
    pub p_size: i32,
    pub p_container: String,
    pub p_retailprice: Decimal2,
    pub p_comment: String,
}

/// A PARTSUPP row.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct PartSupp {
    pub ps_partkey: i64,
    pub ps_suppkey: i64,
    pub ps_availqty: i32,
    pub ps_supplycost: Decimal2,
    pub ps_comment: String,
}

/// An ORDERS row.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Order {
    pub o_orderkey: i64,
    pub o_custkey: i64,
    pub o_orderstatus: String,
    pub o_totalprice: Decimal2,
    pub o_orderdate: NaiveDate,
    pub o_orderpriority: String,
    pub o_clerk: String,
    pub o_shippriority: i32,
    pub o_comment: String,
}

/// A LINEITEM row.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct LineItem {
    pub l_orderkey: i64,
    pub l_partkey: i64,
    pub l_suppkey: i64,
    pub l_linenumber: i32,
    pub l_quantity: i64,
    pub l_extendedprice: Decimal2,
    pub l_discount: Decimal2,
    pub l_tax: Decimal2,
    pub l_returnflag: String,
    pub l_linestatus: String,
    pub l_shipdate: NaiveDate,
    pub l_commitdate: NaiveDate,
    pub l_receiptdate: NaiveDate,
    pub l_shipinstruct: String,
    pub l_shipmode: String,
    pub l_comment: String,
}

/// The eight tables of one scale factor, in the generator's order (by key; the line items by
/// order key, then line number).
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct Tpch {
    pub scale_factor: f64,
    pub region: Vec<Region>,
    pub nation: Vec<Nation>,
    pub customer: Vec<Customer>,
    pub supplier: Vec<Supplier>,
    pub part: Vec<Part>,
    pub partsupp: Vec<PartSupp>,
    pub orders: Vec<Order>,
    pub lineitem: Vec<LineItem>,
}

impl Tpch {
    /// Generates every table at `scale_factor` (SF 1 is about 8.7 million rows; SF 0.01
    /// about 87,000, 60,175 of them line items).
    pub fn generate(scale_factor: f64) -> Self {
        let (part, parts) = (1, 1);
        Tpch {
            scale_factor,
            region: RegionGenerator::new(scale_factor, part, parts)
                .iter()
                .map(|r| Region {
                    r_regionkey: r.r_regionkey,
                    r_name: r.r_name.to_owned(),
                    r_comment: r.r_comment.to_owned(),
                })
                .collect(),
            nation: NationGenerator::new(scale_factor, part, parts)
                .iter()
                .map(|n| Nation {
                    n_nationkey: n.n_nationkey,
                    n_name: n.n_name.to_owned(),
                    n_regionkey: n.n_regionkey,
                    n_comment: n.n_comment.to_owned(),
                })
                .collect(),
            customer: CustomerGenerator::new(scale_factor, part, parts)
                .iter()
                .map(|c| Customer {
                    c_custkey: c.c_custkey,
                    c_name: c.c_name.to_string(),
                    c_address: c.c_address.to_string(),
                    c_nationkey: c.c_nationkey,
                    c_phone: c.c_phone.to_string(),
                    c_acctbal: c.c_acctbal.into(),
                    c_mktsegment: c.c_mktsegment.to_owned(),
                    c_comment: c.c_comment.to_owned(),
                })
                .collect(),
            supplier: SupplierGenerator::new(scale_factor, part, parts)
                .iter()
                .map(|s| Supplier {
                    s_suppkey: s.s_suppkey,
                    s_name: s.s_name.to_string(),
                    s_address: s.s_address.to_string(),
                    s_nationkey: s.s_nationkey,
                    s_phone: s.s_phone.to_string(),
                    s_acctbal: s.s_acctbal.into(),
                    s_comment: s.s_comment,
                })
                .collect(),
            part: PartGenerator::new(scale_factor, part, parts)
                .iter()
                .map(|p| Part {
                    p_partkey: p.p_partkey,
                    p_name: p.p_name.to_string(),
                    p_mfgr: p.p_mfgr.to_string(),
                    p_brand: p.p_brand.to_string(),
                    p_type: p.p_type.to_owned(),
                    p_size: p.p_size,
                    p_container: p.p_container.to_owned(),
                    p_retailprice: p.p_retailprice.into(),
                    p_comment: p.p_comment.to_owned(),
                })
                .collect(),
            partsupp: PartSuppGenerator::new(scale_factor, part, parts)
                .iter()
                .map(|ps| PartSupp {
                    ps_partkey: ps.ps_partkey,
                    ps_suppkey: ps.ps_suppkey,
                    ps_availqty: ps.ps_availqty,
                    ps_supplycost: ps.ps_supplycost.into(),
                    ps_comment: ps.ps_comment.to_owned(),
                })
                .collect(),
            orders: OrderGenerator::new(scale_factor, part, parts)
                .iter()
                .map(|o| Order {
                    o_orderkey: o.o_orderkey,
                    o_custkey: o.o_custkey,
                    o_orderstatus: o.o_orderstatus.as_str().to_owned(),
                    o_totalprice: o.o_totalprice.into(),
                    o_orderdate: date(o.o_orderdate),
                    o_orderpriority: o.o_orderpriority.to_owned(),
                    o_clerk: o.o_clerk.to_string(),
                    o_shippriority: o.o_shippriority,
                    o_comment: o.o_comment.to_owned(),
                })
                .collect(),
            lineitem: LineItemGenerator::new(scale_factor, part, parts)
                .iter()
                .map(|l| LineItem {
                    l_orderkey: l.l_orderkey,
                    l_partkey: l.l_partkey,
                    l_suppkey: l.l_suppkey,
                    l_linenumber: l.l_linenumber,
                    l_quantity: l.l_quantity,
                    l_extendedprice: l.l_extendedprice.into(),
                    l_discount: l.l_discount.into(),
                    l_tax: l.l_tax.into(),
                    l_returnflag: l.l_returnflag.to_owned(),
                    l_linestatus: l.l_linestatus.to_owned(),
                    l_shipdate: date(l.l_shipdate),
                    l_commitdate: date(l.l_commitdate),
                    l_receiptdate: date(l.l_receiptdate),
                    l_shipinstruct: l.l_shipinstruct.to_owned(),
                    l_shipmode: l.l_shipmode.to_owned(),
                    l_comment: l.l_comment.to_owned(),
                })
                .collect(),
        }
    }

    /// Source rows in all eight tables.
    pub fn len(&self) -> usize {
        self.region.len()
            + self.nation.len()
            + self.customer.len()
            + self.supplier.len()
            + self.part.len()
            + self.partsupp.len()
            + self.orders.len()
            + self.lineitem.len()
    }

    /// Whether no table has a row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_dates_read_as_tpch_writes_them() {
        for (hundredths, text) in [
            (90100, "901.00"),
            (-5, "-0.05"),
            (0, "0.00"),
            (-99999, "-999.99"),
        ] {
            assert_eq!(Decimal2(hundredths).to_string(), text);
            assert_eq!(TPCHDecimal(hundredths).to_string(), text);
        }
        let first = OrderGenerator::new(0.01, 1, 1)
            .iter()
            .next()
            .map(|o| (o.o_orderdate.to_string(), date(o.o_orderdate).to_string()));
        let (tpch, ours) = first.unwrap_or_default();
        assert_eq!(ours, tpch);
        assert_eq!(ours, "1996-01-02");
    }
}
