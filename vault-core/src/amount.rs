//! JSON numbers kept as the exact text Python's `str()` gives for the parsed value.
//!
//! The original services parsed orders with Python's `json` module and put `str(value)` into key
//! material, so `875` stays `875`, `875.0` stays `875.0`, `1e16` becomes `1e+16` and `0.00001`
//! becomes `1e-05`. [`Amount`] stores that text, which is also valid JSON, so re-serialising a
//! message keeps every number as the original pipeline would have written it.

use std::fmt;
use std::str::FromStr;

use serde::{de, ser, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A number from a message (a cost, a price, a quantity), held as Python's `str()` of its value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Amount {
    text: Box<str>,
    integer: bool,
}

/// Why a JSON number token could not become an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The token is not a JSON number.
    #[error("`{0}` is not a JSON number")]
    NotANumber(String),
    /// A decimal whose magnitude does not fit a 64-bit float (Python would make it `inf`).
    #[error("`{0}` is out of the range of a 64-bit float")]
    OutOfRange(String),
}

impl Amount {
    /// Builds an amount from a JSON number token (`875`, `-3`, `875.0`, `1e16`, `1E-5`).
    pub fn from_json_token(token: &str) -> Result<Self, AmountError> {
        if is_integer_token(token) {
            // Python ints are exact and unbounded; only `-0` renders differently (`0`).
            let zero = token.trim_start_matches('-').bytes().all(|b| b == b'0');
            let text = if zero { "0" } else { token };
            return Ok(Amount {
                text: text.into(),
                integer: true,
            });
        }
        if !is_number_token(token) {
            return Err(AmountError::NotANumber(token.to_owned()));
        }
        let value: f64 = token
            .parse()
            .map_err(|_| AmountError::NotANumber(token.to_owned()))?;
        if !value.is_finite() {
            return Err(AmountError::OutOfRange(token.to_owned()));
        }
        Ok(Amount {
            text: python_float_str(value).into(),
            integer: false,
        })
    }

    /// An integer amount.
    pub fn from_i64(value: i64) -> Self {
        Amount {
            text: itoa::Buffer::new().format(value).into(),
            integer: true,
        }
    }

    /// A decimal amount (a Python `float`). Non-finite values have no JSON form.
    pub fn from_f64(value: f64) -> Result<Self, AmountError> {
        if !value.is_finite() {
            return Err(AmountError::OutOfRange(value.to_string()));
        }
        Ok(Amount {
            text: python_float_str(value).into(),
            integer: false,
        })
    }

    /// The text Python's `str()` gives for this value; also its JSON form.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the message carried an integer (Python `int`) rather than a decimal (`float`).
    pub fn is_integer(&self) -> bool {
        self.integer
    }

    /// Whether the value is below zero (`-0.0` is not).
    pub fn is_negative(&self) -> bool {
        self.text.starts_with('-') && self.text.bytes().any(|b| (b'1'..=b'9').contains(&b))
    }

    /// The value as a float (exact for integers up to 2^53).
    pub fn to_f64(&self) -> f64 {
        // The text is always a valid number literal; fall back to NaN rather than panic.
        self.text.parse().unwrap_or(f64::NAN)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.text)
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::from_json_token(s)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The text as it is (it is a JSON number token): serde_json writes a raw value verbatim,
        // whatever features its user has turned on.
        let raw = RawValue::from_string(self.text.to_string()).map_err(ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The token as sent, not a parsed f64 (no `arbitrary_precision` needed, none forced
        // on this crate's users).
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let token = raw.get();
        if token.starts_with('"') {
            return Err(de::Error::invalid_type(
                de::Unexpected::Other("a string"),
                &"a number",
            ));
        }
        Amount::from_json_token(token).map_err(de::Error::custom)
    }
}

fn is_integer_token(token: &str) -> bool {
    let digits = token.strip_prefix('-').unwrap_or(token);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_number_token(token: &str) -> bool {
    let body = token.strip_prefix('-').unwrap_or(token);
    body.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
}

/// Python's `repr(float)` / `str(float)`: the shortest digits that round-trip, in fixed notation
/// for decimal exponents -4..=15 and in exponent notation (`1e+16`, `1.5e-05`) outside it.
pub fn python_float_str(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` prints the shortest round-trip digits, like Python's repr: `d.ddde-5`.
    let sci = format!("{:e}", value.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if value < 0.0 {
        out.push('-');
    }
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        if exp.abs() < 10 {
            out.push('0');
        }
        out.push_str(itoa::Buffer::new().format(exp.abs()));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_python_str() {
        let cases = [
            ("875", "875"),
            ("-0", "0"),
            ("875.0", "875.0"),
            ("0.1", "0.1"),
            ("1e16", "1e+16"),
            ("1E16", "1e+16"),
            ("0.00001", "1e-05"),
            ("0.0001", "0.0001"),
            ("1e15", "1000000000000000.0"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("1.5e-7", "1.5e-07"),
            ("-2.50", "-2.5"),
            ("-0.0", "-0.0"),
            ("1e308", "1e+308"),
            ("12345.678e3", "12345678.0"),
        ];
        for (token, python) in cases {
            let amount = Amount::from_json_token(token).expect(token);
            assert_eq!(amount.as_str(), python, "token {token}");
        }
    }

    #[test]
    fn rejects_non_numbers_and_overflow() {
        assert!(matches!(
            Amount::from_json_token("1e400"),
            Err(AmountError::OutOfRange(_))
        ));
        assert!(matches!(
            Amount::from_json_token("abc"),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(
            Amount::from_json_token(""),
            Err(AmountError::NotANumber(_))
        ));
    }

    #[test]
    fn sign() {
        assert!(Amount::from_json_token("-1").expect("int").is_negative());
        assert!(Amount::from_json_token("-0.5")
            .expect("float")
            .is_negative());
        assert!(!Amount::from_json_token("-0.0").expect("zero").is_negative());
        assert!(!Amount::from_json_token("-0").expect("zero").is_negative());
    }
}
