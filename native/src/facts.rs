//! The raw facts of one capture, copied out of the tuple `privlog._native` builds (with the GIL
//! held) so that the transforms can run without it. A fact the compiled path does not handle
//! exactly like Python (a lone surrogate, an int beyond 128 bits, an unknown type) makes the
//! whole capture go back to Python.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString, PyTuple};

use crate::address::Packed;
use crate::policy::{Headers, WS_COUNTERS};
use crate::pyish::has_other_digit;
use crate::text::Unsupported;
use crate::value::Value;

pub enum Client {
    Absent,
    Invalid,
    Address(Packed),
}

pub enum Extra {
    Absent,
    Websocket([Option<Value>; 5]),
    Auth(String),
    /// Any other kind: whether the response was cut short.
    Other { incomplete: bool },
}

pub struct Facts {
    pub kind: String,
    pub start_ns: i128,
    pub duration_ns: i128,
    pub status: Option<Value>,
    pub request_bytes: Option<Value>,
    pub response_bytes: Option<Value>,
    pub user_id: Option<String>,
    pub extra: Extra,
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub http_version: Option<String>,
    pub path: Option<String>,
    pub route: Option<String>,
    pub query: Vec<u8>,
    pub client: Client,
    pub client_port: Option<Value>,
    pub headers: Vec<Option<String>>,
    pub epoch: i64,
}

/// An int as i128 (None beyond): through i64 first, which abi3 reads directly; i128 takes
/// Python arithmetic there.
fn wide(v: &Bound<'_, PyAny>) -> Option<i128> {
    match v.extract::<i64>() {
        Ok(x) => Some(x as i128),
        Err(_) => v.extract::<i128>().ok(),
    }
}

/// A scalar attribute value; Ok(None) for a type the compiled path leaves to Python.
pub fn value(v: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    if v.is_instance_of::<PyBool>() {
        return Ok(Some(Value::Bool(v.is_truthy()?)));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(wide(v).map(Value::Int));
    }
    if let Ok(f) = v.downcast::<PyFloat>() {
        return Ok(Some(Value::Float(f.value())));
    }
    if let Ok(s) = v.downcast::<PyString>() {
        return Ok(s.to_str().ok().map(|s| Value::Str(s.to_owned())));
    }
    Ok(None)
}

type R<T> = Result<T, Unsupported>;

pub(crate) fn text(v: &Bound<'_, PyAny>) -> R<Option<String>> {
    if v.is_none() {
        return Ok(None);
    }
    let s = v.downcast::<PyString>().map_err(|_| Unsupported)?;
    Ok(Some(s.to_str().map_err(|_| Unsupported)?.to_owned()))
}

pub(crate) fn scalar(v: &Bound<'_, PyAny>) -> R<Option<Value>> {
    if v.is_none() {
        return Ok(None);
    }
    match value(v) {
        Ok(Some(x)) => Ok(Some(x)),
        _ => Err(Unsupported),
    }
}

pub(crate) fn int(v: &Bound<'_, PyAny>) -> R<i128> {
    if !v.is_instance_of::<PyInt>() || v.is_instance_of::<PyBool>() {
        return Err(Unsupported);
    }
    wide(v).ok_or(Unsupported)
}

pub(crate) fn extra(kind: &str, v: &Bound<'_, PyAny>) -> R<Extra> {
    if v.is_none() {
        return Ok(Extra::Absent);
    }
    match kind {
        "websocket" => {
            let mut out: [Option<Value>; 5] = Default::default();
            for (i, key) in WS_COUNTERS.iter().enumerate() {
                let got = v.call_method1("get", (*key,)).map_err(|_| Unsupported)?;
                out[i] = scalar(&got)?;
            }
            Ok(Extra::Websocket(out))
        }
        "auth" => {
            let event = v.get_item("event").map_err(|_| Unsupported)?;
            Ok(Extra::Auth(text(&event)?.ok_or(Unsupported)?))
        }
        _ => {
            let flag = v.call_method1("get", ("incomplete",)).map_err(|_| Unsupported)?;
            Ok(Extra::Other { incomplete: flag.is_truthy().map_err(|_| Unsupported)? })
        }
    }
}

impl Facts {
    /// The facts of one capture's tuple (see `privlog._native.facts_of`).
    pub fn extract(t: &Bound<'_, PyAny>, header_ids: &Headers) -> R<Facts> {
        let t = t.downcast::<PyTuple>().map_err(|_| Unsupported)?;
        if t.len() != 18 {
            return Err(Unsupported);
        }
        let g = |i: usize| t.get_item(i).map_err(|_| Unsupported);
        let kind = text(&g(0)?)?.ok_or(Unsupported)?;
        let mut headers = vec![None; header_ids.names.len()];
        let raw = g(16)?;
        let dict = raw.downcast::<PyDict>().map_err(|_| Unsupported)?;
        for (name, value) in dict.iter() {
            let name = name.downcast::<PyBytes>().map_err(|_| Unsupported)?;
            if let Some(id) = header_ids.get(name.as_bytes()) {
                let value = text(&value)?.ok_or(Unsupported)?;
                if has_other_digit(&value) {
                    return Err(Unsupported);
                }
                headers[id] = Some(value);
            }
        }
        let client_obj = g(14)?;
        let client = if client_obj.is_none() {
            Client::Absent
        } else if client_obj.is_instance_of::<PyString>() {
            Client::Invalid
        } else {
            let b = client_obj.downcast::<PyBytes>().map_err(|_| Unsupported)?;
            Client::Address(Packed::from_slice(b.as_bytes()).ok_or(Unsupported)?)
        };
        let query_obj = g(13)?;
        let query = query_obj.downcast::<PyBytes>().map_err(|_| Unsupported)?.as_bytes().to_vec();
        let path = text(&g(11)?)?;
        if path.as_deref().is_some_and(has_other_digit) {
            return Err(Unsupported);
        }
        Ok(Facts {
            extra: extra(&kind, &g(7)?)?,
            kind,
            start_ns: int(&g(1)?)?,
            duration_ns: int(&g(2)?)?,
            status: scalar(&g(3)?)?,
            request_bytes: scalar(&g(4)?)?,
            response_bytes: scalar(&g(5)?)?,
            user_id: text(&g(6)?)?,
            method: text(&g(8)?)?,
            scheme: text(&g(9)?)?,
            http_version: text(&g(10)?)?,
            path,
            route: text(&g(12)?)?,
            query,
            client,
            client_port: scalar(&g(15)?)?,
            headers,
            epoch: g(17)?.extract::<i64>().map_err(|_| Unsupported)?,
        })
    }
}
