//! The compiled policy: per stream, its steps (one per allow-listed field or header), attribute
//! slots and tags, built once from the plain description `privlog._native.describe` makes.

use std::collections::HashMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::address::Truncate;
use crate::keyed::Action;
use crate::otlp;
use crate::shapes::Shape;
use crate::text::{CookieFinder, QueryFilter};
use crate::value::Value;

/// Where a step reads a value that Python reads from `Facts`/`Capture`.
pub enum Step {
    Duration(usize),
    Method(usize),
    Scheme(usize),
    HttpVersion(usize),
    Status(usize),
    RequestBytes(usize),
    ResponseBytes(usize),
    ClientPort(usize),
    ClientKeep(usize),
    ClientTruncate(usize, Truncate),
    ClientKeyed(usize, usize),
    UserIdKeep(usize),
    UserIdKeyed(usize, usize),
    SessionKeep(usize, CookieFinder),
    SessionKeyed(usize, CookieFinder, usize),
    Location,
    PathKeep(usize),
    PathScrub(usize),
    PathTemplate(usize, usize),
    UaKeep(usize),
    UaGeneralise([usize; 4]),
    HeaderKeep(usize, usize),
    HeaderShaped(usize, usize, Shape),
    HeaderOrigin(usize, usize),
    HeaderLanguage(usize, usize),
    HeaderKeyed(usize, usize, usize),
    Query(usize, QueryFilter),
    /// A last-visit subject: the raw value pseudonymised under the subject key, which does
    /// not rotate (slot, index of the (action, domain) pair).
    SubjectUser(usize, usize),
    SubjectSession(usize, CookieFinder, usize),
    SubjectClient(usize, usize),
}

impl Step {
    pub fn is_subject(&self) -> bool {
        matches!(self, Step::SubjectUser(..) | Step::SubjectSession(..) | Step::SubjectClient(..))
    }
}

/// One attribute name: its text and its encodings, made once.
pub struct Slot {
    pub otlp_key: Vec<u8>,
    pub json_key: Vec<u8>,
    /// A request header: its text goes over OTLP as a list of one string.
    pub header: bool,
}

pub struct Stream {
    pub name: String,
    pub events: Vec<String>,
    pub consent_gated: bool,
    pub uses_key: bool,
    pub ttl_ns: i128,
    pub steps: Vec<Step>,
    pub slots: Vec<Slot>,
    pub websocket: [usize; 7],
    pub incomplete: usize,
    pub expires_at: usize,
    /// The tags' OTLP attribute fields and JSON members (`,"k":v` each), key id excluded.
    pub tags_otlp: Vec<u8>,
    pub tags_json: Vec<u8>,
    pub key_id_head: Vec<u8>,
    pub summary: crate::summary::Slots,
}

pub const WS_COUNTERS: [&str; 5] = ["messages_in", "messages_out", "bytes_in", "bytes_out", "close_code"];

/// Header names (lower case, as the reader's picked headers have them) indexed once.
#[derive(Default)]
pub struct Headers {
    pub names: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
}

impl Headers {
    pub fn id(&mut self, name: &[u8]) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.names.push(name.to_vec());
        self.index.insert(name.to_vec(), self.names.len() - 1);
        self.names.len() - 1
    }

    pub fn get(&self, name: &[u8]) -> Option<usize> {
        self.index.get(name).copied()
    }
}

pub struct Layout {
    slots: Vec<Slot>,
    by_key: HashMap<String, usize>,
}

impl Layout {
    fn new() -> Layout {
        Layout { slots: Vec::new(), by_key: HashMap::new() }
    }

    /// The slot of `key`: a key written twice keeps its first place, as in a dict.
    fn slot(&mut self, key: &str) -> usize {
        if let Some(&i) = self.by_key.get(key) {
            return i;
        }
        let mut json_key = Vec::new();
        crate::jsonl::string(key, &mut json_key);
        json_key.push(b':');
        self.slots.push(Slot { otlp_key: otlp::key_head(key), json_key, header: key.starts_with("http.request.header.") });
        self.by_key.insert(key.to_owned(), self.slots.len() - 1);
        self.slots.len() - 1
    }
}

fn opt<'py, T: FromPyObject<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<T>> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => Ok(Some(v.extract()?)),
        _ => Ok(None),
    }
}

fn req<'py, T: FromPyObject<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    opt(d, key)?.ok_or_else(|| PyValueError::new_err(format!("policy description lacks {key}")))
}

