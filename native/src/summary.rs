//! A record's severity and short human line, as `privlog.sinks._summary` makes them for the OTLP
//! encoder: read from the record's attributes after the transforms, never adding anything.

use crate::pyish;
use crate::text::{Res, Unsupported};
use crate::value::Value;

pub const INFO: (u8, &str) = (9, "INFO");
pub const WARN: (u8, &str) = (13, "WARN");
pub const ERROR: (u8, &str) = (17, "ERROR");

/// Where the summary's attributes sit in a stream's record.
#[derive(Default, Clone, Copy)]
pub struct Slots {
    pub method: Option<usize>,
    pub route: Option<usize>,
    pub path: Option<usize>,
    pub status: Option<usize>,
    pub incomplete: Option<usize>,
    pub duration: Option<usize>,
    pub close_code: Option<usize>,
    pub messages_in: Option<usize>,
    pub messages_out: Option<usize>,
}

fn get(v: &[Option<Value>], slot: Option<usize>) -> Option<&Value> {
    slot.and_then(|i| v[i].as_ref())
}

/// `str(value)`; floats are left to Python (its repr is its own).
fn text(value: &Value) -> Res<String> {
    Ok(match value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => (if *b { "True" } else { "False" }).to_owned(),
        Value::Float(_) => return Err(Unsupported),
    })
}

fn http_severity(status: Option<&Value>, incomplete: bool) -> (u8, &'static str) {
    match status {
        _ if incomplete => ERROR,
        Some(Value::Int(s)) if *s >= 500 => ERROR,
        Some(Value::Int(s)) if *s >= 400 => WARN,
        _ => INFO,
    }
}

/// `duration_text`: ``12ms``, ``0.8ms`` or ``3.2s``; empty without a duration.
fn duration_text(value: Option<&Value>) -> String {
    let Some(Value::Float(seconds)) = value else { return String::new() };
    let ms = seconds * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{seconds:.1}s")
    }
}

fn target<'a>(v: &'a [Option<Value>], s: &Slots) -> Option<&'a Value> {
    get(v, s.route).or_else(|| get(v, s.path))
}

/// (severity number, severity text, body line) of a record named `name`.
pub fn summary(name: &str, v: &[Option<Value>], s: &Slots) -> Res<((u8, &'static str), String)> {
    let incomplete = matches!(get(v, s.incomplete), Some(Value::Bool(true)));
    let status = get(v, s.status);
    let duration = duration_text(get(v, s.duration));
    if name == "http.request" {
        let mut head = String::new();
        for part in [get(v, s.method), target(v, s), status].into_iter().flatten() {
            head.push_str(&text(part)?);
            head.push(' ');
        }
        let line = if !duration.is_empty() {
            head + &duration
        } else {
            let trimmed = head.trim_end_matches(pyish::is_space);
            if trimmed.is_empty() { name.to_owned() } else { trimmed.to_owned() }
        };
        return Ok((http_severity(status, incomplete), line));
    }
    let close = get(v, s.close_code);
    let severity = if name == "auth.login_failure" {
        WARN
    } else if matches!(close, Some(Value::Int(c)) if (1011..=1014).contains(c)) {
        ERROR
    } else {
        http_severity(status, incomplete)
    };
    let mut parts: Vec<String> = Vec::new();
    if name == "websocket.session" {
        parts.push("websocket".into());
        for part in [target(v, s), close].into_iter().flatten() {
            parts.push(text(part)?);
        }
        if !duration.is_empty() {
            parts.push(duration);
        }
        for (key, slot) in [("in", s.messages_in), ("out", s.messages_out)] {
            if let Some(count) = get(v, slot) {
                parts.push(format!("{key}={}", text(count)?));
            }
        }
    } else {
        parts.push(name.to_owned());
        for part in [get(v, s.method), target(v, s), status].into_iter().flatten() {
            parts.push(text(part)?);
        }
    }
    Ok((severity, parts.join(" ")))
}
