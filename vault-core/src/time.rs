//! Timestamps without zone (`YYYY-MM-DD HH:MM:SS`, UTC by convention): SQL's `timestamp`, the
//! toolkit's effective times.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A UTC timestamp without zone (`2023-04-01 20:45:43`): SQL's `timestamp`, and the type of a
/// satellite's effective time.
///
/// Fractional seconds are accepted and kept; output uses the same layout. Text with a zone is
/// converted to UTC by [`Timestamp::parse`]; deserialization takes the zone-less form only
/// ([`Timestamp::parse_utc`]): a document whose times carry zones is read into
/// `chrono::DateTime<Utc>` (a column type of its own) or parsed with [`Timestamp::parse`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(NaiveDateTime);

/// The text was not a `YYYY-MM-DD HH:MM:SS` timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a `YYYY-MM-DD HH:MM:SS` timestamp, found `{0}`")]
pub struct TimestampError(String);

impl Timestamp {
    /// Wraps a chrono value.
    pub const fn new(value: NaiveDateTime) -> Self {
        Timestamp(value)
    }

    /// The chrono value.
    pub const fn naive(self) -> NaiveDateTime {
        self.0
    }

    /// The same time without fractional seconds (`YYYY-MM-DD HH:MM:SS`).
    pub fn whole_seconds(self) -> Self {
        use chrono::Timelike;
        Timestamp(self.0.with_nanosecond(0).unwrap_or(self.0))
    }

    /// The time `secs` seconds after the Unix epoch, UTC (a clock reading; vault-core reads
    /// no clock itself).
    pub fn from_unix_seconds(secs: i64) -> Self {
        Timestamp(
            chrono::DateTime::from_timestamp(secs, 0)
                .map(|dt| dt.naive_utc())
                .unwrap_or_default(),
        )
    }

    /// This time plus `delta` (saturating at the calendar's end).
    pub fn plus(self, delta: chrono::Duration) -> Self {
        Timestamp(self.0.checked_add_signed(delta).unwrap_or(self.0))
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.f]` (`T` accepted in place of the space), or the same with a
    /// zone at the end (`Z`, `+02:00`, `+0200`), which is converted to UTC.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        Timestamp::parse_utc(text)
            .or_else(|_| {
                let zoned = text.strip_suffix(['Z', 'z']).map(|t| format!("{t}+00:00"));
                let zoned = zoned.as_deref().unwrap_or(text);
                [
                    "%Y-%m-%d %H:%M:%S%.f%:z",
                    "%Y-%m-%dT%H:%M:%S%.f%:z",
                    "%Y-%m-%d %H:%M:%S%.f%z",
                    "%Y-%m-%dT%H:%M:%S%.f%z",
                ]
                .iter()
                .find_map(|layout| chrono::DateTime::parse_from_str(zoned, layout).ok())
                .map(|t| Timestamp(t.naive_utc()))
                .ok_or(())
            })
            .map_err(|()| TimestampError(text.chars().take(64).collect()))
    }

    /// Parses the zone-less layout: `YYYY-MM-DD HH:MM:SS[.f]`, UTC (`T` accepted in place of
    /// the space). A zone is refused, not converted: what deserialization takes.
    pub fn parse_utc(text: &str) -> Result<Self, TimestampError> {
        parse_fixed(text.as_bytes())
            .or_else(|| {
                ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                    .iter()
                    .find_map(|layout| NaiveDateTime::parse_from_str(text, layout).ok())
            })
            .map(Timestamp)
            .ok_or_else(|| TimestampError(text.chars().take(64).collect()))
    }
}

/// Fast path for exactly `YYYY-MM-DD HH:MM:SS`.
fn parse_fixed(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    Some(NaiveDateTime::new(date, time))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S%.f"))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl From<NaiveDateTime> for Timestamp {
    fn from(value: NaiveDateTime) -> Self {
        Timestamp(value)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a `YYYY-MM-DD HH:MM:SS` timestamp")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                // Zone-less only: a zone is refused, not silently converted.
                Timestamp::parse_utc(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_is_converted_to_utc() {
        let utc = Timestamp::parse("2024-05-01 08:00:00").expect("valid");
        for text in [
            "2024-05-01T08:00:00Z",
            "2024-05-01 08:00:00z",
            "2024-05-01T10:00:00+02:00",
            "2024-05-01 10:00:00+0200",
            "2024-05-01T03:30:00-04:30",
        ] {
            assert_eq!(Timestamp::parse(text), Ok(utc), "{text}");
        }
        assert_eq!(
            Timestamp::parse("2024-05-01T10:00:00.25+02:00").map(|t| t.to_string()),
            Ok("2024-05-01 08:00:00.250".to_owned())
        );
        assert!(Timestamp::parse("2024-05-01T10:00:00+2").is_err());
        assert!(Timestamp::parse("2024-05-01T10:00:00 UTC").is_err());
        // A message's timestamp carries no zone (the contract): refused there.
        assert!(Timestamp::parse_utc("2024-05-01T08:00:00Z").is_err());
        let refused: Result<Timestamp, _> = serde_json::from_str(r#""2024-05-01T10:00:00+02:00""#);
        assert!(refused.is_err());
    }

    #[test]
    fn sent_dttm_has_whole_seconds() {
        let t = Timestamp::parse("2026-12-01 20:19:37.118013592").expect("valid");
        assert_eq!(t.whole_seconds().to_string(), "2026-12-01 20:19:37");
        assert_eq!(
            Timestamp::from_unix_seconds(1_764_620_377).to_string(),
            "2025-12-01 20:19:37"
        );
    }

    #[test]
    fn round_trips_the_source_layout() {
        let ts = Timestamp::parse("2023-04-01 20:45:43").expect("valid");
        assert_eq!(ts.to_string(), "2023-04-01 20:45:43");
        let iso = Timestamp::parse("2023-04-01T20:45:43").expect("valid");
        assert_eq!(iso, ts);
        let frac = Timestamp::parse("2023-04-01 20:45:43.250").expect("valid");
        assert_eq!(frac.to_string(), "2023-04-01 20:45:43.250");
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "2023-13-01 00:00:00",
            "2023-02-30 00:00:00",
            "yesterday",
            "2023-04-01 24:00:00",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }
}
