//! How to reach Redis: the variables of contract §7.4 (`REDIS_*`).

use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};
use vault_core::pipeline::{default_of, vars, ConfigError, Env};

/// How to reach the dictionary.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `REDIS_HOST`.
    pub host: String,
    /// `REDIS_PORT`.
    pub port: u16,
    /// `REDIS_PASSWORD` (may be empty: no `AUTH`).
    pub password: String,
    /// `REDIS_TLS` (default false): `rediss://` with certificate and host name verification.
    pub tls: bool,
    /// `REDIS_CA_FILE` (with `REDIS_TLS=true` only): verify the server against this CA (PEM)
    /// rather than the system's roots.
    pub ca_file: Option<String>,
    /// `REDIS_USERNAME`: the ACL user (`AUTH user password`); unset: the default user.
    pub username: Option<String>,
    /// `REDIS_TIMEOUT_MS` (default 5000): connect, read and write timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &"<redacted>")
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("username", &self.username)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A boolean variable: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case).
struct Flag(bool);

impl std::str::FromStr for Flag {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Flag(true)),
            "false" | "0" | "no" | "off" => Ok(Flag(false)),
            _ => Err("expected true or false"),
        }
    }
}

impl RedisConfig {
    /// Reads `REDIS_HOST`, `REDIS_PORT` (required), `REDIS_PASSWORD` (may be empty),
    /// `REDIS_USERNAME`, `REDIS_TLS`, `REDIS_CA_FILE` (only with TLS) and `REDIS_TIMEOUT_MS`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let Flag(tls) = env.value(&vars::REDIS_TLS)?;
        RedisConfig::builder(
            env.required(&vars::REDIS_HOST)?,
            env.value(&vars::REDIS_PORT)?,
        )
        .password(env.secret(&vars::REDIS_PASSWORD))
        .username(env.get(&vars::REDIS_USERNAME))
        .tls(tls, env.get(&vars::REDIS_CA_FILE))
        .timeout(Duration::from_millis(env.value(&vars::REDIS_TIMEOUT_MS)?))
        .build()
    }

    /// Settings made in code: `host` and `port`; what is not set on the builder takes the
    /// default its variable declares.
    pub fn builder(host: impl Into<String>, port: u16) -> RedisConfigBuilder {
        RedisConfigBuilder {
            host: host.into(),
            port,
            password: String::new(),
            username: None,
            tls: None,
            ca_file: None,
            timeout: None,
        }
    }

    /// `redis://host:port` or `rediss://host:port`, without credentials (for messages).
    pub fn address(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// The client's connection settings (the password is passed as is, never through a URL).
    pub fn connection_info(&self) -> Result<ConnectionInfo, redis::RedisError> {
        let addr = if self.tls {
            ConnectionAddr::TcpTls {
                host: self.host.clone(),
                port: self.port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(self.host.clone(), self.port)
        };
        let mut redis = RedisConnectionInfo::default();
        if !self.password.is_empty() {
            redis = redis.set_password(&self.password);
        }
        if let Some(username) = &self.username {
            redis = redis.set_username(username);
        }
        Ok(addr.into_connection_info()?.set_redis_settings(redis))
    }
}

/// A [`RedisConfig`] made in code ([`RedisConfig::builder`]), without the environment.
#[derive(Clone)]
pub struct RedisConfigBuilder {
    host: String,
    port: u16,
    password: String,
    username: Option<String>,
    tls: Option<bool>,
    ca_file: Option<String>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for RedisConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfigBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl RedisConfigBuilder {
    /// The password (empty: no `AUTH`).
    pub fn password(self, password: impl Into<String>) -> Self {
        RedisConfigBuilder {
            password: password.into(),
            ..self
        }
    }

    /// The ACL user (`None`: the default user); needs a password.
    pub fn username(self, username: Option<String>) -> Self {
        RedisConfigBuilder { username, ..self }
    }

    /// TLS on or off, and the CA to verify the server against (TLS only; `None`: the system's
    /// roots).
    pub fn tls(self, tls: bool, ca_file: Option<String>) -> Self {
        RedisConfigBuilder {
            tls: Some(tls),
            ca_file,
            ..self
        }
    }

    /// The connect, read and write timeout.
    pub fn timeout(self, timeout: Duration) -> Self {
        RedisConfigBuilder {
            timeout: Some(timeout),
            ..self
        }
    }

    /// The settings; refused as the variables would be (a CA file without TLS, a user
    /// without a password, a zero timeout).
    pub fn build(self) -> Result<RedisConfig, ConfigError> {
        let tls = match self.tls {
            Some(tls) => tls,
            None => {
                let Flag(tls) = default_of(&vars::REDIS_TLS)?;
                tls
            }
        };
        if let (Some(file), false) = (&self.ca_file, tls) {
            return Err(ConfigError::Invalid {
                name: vars::REDIS_CA_FILE.name.into(),
                value: file.clone(),
                reason: format!(
                    "a CA file is for TLS: set {}=true too",
                    vars::REDIS_TLS.name
                ),
            });
        }
        if self.username.is_some() && self.password.is_empty() {
            return Err(ConfigError::Missing(format!(
                "{} (required by {})",
                vars::REDIS_PASSWORD.name,
                vars::REDIS_USERNAME.name
            )));
        }
        let timeout = match self.timeout {
            Some(timeout) => timeout,
            None => Duration::from_millis(default_of(&vars::REDIS_TIMEOUT_MS)?),
        };
        if timeout.is_zero() {
            return Err(ConfigError::Invalid {
                name: vars::REDIS_TIMEOUT_MS.name.into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(RedisConfig {
            host: self.host,
            port: self.port,
            password: self.password,
            tls,
            ca_file: self.ca_file,
            username: self.username,
            timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        vault_core::pipeline::env_from_pairs(pairs)
    }

    #[test]
    fn reads_the_spec_variables() {
        let config = RedisConfig::from_env(&env(&[
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6380"),
            ("REDIS_PASSWORD", "s3cret"),
        ]))
        .expect("valid");
        assert_eq!(config.address(), "redis://cache:6380");
        assert_eq!(config.password, "s3cret");
        assert!(!config.tls);
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert!(!format!("{config:?}").contains("s3cret"));

        let tls = RedisConfig::from_env(&env(&[
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6380"),
            ("REDIS_TLS", "TRUE"),
        ]))
        .expect("valid");
        assert!(tls.tls);
        assert_eq!(tls.address(), "rediss://cache:6380");
        let info = tls.connection_info().expect("tls address");
        assert!(matches!(info.addr(), ConnectionAddr::TcpTls { .. }));
        assert_eq!(info.redis_settings().password(), None);

        let acl = RedisConfig::from_env(&env(&[
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6380"),
            ("REDIS_TLS", "true"),
            ("REDIS_CA_FILE", "/certs/ca.pem"),
            ("REDIS_USERNAME", "vault"),
            ("REDIS_PASSWORD", "s3cret"),
        ]))
        .expect("valid");
        assert_eq!(acl.ca_file.as_deref(), Some("/certs/ca.pem"));
        let info = acl.connection_info().expect("tls address");
        assert_eq!(info.redis_settings().username(), Some("vault"));
        assert!(!format!("{acl:?}").contains("s3cret"));
    }

    #[test]
    fn a_ca_file_without_tls_and_a_user_without_password_are_refused() {
        let err = RedisConfig::from_env(&env(&[
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6380"),
            ("REDIS_CA_FILE", "/certs/ca.pem"),
        ]))
        .expect_err("no TLS");
        assert!(err.to_string().contains("REDIS_CA_FILE"), "{err}");
        assert!(err.to_string().contains("REDIS_TLS=true"), "{err}");
        let err = RedisConfig::from_env(&env(&[
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6380"),
            ("REDIS_USERNAME", "vault"),
        ]))
        .expect_err("no password");
        assert!(err.to_string().contains("REDIS_PASSWORD"), "{err}");
    }

    #[test]
    fn a_builder_takes_the_declared_defaults() {
        let built = RedisConfig::builder("cache", 6380).build().expect("valid");
        let read = RedisConfig::from_env(&env(&[("REDIS_HOST", "cache"), ("REDIS_PORT", "6380")]))
            .expect("valid");
        assert_eq!(built, read);
        assert!(RedisConfig::builder("cache", 6380)
            .username(Some("vault".into()))
            .build()
            .is_err());
    }

    #[test]
    fn names_the_variable_at_fault() {
        let missing = RedisConfig::from_env(&env(&[("REDIS_PORT", "6379")]))
            .expect_err("no host")
            .to_string();
        assert_eq!(missing, "configuration: REDIS_HOST is not set");
        let port = RedisConfig::from_env(&env(&[("REDIS_HOST", "h"), ("REDIS_PORT", "x")]))
            .expect_err("bad port")
            .to_string();
        assert!(port.contains("REDIS_PORT"), "{port}");
        let tls = RedisConfig::from_env(&env(&[
            ("REDIS_HOST", "h"),
            ("REDIS_PORT", "1"),
            ("REDIS_TLS", "maybe"),
        ]))
        .expect_err("bad flag")
        .to_string();
        assert!(tls.starts_with("configuration: REDIS_TLS="), "{tls}");
        assert!(!tls.contains('\n'));
    }
}
