//! Every reason a message is dead-lettered for (contract §7.2), defined once: the
//! `vault.reason` header and the `reason` label of `vault_messages_dead_lettered_total`.

/// Why a message went to the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeadLetterReason {
    /// Not one JSON document (broken syntax, not UTF-8, empty).
    InvalidJson,
    /// Valid JSON of the wrong shape (a missing, `null` or mistyped field, a bad date…).
    InvalidShape,
    /// The right shape with a forbidden value (a negative amount, an empty id, a NUL…).
    InvalidValue,
    /// A well-formed message of another kind (`object_type`).
    UnknownObjectType,
    /// Larger than the limit, or a downstream message over the topic's limit.
    Oversize,
    /// A user id the dictionary does not know (yet).
    UnknownUser,
    /// A restaurant id the dictionary does not know (yet).
    UnknownRestaurant,
    /// An ordered item that is not on the restaurant's menu.
    UnknownMenuItem,
    /// The order's user or restaurant entry exists but is unusable.
    InvalidDictionaryEntry,
    /// The warehouse refused the message for good (a value its columns cannot hold).
    RejectedByWarehouse,
    /// Its downstream message could not be encoded.
    Unencodable,
}

impl DeadLetterReason {
    /// Every reason, in the order of the docs.
    pub const ALL: [DeadLetterReason; 11] = [
        DeadLetterReason::InvalidJson,
        DeadLetterReason::InvalidShape,
        DeadLetterReason::InvalidValue,
        DeadLetterReason::UnknownObjectType,
        DeadLetterReason::Oversize,
        DeadLetterReason::UnknownUser,
        DeadLetterReason::UnknownRestaurant,
        DeadLetterReason::UnknownMenuItem,
        DeadLetterReason::InvalidDictionaryEntry,
        DeadLetterReason::RejectedByWarehouse,
        DeadLetterReason::Unencodable,
    ];

    /// The code in headers, metrics and logs (`invalid_json`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::InvalidJson => "invalid_json",
            DeadLetterReason::InvalidShape => "invalid_shape",
            DeadLetterReason::InvalidValue => "invalid_value",
            DeadLetterReason::UnknownObjectType => "unknown_object_type",
            DeadLetterReason::Oversize => "oversize",
            DeadLetterReason::UnknownUser => "unknown_user",
            DeadLetterReason::UnknownRestaurant => "unknown_restaurant",
            DeadLetterReason::UnknownMenuItem => "unknown_menu_item",
            DeadLetterReason::InvalidDictionaryEntry => "invalid_dictionary_entry",
            DeadLetterReason::RejectedByWarehouse => "rejected_by_warehouse",
            DeadLetterReason::Unencodable => "unencodable",
        }
    }
}

impl std::fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let codes: std::collections::BTreeSet<&str> =
            DeadLetterReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(codes.len(), DeadLetterReason::ALL.len());
        assert!(codes
            .iter()
            .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')));
    }

    /// the configuration reference's table of reasons lists exactly these.
    #[test]
    fn the_configuration_docs_list_every_reason() {
        let docs = include_str!("../../../docs/configuration.md");
        let section = docs
            .split("## Dead letters")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("docs/configuration.md has a `## Dead letters` section");
        let mut listed = std::collections::BTreeSet::new();
        for line in section.lines().filter(|l| l.starts_with("| `")) {
            let first_cell = line.split('|').nth(1).unwrap_or_default();
            for code in first_cell.split('`').skip(1).step_by(2) {
                listed.insert(code.to_owned());
            }
        }
        let defined: std::collections::BTreeSet<String> = DeadLetterReason::ALL
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect();
        assert_eq!(
            listed, defined,
            "docs/configuration.md ## Dead letters vs DeadLetterReason::ALL"
        );
    }
}
