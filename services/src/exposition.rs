//! The one reader of the Prometheus text exposition the services serve on `/metrics`: used by
//! `vault watch`, the integration tests and the benches. Metric names are in
//! [`crate::ops::names`].

/// One sample line: `name{label="value",…} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (`vault_messages_produced_total`, `…_bucket`, `…_sum`, …).
    pub name: String,
    /// Its labels, in the order written, values unescaped.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample of an exposition; comments, blank lines and lines that do not parse are
/// skipped (a scrape is for display and checks, never for control).
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

/// The sum of the samples named `name` over all label values, `None` if there is none.
pub fn sum(samples: &[Sample], name: &str) -> Option<f64> {
    let mut found = false;
    let total = samples
        .iter()
        .filter(|s| s.name == name)
        .inspect(|_| found = true)
        .map(|s| s.value)
        .sum();
    found.then_some(total)
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    // The value, then an optional timestamp.
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    (!name.is_empty()).then(|| Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y\"z"}` → the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let (name, rest) = s.split_once('=')?;
        let mut chars = rest.strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((name.trim().to_owned(), value));
        s = &rest[1 + end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_labels_and_sums() {
        let text = "# HELP vault_x_total X\n# TYPE vault_x_total counter\n\
                    vault_x_total{reason=\"invalid_json\",service=\"s\"} 2\n\
                    vault_x_total{reason=\"a \\\"quoted\\\", comma\",service=\"s\"} 3\n\
                    vault_y 1.5 1700000000000\n\
                    vault_h_bucket{le=\"+Inf\"} 7\n\
                    garbage line\n";
        let samples = parse(text);
        assert_eq!(samples.len(), 4);
        assert_eq!(sum(&samples, "vault_x_total"), Some(5.0));
        assert_eq!(sum(&samples, "vault_y"), Some(1.5));
        assert_eq!(sum(&samples, "vault_missing"), None);
        assert_eq!(samples[1].label("reason"), Some("a \"quoted\", comma"));
        assert_eq!(samples[1].label("service"), Some("s"));
        assert_eq!(samples[3].label("le"), Some("+Inf"));
    }
}
