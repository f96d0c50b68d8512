//! How a sample is spelled in the Prometheus text format: label values escaped, numbers in
//! their shortest exact form, one `# HELP`/`# TYPE` header per family.

use std::time::{SystemTime, UNIX_EPOCH};

/// Longest raw API string we put in a label (`branch` may be 200 bytes; names up to 200).
pub const MAX_LABEL_LEN: usize = 128;

/// `(name, help)` of a metric.
pub(crate) struct Spec {
    pub name: &'static str,
    pub help: &'static str,
}

/// `text` cut to at most `max` bytes on a character boundary.
pub fn bounded(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

pub(super) fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Appends `value` as a label value of the text format: `\`, `"` and newlines escaped.
pub(super) fn push_label_value(out: &mut String, value: &str) {
    // Nearly every value needs no escape; copying it whole is several times faster than
    // pushing it character by character.
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends a sample value: whole numbers without a fraction, others in the shortest form that
/// reads back to the same number, infinities and NaN as the text format spells them. itoa and
/// ryu (serde_json's own formatters) are several times faster than `core::fmt` here, which is
/// most of a 10,000-repository scrape's CPU.
pub(super) fn push_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(value as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(value));
    }
}

pub(super) fn push_header(out: &mut String, spec: &Spec) {
    out.push_str("# HELP ");
    out.push_str(spec.name);
    out.push(' ');
    for c in spec.help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(spec.name);
    out.push_str(" gauge\n");
}

/// Sample lines as they are written: whole, and for the text cache also without their
/// prefix (`name{labels`), which every line of one repository in one family shares. The cache
/// keeps only the rest and [`assemble`] puts the prefixes back.
pub(super) struct Lines {
    pub(super) whole: String,
    /// The lines without their prefixes, when kept for the text cache.
    pub(super) rest: Option<String>,
    /// Lines written since [`Lines::take_count`].
    count: u8,
}

impl Lines {
    /// Whole lines only.
    pub(super) fn whole() -> Self {
        Self {
            whole: String::new(),
            rest: None,
            count: 0,
        }
    }

    /// Whole lines, and the same lines without their prefixes.
    pub(super) fn with_rest() -> Self {
        Self {
            rest: Some(String::new()),
            ..Self::whole()
        }
    }

    /// How many lines were written since the last call.
    pub(super) fn take_count(&mut self) -> u8 {
        std::mem::take(&mut self.count)
    }
}

/// One sample line: `name{<labels>[,extra]} value`.
pub(super) fn push_sample(
    out: &mut Lines,
    spec: &Spec,
    labels: &str,
    extra: &[(&str, &str)],
    value: f64,
) {
    push_prefix(&mut out.whole, spec, labels);
    let start = out.whole.len();
    push_rest(&mut out.whole, labels.is_empty(), extra, value);
    if let Some(rest) = &mut out.rest {
        rest.push_str(&out.whole[start..]);
    }
    out.count = out.count.saturating_add(1);
}

/// The start of a sample line that depends only on the family and the repository.
fn push_prefix(out: &mut String, spec: &Spec, labels: &str) {
    out.push_str(spec.name);
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
    }
}

/// The rest of a sample line after [`push_prefix`].
fn push_rest(out: &mut String, no_labels: bool, extra: &[(&str, &str)], value: f64) {
    let mut open = no_labels;
    for (name, value) in extra {
        out.push(if open { '{' } else { ',' });
        open = false;
        out.push_str(name);
        out.push_str("=\"");
        push_label_value(out, value);
        out.push('"');
    }
    if !open {
        out.push('}');
    }
    out.push(' ');
    push_value(out, value);
    out.push('\n');
}

/// The lines of [`Lines::rest`] with their prefixes put back: `counts[i]` lines for the
/// repository whose identifying labels are `labels(i)`, in order. The same text as
/// [`Lines::whole`] was.
pub(super) fn assemble<'a>(
    spec: &Spec,
    rest: &str,
    counts: &[u8],
    labels: impl Iterator<Item = &'a str> + Clone,
) -> String {
    let prefixes: usize = counts
        .iter()
        .zip(labels.clone())
        .map(|(count, labels)| usize::from(*count) * (spec.name.len() + 1 + labels.len()))
        .sum();
    let mut out = String::with_capacity(prefixes + rest.len());
    let mut rest = rest;
    for (count, labels) in counts.iter().zip(labels) {
        for _ in 0..*count {
            // Label values are escaped: a line's only newline is its end.
            let end = rest.find('\n').map_or(rest.len(), |at| at + 1);
            push_prefix(&mut out, spec, labels);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        }
    }
    out
}
