//! Warehouse connection settings from the environment variables of contract §7.4.

use std::time::Duration;

use vault_core::pipeline::{default_of, vars, ConfigError, Env};

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

/// Which servers of `PG_WAREHOUSE_HOST` a session may use, as libpq's `target_session_attrs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAttrs {
    /// Only a server that takes writes (the primary): the hosts are tried in order until one
    /// does, and a pooled connection found on a read-only server is dropped (the default).
    ReadWrite,
    /// The first host that answers.
    Any,
}

impl std::str::FromStr for SessionAttrs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read-write" => Ok(SessionAttrs::ReadWrite),
            "any" => Ok(SessionAttrs::Any),
            _ => Err("expected read-write or any".into()),
        }
    }
}

/// Everything needed to reach the warehouse.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// `PG_WAREHOUSE_HOST` (one host or several, comma-separated, each `host` or `host:port`)
    /// with `PG_WAREHOUSE_PORT` as the port of a host given without one: tried in order.
    pub hosts: Vec<(String, u16)>,
    /// `PG_WAREHOUSE_TARGET_SESSION_ATTRS` (default `read-write`).
    pub target_session_attrs: SessionAttrs,
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
    /// `CDM_DAY_TIME_ZONE` (default `UTC`): the time zone whose dates are the days of the daily
    /// datamart; [`crate::Warehouse::migrate`] records it in the warehouse.
    pub day_time_zone: String,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("hosts", &self.hosts)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("pool_size", &self.pool_size)
            .field("day_time_zone", &self.day_time_zone)
            .finish()
    }
}

