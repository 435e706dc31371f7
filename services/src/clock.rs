//! The one clock of the services' messages: every producer of order reports takes `sent_dttm`
//! from here, so a report reads the same whichever path made it (the DDS service or
//! `vault replay`): `YYYY-MM-DD HH:MM:SS`, UTC, whole seconds (docs/contract.md §5.2).

use std::time::{SystemTime, UNIX_EPOCH};

use vault_core::Timestamp;

/// Now, UTC, whole seconds: the `sent_dttm` of a message produced now.
pub fn sent_dttm() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    Timestamp::from_unix_seconds(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_the_contract_s() {
        let text = sent_dttm().to_string();
        assert_eq!(text.len(), "YYYY-MM-DD HH:MM:SS".len(), "{text}");
        assert_eq!(Timestamp::parse(&text).map(|t| t.to_string()), Ok(text));
    }
}
