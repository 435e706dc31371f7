//! Warehouse connection settings from the environment variables of docs/contract.md §7.4.

use std::time::Duration;

use vault_core::{ConfigError, Env};

/// How TLS is used, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain connections only.
    Disable,
    /// TLS if the server offers it, without verification (libpq's default).
    Prefer,
    /// TLS required, certificate not verified.
    Require,
    /// TLS required, certificate verified against `PG_WAREHOUSE_SSLROOTCERT`.
    VerifyCa,
    /// As `VerifyCa`, and the host name must match the certificate.
    VerifyFull,
}

impl std::str::FromStr for SslMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "prefer" | "allow" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            _ => Err("expected disable, prefer, require, verify-ca or verify-full".into()),
        }
    }
}

/// Everything needed to reach the warehouse.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// `PG_WAREHOUSE_HOST`.
    pub host: String,
    /// `PG_WAREHOUSE_PORT`.
    pub port: u16,
    /// `PG_WAREHOUSE_DBNAME`.
    pub dbname: String,
    /// `PG_WAREHOUSE_USER`.
    pub user: String,
    /// `PG_WAREHOUSE_PASSWORD` (may be empty).
    pub password: String,
    /// `PG_WAREHOUSE_SSLMODE` (default `prefer`).
    pub sslmode: SslMode,
    /// `PG_WAREHOUSE_SSLROOTCERT`: CA file for `verify-ca` / `verify-full`.
    pub sslrootcert: Option<String>,
    /// `PG_WAREHOUSE_POOL_SIZE` (default 4).
    pub pool_size: u32,
    /// `PG_WAREHOUSE_CONNECT_TIMEOUT_MS` (default 5000).
    pub connect_timeout: Duration,
    /// The `application_name` of its sessions (`pg_stat_activity`): `vault`, or the service's
    /// name ([`PgConfig::for_application`]).
    pub application_name: String,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

impl PgConfig {
    /// Reads the `PG_WAREHOUSE_*` variables.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let sslmode: SslMode = env.parse_or("PG_WAREHOUSE_SSLMODE", SslMode::Prefer)?;
        let sslrootcert = env.get("PG_WAREHOUSE_SSLROOTCERT");
        if matches!(sslmode, SslMode::VerifyCa | SslMode::VerifyFull) && sslrootcert.is_none() {
            return Err(ConfigError::Missing(
                "PG_WAREHOUSE_SSLROOTCERT (required by PG_WAREHOUSE_SSLMODE=verify-*)".into(),
            ));
        }
        Ok(PgConfig {
            host: env.required("PG_WAREHOUSE_HOST")?,
            port: env.parse("PG_WAREHOUSE_PORT")?,
            dbname: env.required("PG_WAREHOUSE_DBNAME")?,
            user: env.required("PG_WAREHOUSE_USER")?,
            password: env.secret("PG_WAREHOUSE_PASSWORD"),
            sslmode,
            sslrootcert,
            pool_size: env.parse_or("PG_WAREHOUSE_POOL_SIZE", 4)?,
            connect_timeout: Duration::from_millis(
                env.parse_or("PG_WAREHOUSE_CONNECT_TIMEOUT_MS", 5000)?,
            ),
            application_name: "vault".to_owned(),
        })
    }

    /// The same settings, its sessions named `name` in `pg_stat_activity`.
    pub fn for_application(self, name: &str) -> Self {
        PgConfig {
            application_name: name.to_owned(),
            ..self
        }
    }

    /// The same settings for database `dbname`.
    pub fn with_dbname(&self, dbname: &str) -> Self {
        PgConfig {
            dbname: dbname.to_owned(),
            ..self.clone()
        }
    }

    /// The `postgres` client configuration (TLS is set up by [`crate::Warehouse`]).
    pub fn client_config(&self) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.dbname)
            .user(&self.user)
            .application_name(&self.application_name)
            .connect_timeout(self.connect_timeout)
            .ssl_mode(match self.sslmode {
                SslMode::Disable => postgres::config::SslMode::Disable,
                SslMode::Prefer => postgres::config::SslMode::Prefer,
                _ => postgres::config::SslMode::Require,
            });
        if !self.password.is_empty() {
            config.password(&self.password);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        vault_core::env_from_pairs(pairs)
    }

    const BASE: [(&str, &str); 5] = [
        ("PG_WAREHOUSE_HOST", "db"),
        ("PG_WAREHOUSE_PORT", "6432"),
        ("PG_WAREHOUSE_DBNAME", "de"),
        ("PG_WAREHOUSE_USER", "etl"),
        ("PG_WAREHOUSE_PASSWORD", "s3cret"),
    ];

    #[test]
    fn reads_the_spec_variables() {
        let config = PgConfig::from_env(&env(&BASE)).expect("valid");
        assert_eq!(
            (config.host.as_str(), config.port, config.sslmode),
            ("db", 6432, SslMode::Prefer)
        );
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn one_line_naming_the_variable() {
        let missing = PgConfig::from_env(&env(&BASE[1..])).expect_err("no host");
        assert_eq!(
            missing.to_string(),
            "configuration: PG_WAREHOUSE_HOST is not set"
        );
        let mut bad = BASE.to_vec();
        bad[1] = ("PG_WAREHOUSE_PORT", "70000");
        let err = PgConfig::from_env(&env(&bad)).expect_err("port out of range");
        assert!(err
            .to_string()
            .starts_with("configuration: PG_WAREHOUSE_PORT=\"70000\" is invalid"));
        let mut tls = BASE.to_vec();
        tls.push(("PG_WAREHOUSE_SSLMODE", "verify-full"));
        let err = PgConfig::from_env(&env(&tls)).expect_err("no CA");
        assert!(err.to_string().contains("PG_WAREHOUSE_SSLROOTCERT"));
    }
}
