//! Deterministic Data Vault keys: UUIDv5 over delimited business-key material.
//!
//! Key spec `vault-keys/1`:
//!
//! * `key = UUIDv5(namespace, material)`; material is the key's parts joined by `#$#`.
//! * **Seed-compatible joining** ([`Joining::Plain`]) puts parts in as they are: byte-identical to
//!   the original Python services, so existing warehouses keep loading without a rehash. It is
//!   ambiguous when a part contains `#$#` — `("a#$#b", "c")` and `("a", "b#$#c")` collide.
//! * **Unambiguous joining** ([`Joining::Escaped`]) escapes `\` as `\\` and `#` as `\#` inside
//!   every part before joining, so distinct part lists always give distinct material.
//! * Numbers in material are Python's `str()` of the parsed JSON value ([`crate::Amount`]).

use sha1::{Digest, Sha1};
use uuid::Uuid;

/// The version of the key spec implemented here; bump on any change of material or hashing.
pub const KEY_SPEC_VERSION: &str = "vault-keys/1";

/// The namespace the original services used (`7f288a2e-0ad0-4039-8e59-6c9838d87307`).
pub const SEED_NAMESPACE: Uuid = Uuid::from_bytes([
    0x7f, 0x28, 0x8a, 0x2e, 0x0a, 0xd0, 0x40, 0x39, 0x8e, 0x59, 0x6c, 0x98, 0x38, 0xd8, 0x73, 0x07,
]);

/// The delimiter between parts of key material.
pub const DELIMITER: &str = "#$#";

/// How parts are joined into key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Joining {
    /// Parts as they are, joined by `#$#` (the original services' rule).
    Plain,
    /// `\` → `\\` and `#` → `\#` inside each part, then joined by `#$#`.
    Escaped,
}

/// A namespace plus a joining rule: everything that determines a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    namespace: Uuid,
    joining: Joining,
}

impl Default for KeySpec {
    fn default() -> Self {
        KeySpec::SEED
    }
}

impl KeySpec {
    /// The original services' keys: [`SEED_NAMESPACE`], plain joining.
    pub const SEED: KeySpec = KeySpec {
        namespace: SEED_NAMESPACE,
        joining: Joining::Plain,
    };

    /// Plain joining under another namespace.
    pub const fn new(namespace: Uuid) -> Self {
        KeySpec {
            namespace,
            joining: Joining::Plain,
        }
    }

    /// The same namespace with unambiguous (escaped) joining.
    pub const fn unambiguous(self) -> Self {
        KeySpec {
            namespace: self.namespace,
            joining: Joining::Escaped,
        }
    }

    /// The namespace.
    pub const fn namespace(&self) -> Uuid {
        self.namespace
    }

    /// The joining rule.
    pub const fn joining(&self) -> Joining {
        self.joining
    }

    /// The key of any list of parts.
    pub fn key<'a, I>(&self, parts: I) -> Uuid
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut hasher = Sha1::new();
        hasher.update(self.namespace.as_bytes());
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                hasher.update(DELIMITER.as_bytes());
            }
            match self.joining {
                Joining::Plain => hasher.update(part.as_bytes()),
                Joining::Escaped => update_escaped(&mut hasher, part),
            }
        }
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_sha1_bytes(bytes).into_uuid()
    }

    /// A hub key: the business key alone.
    pub fn hub(&self, business_key: &str) -> Uuid {
        self.key([business_key])
    }

    /// A link key: the business keys of the linked hubs, in the link's order.
    pub fn link(&self, business_keys: &[&str]) -> Uuid {
        self.key(business_keys.iter().copied())
    }

    /// A satellite key (hashdiff): the parent's business key, then the descriptive attributes.
    /// A change of any attribute gives a new key, hence a new satellite row.
    pub fn hashdiff(&self, parent_business_key: &str, attributes: &[&str]) -> Uuid {
        self.key(std::iter::once(parent_business_key).chain(attributes.iter().copied()))
    }

    /// The material the key of these parts is hashed from (for documentation and debugging).
    pub fn material<'a, I>(&self, parts: I) -> String
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut out = String::new();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                out.push_str(DELIMITER);
            }
            match self.joining {
                Joining::Plain => out.push_str(part),
                Joining::Escaped => {
                    for c in part.chars() {
                        if matches!(c, '\\' | '#') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
            }
        }
        out
    }
}

fn update_escaped(hasher: &mut Sha1, part: &str) {
    let bytes = part.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if matches!(b, b'\\' | b'#') {
            hasher.update(&bytes[start..i]);
            hasher.update(b"\\");
            start = i;
        }
    }
    hasher.update(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_namespace_is_the_original() {
        assert_eq!(
            SEED_NAMESPACE.to_string(),
            "7f288a2e-0ad0-4039-8e59-6c9838d87307"
        );
    }

    #[test]
    fn plain_keys_equal_uuid_crate_v5() {
        let spec = KeySpec::SEED;
        for material in ["1371198", "626a81ce9a8cd1920641e29c", "Закуски", ""] {
            assert_eq!(
                spec.hub(material),
                Uuid::new_v5(&SEED_NAMESPACE, material.as_bytes())
            );
        }
        assert_eq!(
            spec.link(&["1371198", "aeca4d08abab78869c20128c"]),
            Uuid::new_v5(&SEED_NAMESPACE, b"1371198#$#aeca4d08abab78869c20128c")
        );
    }

    #[test]
    fn escaped_joining_is_unambiguous() {
        let plain = KeySpec::SEED;
        let escaped = KeySpec::SEED.unambiguous();
        assert_eq!(plain.link(&["a#$#b", "c"]), plain.link(&["a", "b#$#c"]));
        assert_ne!(escaped.link(&["a#$#b", "c"]), escaped.link(&["a", "b#$#c"]));
        assert_eq!(escaped.material(["a#$#b", "c\\"]), "a\\#$\\#b#$#c\\\\");
        let material = escaped.material(["a#$#b", "c\\"]);
        assert_eq!(
            escaped.link(&["a#$#b", "c\\"]),
            Uuid::new_v5(&SEED_NAMESPACE, material.as_bytes())
        );
    }
}
