//! What a row hangs from: the hub or link row a satellite describes, or a hub row a link joins.
//! Generated constructors take these rows instead of keys made by hand, so a row's key follows
//! from its parent's declaration, and a row of the wrong table is a compile error.

use uuid::Uuid;

use crate::keys::KeySpec;

/// A row other rows reference: a hub's row ([`crate::data_vault!`] implements it for every hub
/// row type), or a link's row with the business keys it was made from ([`Linked`]).
///
/// Generated constructors (a link's `new`, a satellite's `new`) take a `&impl Parent` for each
/// reference and check at compile time that it is a row of the table the declaration names.
pub trait Parent {
    /// The table this row belongs to.
    const TABLE: &'static str;

    /// The row's key: what a referencing row stores.
    fn parent_key(&self) -> Uuid;

    /// The row's business key as key material: a hub's single business-key column's material
    /// ([`Column::material`](super::Column::material)); several columns', or a link's hubs'
    /// business keys, joined by the key spec ([`KeySpec::material`]). A satellite's hashdiff
    /// starts with it; a link's key is made of its hubs'.
    fn business_key(&self, keys: &KeySpec) -> String;
}

/// A link's row with the business key it was made from. A link row stores its hubs' keys, not
/// their business keys, and a satellite of the link hashes under those; a link's generated
/// `linked(…)` returns one, to hand to the satellite's `new` and then push its row
/// ([`Linked::row`], [`Linked::into_row`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Linked<L> {
    row: L,
    business_key: String,
}

impl<L> Linked<L> {
    /// The row and the business key its key was made from (what a generated `linked(…)` does).
    pub fn new(row: L, business_key: String) -> Self {
        Linked { row, business_key }
    }

    /// The link's row.
    pub fn row(&self) -> &L {
        &self.row
    }

    /// The link's row, to push.
    pub fn into_row(self) -> L {
        self.row
    }
}

impl<L: super::DvRow> Parent for Linked<L> {
    const TABLE: &'static str = L::DEF.name;

    fn parent_key(&self) -> Uuid {
        self.row.key()
    }

    fn business_key(&self, _keys: &KeySpec) -> String {
        self.business_key.clone()
    }
}

/// Whether two table names are equal, in a constant (the generated constructors' compile-time
/// check that a row is of the declared table).
#[doc(hidden)]
pub const fn same_table(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A hub's business key from the material of its business-key columns: one column's as it is,
/// several joined ([`Parent::business_key`]).
#[doc(hidden)]
pub fn business_key_of(keys: &KeySpec, mut parts: Vec<String>) -> String {
    if parts.len() == 1 {
        parts.pop().unwrap_or_default()
    } else {
        keys.material(parts.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_compare_in_a_constant() {
        const RESULTS: [bool; 3] = [
            same_table("h_user", "h_user"),
            same_table("h_user", "h_users"),
            same_table("h_use", "h_usr"),
        ];
        assert_eq!(RESULTS, [true, false, false]);
    }

    #[test]
    fn one_column_is_its_own_business_key_and_several_are_joined() {
        let keys = KeySpec::SEED;
        assert_eq!(business_key_of(&keys, vec!["a#b".into()]), "a#b");
        assert_eq!(
            business_key_of(&keys, vec!["7".into(), "2".into()]),
            "7#$#2"
        );
        let escaped = KeySpec::SEED.unambiguous();
        assert_eq!(business_key_of(&escaped, vec!["a#b".into()]), "a#b");
        assert_eq!(
            business_key_of(&escaped, vec!["a#b".into(), "c".into()]),
            "a\\#b#$#c"
        );
    }
}
