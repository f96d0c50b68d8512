//! How a sample is spelled in the Prometheus text format: label values escaped, numbers in
//! their shortest exact form, one `# HELP`/`# TYPE` header per family.

use std::time::{SystemTime, UNIX_EPOCH};

/// Longest raw API string we put in a label (`branch` may be 200 bytes; names up to 200).
pub const MAX_LABEL_LEN: usize = 128;

/// `(name, help)` of a metric.
pub struct Spec {
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

/// One sample line: `name{<labels>[,extra]} value`.
pub(super) fn push_sample(
    out: &mut String,
    spec: &Spec,
    labels: &str,
    extra: &[(&str, &str)],
    value: f64,
) {
    out.push_str(spec.name);
    if labels.is_empty() && extra.is_empty() {
        out.push(' ');
        push_value(out, value);
        out.push('\n');
        return;
    }
    out.push('{');
    out.push_str(labels);
    for (name, value) in extra {
        if !out.ends_with('{') {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        push_label_value(out, value);
        out.push('"');
    }
    out.push_str("} ");
    push_value(out, value);
    out.push('\n');
}
