//! Reading configuration from environment-style variables, IO-free: the caller passes the lookup
//! (`std::env::var` in services, a map in tests). Errors name the variable in one line.

use std::fmt::Display;
use std::str::FromStr;

use super::vars::Var;

/// A missing or malformed configuration variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("configuration: {0} is not set")]
    Missing(String),
    /// A variable is set to something unusable.
    #[error("configuration: {name}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: String,
        /// Its value (passwords are never echoed: see [`Env::secret`]).
        value: String,
        /// Why it is unusable.
        reason: String,
    },
}

/// An environment made of fixed pairs (tests, tools that build their own settings).
pub fn env_from_pairs(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Env::new(move |name: &str| map.get(name).cloned())
}

/// Typed access to configuration variables through a lookup function.
pub struct Env<F> {
    lookup: F,
}

impl<F> std::fmt::Debug for Env<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// Wraps a lookup; empty values count as unset.
    pub fn new(lookup: F) -> Self {
        Env { lookup }
    }

    /// The value of `var`, if set and not empty (its default is not applied).
    pub fn get(&self, var: &Var) -> Option<String> {
        (self.lookup)(var.name).filter(|v| !v.trim().is_empty())
    }

    /// The value of `var`, or its declared default; [`ConfigError::Missing`] without either.
    pub fn required(&self, var: &Var) -> Result<String, ConfigError> {
        self.get(var)
            .or_else(|| var.default_value().map(str::to_owned))
            .ok_or_else(|| ConfigError::Missing(var.name.to_owned()))
    }

    /// A secret: may be empty (no password), never echoed in errors.
    pub fn secret(&self, var: &Var) -> String {
        (self.lookup)(var.name).unwrap_or_default()
    }

    /// The value of `var` (or its declared default) parsed as `T`.
    pub fn value<T>(&self, var: &Var) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let value = self.required(var)?;
        parse_value(var.name, value)
    }

    /// The value of `var` parsed as `T`, `None` when unset (its default is not applied).
    pub fn optional<T>(&self, var: &Var) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.get(var)
            .map(|value| parse_value(var.name, value))
            .transpose()
    }
}

/// The declared default of `var` parsed as `T` (what a builder uses for a value not given).
pub fn default_of<T>(var: &Var) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    Env::new(|_: &str| None).value(var)
}

fn parse_value<T>(name: &str, value: String) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    value
        .trim()
        .parse()
        .map_err(|err: T::Err| ConfigError::Invalid {
            name: name.to_owned(),
            reason: err.to_string(),
            value,
        })
}

/// The hosts of a `*_HOST` variable that lists a cluster (`KAFKA_HOST`, `PG_WAREHOUSE_HOST`):
/// comma-separated, each `host`, `host:port`, `[v6]` or `[v6]:port`, the port defaulting to
/// `default_port`. IPv6 hosts come back without their brackets. The error says what is wrong
/// with which entry.
pub fn host_list(hosts: &str, default_port: u16) -> Result<Vec<(String, u16)>, String> {
    let mut list = Vec::new();
    for entry in hosts.split(',').map(str::trim) {
        if entry.is_empty() {
            return Err("an empty host in the list".into());
        }
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{entry}`: `[` without `]`"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("`{entry}`: expected `:port` after `]`")),
                },
            }
        } else {
            match entry.split_once(':') {
                None => (entry, None),
                Some((host, port)) => (host, Some(port)),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(format!("`{entry}` is not a host name"));
        }
        let port = match port {
            None => default_port,
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => return Err(format!("`{entry}`: `{text}` is not a port")),
            },
        };
        list.push((host.to_owned(), port));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::vars::{BATCH_MAX, HTTP_PORT, KAFKA_HOST, KAFKA_PORT};

    #[test]
    fn names_the_variable() {
        let env = Env::new(|name: &str| match name {
            "KAFKA_PORT" => Some("fifty".to_owned()),
            "KAFKA_HOST" => Some("  ".to_owned()),
            _ => None,
        });
        assert_eq!(
            env.required(&KAFKA_HOST).expect_err("blank").to_string(),
            "configuration: KAFKA_HOST is not set"
        );
        let err = env.value::<u16>(&KAFKA_PORT).expect_err("not a number");
        assert_eq!(
            err.to_string(),
            "configuration: KAFKA_PORT=\"fifty\" is invalid: invalid digit found in string"
        );
        assert_eq!(env.value::<u16>(&HTTP_PORT), Ok(5000));
        assert_eq!(env.optional::<u16>(&HTTP_PORT), Ok(None));
        assert_eq!(default_of::<usize>(&BATCH_MAX), Ok(1000));
    }
}
