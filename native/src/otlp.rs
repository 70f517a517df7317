//! OTLP protobuf wire encoding, byte for byte as `privlog.sinks._otlp_encode.LogEncoder`.
//!
//! Field numbers follow opentelemetry-proto (`logs/v1/logs.proto`, `common/v1/common.proto`).

use crate::value::Value;

const TIME: u8 = 0x09;
const OBSERVED: u8 = 0x59;
const BODY: u8 = 0x2a;
const EVENT_NAME: u8 = 0x62;
const ATTR: u8 = 0x32;

pub fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n > 0x7f {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n > 0x7f {
        n >>= 7;
        len += 1;
    }
    len
}

fn field(tag: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// The KeyValue.key field of a key: encoded once per attribute name.
pub fn key_head(key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    field(0x0a, key.as_bytes(), &mut out);
    out
}

/// One LogRecord.attributes field (nothing for a value the encoder leaves out); a request
/// header's text is sent as a list of one string, as the semantic conventions have it.
pub fn attribute(key_head: &[u8], value: &Value, header: bool, out: &mut Vec<u8>) {
    let mut any = [0u8; 11];
    let any: &[u8] = match value {
        Value::Str(s) if header => {
            let n = s.len();
            let inner = 1 + varint_len(n as u64) + n;
            let array = 1 + varint_len(inner as u64) + inner;
            let any_len = 1 + varint_len(array as u64) + array;
            out.push(ATTR);
            varint((key_head.len() + 1 + varint_len(any_len as u64) + any_len) as u64, out);
            out.extend_from_slice(key_head);
            out.push(0x12);
            varint(any_len as u64, out);
            out.push(0x2a);
            varint(array as u64, out);
            out.push(0x0a);
            varint(inner as u64, out);
            out.push(0x0a);
            varint(n as u64, out);
            out.extend_from_slice(s.as_bytes());
            return;
        }
        Value::Str(s) => {
            let n = s.len();
            let any_len = n + 1 + varint_len(n as u64);
            out.push(ATTR);
            varint((key_head.len() + 1 + varint_len(any_len as u64) + any_len) as u64, out);
            out.extend_from_slice(key_head);
            out.push(0x12);
            varint(any_len as u64, out);
            out.push(0x0a);
            varint(n as u64, out);
            out.extend_from_slice(s.as_bytes());
            return;
        }
        Value::Int(v) if *v < i64::MIN as i128 || *v > i64::MAX as i128 => {
            return attribute(key_head, &Value::Str(v.to_string()), false, out); // as Python: no silent truncation
        }
        Value::Int(v) => {
            let mut buf = Vec::with_capacity(11);
            buf.push(0x18);
            varint(*v as i64 as u64, &mut buf);
            let n = buf.len();
            any[..n].copy_from_slice(&buf);
            &any[..n]
        }
        Value::Float(f) => {
            any[0] = 0x21;
            any[1..9].copy_from_slice(&f.to_le_bytes());
            &any[..9]
        }
        Value::Bool(b) => {
            any[0] = 0x10;
            any[1] = *b as u8;
            &any[..2]
        }
    };
    out.push(ATTR);
    varint((key_head.len() + 1 + varint_len(any.len() as u64) + any.len()) as u64, out);
    out.extend_from_slice(key_head);
    out.push(0x12);
    varint(any.len() as u64, out);
    out.extend_from_slice(any);
}

/// The record's head: times, severity, body line and event name (an HTTP request's event name
/// comes before its body, as the Python encoder caches them).
pub fn record_head(
    timestamp_ns: u64,
    observed_ns: u64,
    event: &str,
    severity: (u8, &str),
    body: &str,
    out: &mut Vec<u8>,
) {
    out.push(TIME);
    out.extend_from_slice(&timestamp_ns.to_le_bytes());
    out.push(OBSERVED);
    out.extend_from_slice(&observed_ns.to_le_bytes());
    out.push(0x10); // severity_number
    varint(severity.0 as u64, out);
    field(0x1a, severity.1.as_bytes(), out); // severity_text
    let mut inner = Vec::with_capacity(body.len() + 3);
    field(0x0a, body.as_bytes(), &mut inner);
    if event == "http.request" {
        field(EVENT_NAME, event.as_bytes(), out);
        field(BODY, &inner, out);
    } else {
        field(BODY, &inner, out);
        field(EVENT_NAME, event.as_bytes(), out);
    }
}

/// ScopeLogs.log_records field of an encoded record.
pub fn record_chunk(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    field(0x12, payload, &mut out);
    out
}

/// The ExportLogsServiceRequest around the records, with Python's resource and scope bytes.
pub fn request<'a>(resource: &[u8], scope: &[u8], chunks: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let size: usize = scope.len() + chunks.clone().map(<[u8]>::len).sum::<usize>();
    let mut scope_logs = vec![0x12];
    varint(size as u64, &mut scope_logs);
    let resource_logs = resource.len() + scope_logs.len() + size;
    let mut out = Vec::with_capacity(resource_logs + 8);
    out.push(0x0a);
    varint(resource_logs as u64, &mut out);
    out.extend_from_slice(resource);
    out.extend_from_slice(&scope_logs);
    out.extend_from_slice(scope);
    for c in chunks {
        out.extend_from_slice(c);
    }
    out
}