fn action(name: &str) -> PyResult<Action> {
    Action::parse(name).ok_or_else(|| PyValueError::new_err(format!("unknown keyed action {name}")))
}

/// The index of a keyed (action, domain) pair, which every epoch derives a function for.
fn use_index(uses: &mut Vec<(Action, String)>, action: Action, domain: &str) -> PyResult<usize> {
    let pair = (action, domain.to_owned());
    Ok(match uses.iter().position(|u| *u == pair) {
        Some(i) => i,
        None => {
            uses.push(pair);
            uses.len() - 1
        }
    })
}

/// A declared shape: "int", "uuid" or the list of values to keep.
fn shape(spec: &Bound<'_, PyAny>) -> PyResult<Shape> {
    let parsed = match spec.extract::<String>() {
        Ok(name) => Shape::parse(Some(name), None),
        Err(_) => Shape::parse(None, Some(spec.extract::<Vec<String>>()?)),
    };
    parsed.ok_or_else(|| PyValueError::new_err("unknown shape"))
}

pub fn scalar(v: &Bound<'_, PyAny>) -> PyResult<Value> {
    crate::facts::value(v)?.ok_or_else(|| PyValueError::new_err("tag values are str or int"))
}

impl Stream {
    /// Compile one stream's description; `uses` collects the (action, domain) pairs keys serve.
    pub fn compile(
        d: &Bound<'_, PyDict>,
        headers: &mut Headers,
        uses: &mut Vec<(Action, String)>,
    ) -> PyResult<Stream> {
        let mut layout = Layout::new();
        layout.slot("event.name");
        let mut steps = Vec::new();
        let fields: Bound<'_, PyList> = req(d, "fields")?;
        for item in fields.iter() {
            let (name, act, options): (String, String, Bound<'_, PyDict>) = item.extract()?;
            let keyed = |uses: &mut Vec<(Action, String)>, domain: &str| use_index(uses, action(&act)?, domain);
            let step = match name.as_str() {
                "timestamp" => continue,
                "duration" => Step::Duration(layout.slot("http.server.request.duration")),
                "method" => Step::Method(layout.slot("http.request.method")),
                "scheme" => Step::Scheme(layout.slot("url.scheme")),
                "http_version" => Step::HttpVersion(layout.slot("network.protocol.version")),
                "status" => Step::Status(layout.slot("http.response.status_code")),
                "request_bytes" => {
                    headers.id(b"content-length");
                    Step::RequestBytes(layout.slot("http.request.body.size"))
                }
                "response_bytes" => Step::ResponseBytes(layout.slot("http.response.body.size")),
                "client_port" => Step::ClientPort(layout.slot("client.port")),
                "client_ip" => match act.as_str() {
                    "keep" => Step::ClientKeep(layout.slot("client.address")),
                    "truncate" => Step::ClientTruncate(
                        layout.slot("client.address"),
                        Truncate::new(req(&options, "ipv4_prefix")?, req(&options, "ipv6_prefix")?),
                    ),
                    // Not client.address: geo-IP enrichment would look a hash up as an address.
                    _ => Step::ClientKeyed(layout.slot("privlog.client.address"), keyed(uses, "client_ip")?),
                },
                "user_id" => {
                    let s = layout.slot("user.id");
                    if act == "keep" { Step::UserIdKeep(s) } else { Step::UserIdKeyed(s, keyed(uses, "user_id")?) }
                }
                "session_id" => {
                    headers.id(b"cookie");
                    let s = layout.slot("session.id");
                    let finder = CookieFinder::new(&req::<String>(&options, "cookie")?);
                    if act == "keep" {
                        Step::SessionKeep(s, finder)
                    } else {
                        Step::SessionKeyed(s, finder, keyed(uses, "session_id")?)
                    }
                }
                "location" => Step::Location,
                "path" => match act.as_str() {
                    "keep" => Step::PathKeep(layout.slot("url.path")),
                    "scrub" => Step::PathScrub(layout.slot("url.path")),
                    _ => {
                        let route = layout.slot("http.route");
                        Step::PathTemplate(route, layout.slot("url.path"))
                    }
                },
                "user_agent" => {
                    headers.id(b"user-agent");
                    if act == "keep" {
                        Step::UaKeep(layout.slot("user_agent.original"))
                    } else {
                        Step::UaGeneralise([
                            layout.slot("user_agent.name"),
                            layout.slot("user_agent.version"),
                            layout.slot("user_agent.os.name"),
                            layout.slot("privlog.device.class"),
                        ])
                    }
                }
                "referrer" => {
                    let h = headers.id(b"referer");
                    let s = layout.slot("http.request.header.referer");
                    if act == "origin" { Step::HeaderOrigin(h, s) } else { Step::HeaderKeep(h, s) }
                }
                "language" => Step::HeaderLanguage(headers.id(b"accept-language"), layout.slot("privlog.language")),
                "query" => {
                    let values: HashMap<String, Bound<'_, PyAny>> = req(&options, "values")?;
                    let mut shapes = HashMap::new();
                    for (name, spec) in values {
                        shapes.insert(name, shape(&spec)?);
                    }
                    Step::Query(layout.slot("url.query"), QueryFilter::new(req(&options, "allow")?, shapes))
                }
                other => return Err(PyValueError::new_err(format!("unknown field {other}"))),
            };
            steps.push(step);
        }
        let stream_headers: Vec<(String, String, Bound<'_, PyAny>)> = req(d, "headers")?;
        for (name, act, spec) in stream_headers {
            let h = headers.id(name.as_bytes());
            let s = layout.slot(&format!("http.request.header.{name}"));
            steps.push(if act == "keep" {
                Step::HeaderShaped(h, s, shape(&spec)?)
            } else {
                Step::HeaderKeyed(h, s, use_index(uses, action(&act)?, &format!("header:{name}"))?)
            });
        }
        if let Some((field, cookie)) = opt::<(String, Option<String>)>(d, "subject")? {
            let s = layout.slot("privlog.retention.subject_id");
            let index = use_index(uses, Action::Pseudonymise, &format!("subject:{field}"))?;
            steps.push(match field.as_str() {
                "user_id" => Step::SubjectUser(s, index),
                "session_id" => {
                    headers.id(b"cookie");
                    let cookie = cookie.ok_or_else(|| PyValueError::new_err("a session subject needs its cookie"))?;
                    Step::SubjectSession(s, CookieFinder::new(&cookie), index)
                }
                "client_ip" => Step::SubjectClient(s, index),
                other => return Err(PyValueError::new_err(format!("unknown subject field {other}"))),
            });
        }
        let consent_gated: bool = req(d, "consent_gated")?;
        if consent_gated {
            headers.id(b"sec-gpc");
            headers.id(b"dnt");
        }
        let mut websocket = [0usize; 7];
        websocket[0] = layout.slot("privlog.session.start");
        websocket[1] = layout.slot("privlog.session.end");
        for (i, key) in WS_COUNTERS.iter().enumerate() {
            websocket[2 + i] = layout.slot(&format!("privlog.websocket.{key}"));
        }
        let incomplete = layout.slot("privlog.incomplete");
        let expires_at = layout.slot("privlog.retention.expires_at");
        let mut tags_otlp = Vec::new();
        let mut tags_json = Vec::new();
        let tags: Vec<(String, Bound<'_, PyAny>)> = req(d, "tags")?;
        for (key, value) in tags {
            let value = scalar(&value)?;
            otlp::attribute(&otlp::key_head(&key), &value, false, &mut tags_otlp);
            tags_json.push(b',');
            crate::jsonl::string(&key, &mut tags_json);
            tags_json.push(b':');
            crate::jsonl::value(&value, &mut tags_json);
        }
        let find = |key: &str| layout.by_key.get(key).copied();
        let summary = crate::summary::Slots {
            method: find("http.request.method"),
            route: find("http.route"),
            path: find("url.path"),
            status: find("http.response.status_code"),
            incomplete: find("privlog.incomplete"),
            duration: find("http.server.request.duration"),
            close_code: find("privlog.websocket.close_code"),
            messages_in: find("privlog.websocket.messages_in"),
            messages_out: find("privlog.websocket.messages_out"),
        };
        let days: i128 = req(d, "retention_days")?;
        Ok(Stream {
            name: req(d, "name")?,
            events: req(d, "events")?,
            consent_gated,
            uses_key: req(d, "uses_key")?,
            ttl_ns: days * 86_400 * 1_000_000_000,
            steps,
            slots: layout.slots,
            websocket,
            incomplete,
            expires_at,
            tags_otlp,
            tags_json,
            key_id_head: otlp::key_head("privlog.key_id"),
            summary,
        })
    }
}
