//! The services' log lines: one JSON object per line, `{"timestamp", "level", "fields",
//! "target"}`, as tracing-subscriber's JSON format writes them, except for the lines of crates
//! that log through the `log` crate (librdkafka's, the PostgreSQL driver's notices): their
//! `log.file`, `log.line` and `log.module_path` fields, source paths of the machine that built
//! the binary, are left out, and `target` is the crate's own (`log.target`), not `log`.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter of [`super::init_logging`].
#[derive(Debug, Default)]
pub(super) struct JsonLines;

/// An event's fields as JSON values, without the `log.*` ones.
#[derive(Default)]
struct Fields {
    values: Map<String, Value>,
    log_target: Option<String>,
}

impl Fields {
    fn insert(&mut self, field: &Field, value: Value) {
        match field.name() {
            "log.target" => self.log_target = value.as_str().map(str::to_owned),
            name if name.starts_with("log.") => {}
            name => {
                self.values
                    .insert(name.trim_start_matches("r#").to_owned(), value);
            }
        }
    }
}

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let target = fields
            .log_target
            .take()
            .unwrap_or_else(|| meta.target().to_owned());
        let json = |value: Value| serde_json::to_string(&value).map_err(|_| fmt::Error);
        writeln!(
            writer,
            r#"{{"timestamp":{},"level":{},"fields":{},"target":{}}}"#,
            json(timestamp.into())?,
            json(meta.level().as_str().into())?,
            json(Value::Object(fields.values))?,
            json(target.into())?,
        )
    }
}
