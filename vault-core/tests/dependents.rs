//! What depending on vault-core does to a user's build: nothing. JSON that parses without it
//! parses the same with it (no `serde_json` feature is forced on dependents: amounts keep their
//! exact text through a raw value, not through `arbitrary_precision`).

use serde::Deserialize;

/// A number or a text, as a user's own model might have it.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(f64),
    Text(String),
}

/// A flattened struct with a float, which serde buffers before it parses.
#[derive(Debug, PartialEq, Deserialize)]
struct Outer {
    name: String,
    #[serde(flatten)]
    inner: Inner,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Inner {
    weight: f64,
}

#[test]
fn a_users_untagged_and_flattened_floats_still_parse() {
    let parsed: NumberOrText = serde_json::from_str("1.5").expect("an untagged f64");
    assert_eq!(parsed, NumberOrText::Number(1.5));
    let outer: Outer =
        serde_json::from_str(r#"{"name": "x", "weight": 1.5}"#).expect("a flattened f64");
    assert_eq!(outer.inner.weight, 1.5);
    // And vault-core's own amounts stay exact next to them.
    let amount: vault_core::Amount = serde_json::from_str("1e16").expect("an amount");
    assert_eq!(amount.as_str(), "1e+16");
    assert_eq!(serde_json::to_string(&amount).expect("written"), "1e+16");
    let big: vault_core::Amount =
        serde_json::from_str("123456789012345678901234567890").expect("a big integer");
    assert_eq!(big.as_str(), "123456789012345678901234567890");
}