impl PgConfig {
    /// Reads the `PG_WAREHOUSE_*` variables.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let hosts = env.required(&vars::PG_WAREHOUSE_HOST)?;
        let port: u16 = env.value(&vars::PG_WAREHOUSE_PORT)?;
        let hosts = vault_core::pipeline::config::host_list(&hosts, port).map_err(|reason| {
            ConfigError::Invalid {
                name: vars::PG_WAREHOUSE_HOST.name.into(),
                value: hosts.clone(),
                reason,
            }
        })?;
        PgConfig::builder(
            hosts,
            env.required(&vars::PG_WAREHOUSE_DBNAME)?,
            env.required(&vars::PG_WAREHOUSE_USER)?,
        )
        .password(env.secret(&vars::PG_WAREHOUSE_PASSWORD))
        .sslmode(
            env.value(&vars::PG_WAREHOUSE_SSLMODE)?,
            env.get(&vars::PG_WAREHOUSE_SSLROOTCERT),
        )
        .target_session_attrs(env.value(&vars::PG_WAREHOUSE_TARGET_SESSION_ATTRS)?)
        .pool_size(env.value(&vars::PG_WAREHOUSE_POOL_SIZE)?)
        .connect_timeout(Duration::from_millis(
            env.value(&vars::PG_WAREHOUSE_CONNECT_TIMEOUT_MS)?,
        ))
        .day_time_zone(env.value::<String>(&vars::CDM_DAY_TIME_ZONE)?)
        .build()
    }

    /// Settings made in code: `hosts` (tried in order), `dbname` and `user`; what is not set on
    /// the builder takes the default its variable declares.
    pub fn builder(
        hosts: Vec<(String, u16)>,
        dbname: impl Into<String>,
        user: impl Into<String>,
    ) -> PgConfigBuilder {
        PgConfigBuilder {
            hosts,
            dbname: dbname.into(),
            user: user.into(),
            password: String::new(),
            sslmode: None,
            sslrootcert: None,
            target_session_attrs: None,
            pool_size: None,
            connect_timeout: None,
            day_time_zone: None,
        }
    }

    /// The same settings with `CDM_DAY_TIME_ZONE` = `zone` (not checked: the migration refuses
    /// a zone the server does not know).
    pub fn with_day_time_zone(&self, zone: &str) -> Self {
        PgConfig {
            day_time_zone: zone.to_owned(),
            ..self.clone()
        }
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

    /// The same settings with one host, `host:port` (a test's proxy, say).
    pub fn with_host(&self, host: &str, port: u16) -> Self {
        PgConfig {
            hosts: vec![(host.to_owned(), port)],
            ..self.clone()
        }
    }

    /// The `postgres` client configuration (TLS is set up by [`crate::Warehouse`]).
    pub fn client_config(&self) -> postgres::Config {
        let mut config = postgres::Config::new();
        for (host, port) in &self.hosts {
            config.host(host).port(*port);
        }
        config
            .target_session_attrs(match self.target_session_attrs {
                SessionAttrs::ReadWrite => postgres::config::TargetSessionAttrs::ReadWrite,
                SessionAttrs::Any => postgres::config::TargetSessionAttrs::Any,
            })
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

/// A [`PgConfig`] made in code ([`PgConfig::builder`]), without the environment.
#[derive(Clone)]
pub struct PgConfigBuilder {
    hosts: Vec<(String, u16)>,
    dbname: String,
    user: String,
    password: String,
    sslmode: Option<SslMode>,
    sslrootcert: Option<String>,
    target_session_attrs: Option<SessionAttrs>,
    pool_size: Option<u32>,
    connect_timeout: Option<Duration>,
    day_time_zone: Option<String>,
}

impl std::fmt::Debug for PgConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfigBuilder")
            .field("hosts", &self.hosts)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl PgConfigBuilder {
    /// The password (empty: none).
    pub fn password(self, password: impl Into<String>) -> Self {
        PgConfigBuilder {
            password: password.into(),
            ..self
        }
    }

    /// TLS, with the CA file `verify-ca` and `verify-full` need.
    pub fn sslmode(self, sslmode: SslMode, sslrootcert: Option<String>) -> Self {
        PgConfigBuilder {
            sslmode: Some(sslmode),
            sslrootcert,
            ..self
        }
    }

    /// Which of the hosts a session may use.
    pub fn target_session_attrs(self, attrs: SessionAttrs) -> Self {
        PgConfigBuilder {
            target_session_attrs: Some(attrs),
            ..self
        }
    }

    /// Connections per process.
    pub fn pool_size(self, pool_size: u32) -> Self {
        PgConfigBuilder {
            pool_size: Some(pool_size),
            ..self
        }
    }

    /// The connect timeout.
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        PgConfigBuilder {
            connect_timeout: Some(timeout),
            ..self
        }
    }

    /// The time zone of the daily datamart's days.
    pub fn day_time_zone(self, zone: impl Into<String>) -> Self {
        PgConfigBuilder {
            day_time_zone: Some(zone.into()),
            ..self
        }
    }

    /// The settings; refused as the variables would be (`verify-*` without a CA file, a time
    /// zone that is no zone name).
    pub fn build(self) -> Result<PgConfig, ConfigError> {
        let sslmode = match self.sslmode {
            Some(mode) => mode,
            None => default_of(&vars::PG_WAREHOUSE_SSLMODE)?,
        };
        if matches!(sslmode, SslMode::VerifyCa | SslMode::VerifyFull) && self.sslrootcert.is_none()
        {
            return Err(ConfigError::Missing(format!(
                "{} (required by {}=verify-*)",
                vars::PG_WAREHOUSE_SSLROOTCERT.name,
                vars::PG_WAREHOUSE_SSLMODE.name
            )));
        }
        Ok(PgConfig {
            hosts: self.hosts,
            target_session_attrs: match self.target_session_attrs {
                Some(attrs) => attrs,
                None => default_of(&vars::PG_WAREHOUSE_TARGET_SESSION_ATTRS)?,
            },
            dbname: self.dbname,
            user: self.user,
            password: self.password,
            sslmode,
            sslrootcert: self.sslrootcert,
            pool_size: match self.pool_size {
                Some(size) => size,
                None => default_of(&vars::PG_WAREHOUSE_POOL_SIZE)?,
            },
            connect_timeout: match self.connect_timeout {
                Some(timeout) => timeout,
                None => Duration::from_millis(default_of(&vars::PG_WAREHOUSE_CONNECT_TIMEOUT_MS)?),
            },
            application_name: "vault".to_owned(),
            day_time_zone: match self.day_time_zone {
                Some(zone) => day_time_zone(zone)?,
                None => default_of(&vars::CDM_DAY_TIME_ZONE)?,
            },
        })
    }
}

/// `CDM_DAY_TIME_ZONE`: a time zone name as PostgreSQL knows them (`UTC`, `Europe/Moscow`,
/// `Etc/GMT-3`). Its shape is checked here; `vault migrate` checks that the server knows it.
fn day_time_zone(zone: String) -> Result<String, ConfigError> {
    let shaped = !zone.is_empty()
        && zone.len() <= 64
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
    if !shaped {
        return Err(ConfigError::Invalid {
            name: vars::CDM_DAY_TIME_ZONE.name.into(),
            value: zone,
            reason: "expected a time zone name such as UTC or Europe/Moscow".into(),
        });
    }
    Ok(zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        vault_core::pipeline::env_from_pairs(pairs)
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
            (
                config.hosts.clone(),
                config.sslmode,
                config.target_session_attrs
            ),
            (
                vec![("db".to_owned(), 6432)],
                SslMode::Prefer,
                SessionAttrs::ReadWrite
            )
        );
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    /// A managed cluster's hosts, each with its port or `PG_WAREHOUSE_PORT`, in order; the
    /// client tries them in that order for a server that takes writes.
    #[test]
    fn several_hosts_for_a_cluster() {
        let mut vars = BASE.to_vec();
        vars[0] = (
            "PG_WAREHOUSE_HOST",
            "rc1a-x.mdb.yandexcloud.net, rc1b-y.mdb.yandexcloud.net:6433,[::1]",
        );
        vars.push(("PG_WAREHOUSE_TARGET_SESSION_ATTRS", "any"));
        let config = PgConfig::from_env(&env(&vars)).expect("valid");
        assert_eq!(
            config.hosts,
            [
                ("rc1a-x.mdb.yandexcloud.net".to_owned(), 6432),
                ("rc1b-y.mdb.yandexcloud.net".to_owned(), 6433),
                ("::1".to_owned(), 6432),
            ]
        );
        assert_eq!(config.target_session_attrs, SessionAttrs::Any);
        let client = config.client_config();
        assert_eq!(client.get_ports(), [6432, 6433, 6432]);
        assert_eq!(client.get_hosts().len(), 3);
        assert_eq!(
            client.get_target_session_attrs(),
            postgres::config::TargetSessionAttrs::Any
        );
        for (bad, says) in [
            ("db,,db2", "an empty host"),
            ("db:0", "is not a port"),
            ("db:x", "is not a port"),
        ] {
            vars[0] = ("PG_WAREHOUSE_HOST", bad);
            let err = PgConfig::from_env(&env(&vars)).expect_err(bad);
            assert!(
                err.to_string()
                    .starts_with("configuration: PG_WAREHOUSE_HOST=")
                    && err.to_string().contains(says),
                "{bad}: {err}"
            );
        }
        vars[0] = ("PG_WAREHOUSE_HOST", "db");
        vars.push(("PG_WAREHOUSE_TARGET_SESSION_ATTRS", "primary"));
        let err = PgConfig::from_env(&env(&vars)).expect_err("libpq-only value");
        assert!(
            err.to_string()
                .starts_with("configuration: PG_WAREHOUSE_TARGET_SESSION_ATTRS=\"primary\""),
            "{err}"
        );
    }

    #[test]
    fn day_time_zone_defaults_to_utc_and_rejects_what_is_no_zone_name() {
        let config = PgConfig::from_env(&env(&BASE)).expect("valid");
        assert_eq!(config.day_time_zone, "UTC");
        let mut vars = BASE.to_vec();
        vars.push(("CDM_DAY_TIME_ZONE", "America/Argentina/Buenos_Aires"));
        let config = PgConfig::from_env(&env(&vars)).expect("valid");
        assert_eq!(config.day_time_zone, "America/Argentina/Buenos_Aires");
        for bad in ["Europe/Moscow'; DROP", "UTC 3", &"x".repeat(65)] {
            vars.pop();
            vars.push(("CDM_DAY_TIME_ZONE", bad));
            let err = PgConfig::from_env(&env(&vars)).expect_err(bad);
            assert!(
                err.to_string()
                    .starts_with("configuration: CDM_DAY_TIME_ZONE="),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_builder_takes_the_declared_defaults() {
        let built = PgConfig::builder(vec![("db".to_owned(), 6432)], "de", "etl")
            .password("s3cret")
            .build()
            .expect("valid");
        assert_eq!(built, PgConfig::from_env(&env(&BASE)).expect("valid"));
        let err = PgConfig::builder(vec![("db".to_owned(), 6432)], "de", "etl")
            .sslmode(SslMode::VerifyFull, None)
            .build()
            .expect_err("no CA");
        assert!(
            err.to_string().contains("PG_WAREHOUSE_SSLROOTCERT"),
            "{err}"
        );
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
