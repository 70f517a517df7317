//! A batch: each capture's records for each stream that takes it, as `Pipeline.process` makes
//! them, encoded for the OTLP sink and the JSONL store while the GIL is released.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::facts::{Client, Extra, Facts};
use crate::jsonl;
use crate::keyed::{Action, EpochKeys};
use crate::otlp;
use crate::policy::{Step, Stream};
use crate::pyish::{char_len, prefix};
use crate::text::{origin, primary_language, scrub_path, Res, Unsupported};
use crate::useragent::Generaliser;
use crate::value::{recycle, text, Value};

pub const NS_PER_DAY: i128 = 86_400 * 1_000_000_000;
const MAX_TEXT: usize = 1024;
const MAX_PATH: usize = 2048;
const PATH_CACHE: usize = 4096;

/// One encoded record.
pub struct Rec {
    pub stream: usize,
    pub day: i64,
    pub otlp: Vec<u8>,
    pub json: Vec<u8>,
    /// The record's last-visit subject, for the store's index of last visits.
    pub subject: Option<String>,
}

/// The engine's handle of the last-visit subject key (records' epochs are never negative).
pub const SUBJECT_EPOCH: i64 = -2;

/// What stays the same across batches: the compiled streams and shared lookups.
pub struct Compiled {
    pub streams: Vec<Stream>,
    pub header_ids: crate::policy::Headers,
    pub uses: Vec<(Action, String)>,
    pub ua: Option<Arc<Generaliser>>,
    pub methods: HashSet<String>,
    pub event_names: HashMap<String, String>,
    pub sec_gpc: Option<usize>,
    pub dnt: Option<usize>,
    pub content_length: Option<usize>,
    pub cookie: Option<usize>,
    pub user_agent: Option<usize>,
    pub paths: Mutex<HashMap<String, Res<String>>>,
}

fn latin1(s: &str) -> Res<Vec<u8>> {
    s.chars().map(|c| if (c as u32) < 256 { Ok(c as u8) } else { Err(Unsupported) }).collect()
}

fn is_one(v: Option<&String>) -> bool {
    v.is_some_and(|v| crate::pyish::strip(v) == "1")
}

/// About the length of a record's JSONL line, so that it is written without growing.
fn json_size(stream: &Stream, v: &[Option<Value>]) -> usize {
    let mut size = 96 + stream.tags_json.len();
    for (slot, value) in stream.slots.iter().zip(v) {
        size += match value {
            Some(Value::Str(s)) => slot.json_key.len() + s.len() + 3,
            Some(_) => slot.json_key.len() + 41,
            None => 0,
        };
    }
    size
}

impl Compiled {
    fn scrub(&self, path: &str) -> Res<String> {
        if let Some(found) = self.paths.lock().unwrap().get(path) {
            return found.as_deref().map(text).map_err(|e| *e);
        }
        let out = scrub_path(path);
        let mut cache = self.paths.lock().unwrap();
        if cache.len() >= PATH_CACHE {
            cache.clear();
        }
        cache.insert(path.to_owned(), out.clone());
        out
    }

    fn header<'f>(&self, f: &'f Facts, id: Option<usize>) -> Option<&'f String> {
        id.and_then(|i| f.headers[i].as_ref())
    }

    fn keyed(ring: Option<&EpochKeys>, index: usize, value: &[u8]) -> Res<Value> {
        ring.and_then(|r| r.apply(index, value)).map(Value::Str).ok_or(Unsupported)
    }

    pub(crate) fn apply(&self, step: &Step, f: &Facts, ring: Option<&EpochKeys>, v: &mut [Option<Value>], rejected: &mut usize) -> Res<()> {
        let s = |x: &str| Some(Value::Str(text(x)));
        match step {
            Step::Duration(i) => v[*i] = Some(Value::Float(f.duration_ns as f64 / 1e9)),
            Step::Method(i) => {
                if let Some(m) = &f.method {
                    v[*i] = if self.methods.contains(m) { s(m) } else { s("_OTHER") };
                }
            }
            Step::Scheme(i) => v[*i] = f.scheme.as_deref().and_then(s),
            Step::HttpVersion(i) => v[*i] = f.http_version.as_deref().and_then(s),
            Step::Status(i) => v[*i] = f.status.clone(),
            Step::ResponseBytes(i) => v[*i] = f.response_bytes.clone(),
            Step::ClientPort(i) => v[*i] = f.client_port.clone(),
            Step::RequestBytes(i) => {
                if f.request_bytes.is_some() {
                    v[*i] = f.request_bytes.clone();
                } else if let Some(len) = self.header(f, self.content_length) {
                    if !len.is_ascii() {
                        if char_len(len) < 16 {
                            return Err(Unsupported); // str.isdigit() takes more than 0-9
                        }
                    } else if !len.is_empty() && len.len() < 16 && len.bytes().all(|b| b.is_ascii_digit()) {
                        v[*i] = Some(Value::Int(len.parse().map_err(|_| Unsupported)?));
                    }
                }
            }
            Step::ClientKeep(i) | Step::ClientTruncate(i, _) | Step::ClientKeyed(i, _) => match &f.client {
                Client::Absent => {}
                Client::Invalid => v[*i] = s("invalid"),
                Client::Address(p) => {
                    v[*i] = Some(match step {
                        Step::ClientTruncate(_, t) => Value::Str(t.apply(p)),
                        Step::ClientKeyed(_, a) => Self::keyed(ring, *a, p.as_slice())?,
                        _ => Value::Str(crate::address::ntop(p)),
                    })
                }
            },
            Step::UserIdKeep(i) | Step::UserIdKeyed(i, _) => {
                if let Some(u) = f.user_id.as_deref().filter(|u| !u.is_empty()) {
                    v[*i] = Some(match step {
                        Step::UserIdKeyed(_, a) => Self::keyed(ring, *a, u.as_bytes())?,
                        _ => Value::Str(text(prefix(u, MAX_TEXT))),
                    });
                }
            }
            Step::SessionKeep(i, finder) | Step::SessionKeyed(i, finder, _) => {
                if let Some(cookies) = self.header(f, self.cookie).filter(|c| !c.is_empty()) {
                    if let Some(found) = finder.find(cookies) {
                        let raw = latin1(found)?;
                        v[*i] = Some(match step {
                            Step::SessionKeyed(_, _, a) => Self::keyed(ring, *a, &raw)?,
                            _ => Value::Str(prefix(&String::from_utf8_lossy(&raw), MAX_TEXT).to_owned()),
                        });
                    }
                }
            }
            Step::Location => {
                if let Client::Address(_) = f.client {
                    return Err(Unsupported); // a MaxMind lookup: Python's job
                }
            }
            Step::PathKeep(i) => v[*i] = f.path.as_deref().map(|p| Value::Str(text(prefix(p, MAX_PATH)))),
            Step::PathScrub(i) => {
                if let Some(p) = &f.path {
                    v[*i] = Some(Value::Str(self.scrub(p)?));
                }
            }
            Step::PathTemplate(route, path) => {
                if let Some(r) = &f.route {
                    v[*route] = s(r);
                    v[*path] = s(r);
                } else if let Some(p) = &f.path {
                    v[*path] = Some(Value::Str(self.scrub(p)?));
                }
            }
            Step::UaKeep(i) => {
                v[*i] = self.header(f, self.user_agent).map(|u| Value::Str(text(prefix(u, MAX_TEXT))))
            }
            Step::UaGeneralise(slots) => {
                if let Some(ua) = self.header(f, self.user_agent) {
                    let info = self.ua.as_ref().ok_or(Unsupported)?.generalise(ua);
                    let (family, major, os, device) = &*info;
                    v[slots[0]] = s(family);
                    if let Some(m) = major {
                        v[slots[1]] = s(m);
                    }
                    v[slots[2]] = s(os);
                    v[slots[3]] = s(device);
                }
            }
            Step::HeaderKeep(h, i) => {
                if let Some(x) = &f.headers[*h] {
                    v[*i] = s(prefix(x, MAX_TEXT));
                }
            }
            Step::HeaderOrigin(h, i) => {
                if let Some(x) = &f.headers[*h] {
                    v[*i] = Some(Value::Str(origin(x)));
                }
            }
            Step::HeaderLanguage(h, i) => {
                if let Some(x) = &f.headers[*h] {
                    v[*i] = Some(Value::Str(primary_language(x)));
                }
            }
            Step::HeaderKeyed(h, i, a) => {
                if let Some(x) = &f.headers[*h] {
                    v[*i] = Some(Self::keyed(ring, *a, &latin1(x)?)?);
                }
            }
            Step::Query(i, filter) => {
                let (kept, dropped) = filter.apply(&f.query);
                if let Some(q) = kept {
                    v[*i] = Some(Value::Str(q));
                }
                *rejected += dropped;
            }
            Step::SubjectUser(..) | Step::SubjectSession(..) | Step::SubjectClient(..) => return Err(Unsupported),
            Step::HeaderShaped(h, i, shape) => {
                if let Some(x) = &f.headers[*h] {
                    // Headers are read as Latin-1: recover the UTF-8 the client sent.
                    let text = if x.is_ascii() { x.clone() } else { String::from_utf8_lossy(&latin1(x)?).into_owned() };
                    match shape.apply(&text) {
                        Some(kept) => v[*i] = Some(Value::Str(kept)),
                        None => *rejected += 1,
                    }
                }
            }
        }
        Ok(())
    }

    /// A last-visit subject step (`subject_step` in Python): writes the subject's pseudonym
    /// under the subject key, and returns it for the store's index.
    fn subject(&self, step: &Step, f: &Facts, keys: Option<&EpochKeys>, v: &mut [Option<Value>]) -> Res<Option<String>> {
        let (slot, index, value): (usize, usize, Option<Vec<u8>>) = match step {
            Step::SubjectUser(i, a) => (*i, *a, f.user_id.as_deref().filter(|u| !u.is_empty()).map(|u| u.as_bytes().to_vec())),
            Step::SubjectSession(i, finder, a) => {
                let found = match self.header(f, self.cookie).filter(|c| !c.is_empty()) {
                    Some(cookies) => finder.find(cookies).map(latin1).transpose()?,
                    None => None,
                };
                (*i, *a, found)
            }
            Step::SubjectClient(i, a) => match &f.client {
                Client::Address(p) => (*i, *a, Some(p.as_slice().to_vec())),
                _ => (*i, *a, None),
            },
            _ => return Ok(None),
        };
        let Some(value) = value else { return Ok(None) };
        let pseudonym = keys.and_then(|k| k.apply(index, &value)).ok_or(Unsupported)?;
        v[slot] = Some(Value::Str(pseudonym.clone()));
        Ok(Some(pseudonym))
    }

    /// The records of one capture, encoded; `Err` sends the capture back to Python.
    pub fn process(
        &self,
        f: &Facts,
        epochs: &HashMap<i64, Arc<EpochKeys>>,
        observed_ns: u64,
        want_otlp: bool,
        want_json: bool,
    ) -> Res<(Vec<Rec>, usize)> {
        let ring = if f.epoch < 0 { None } else { Some(epochs.get(&f.epoch).ok_or(Unsupported)?.as_ref()) };
        let mut out = Vec::new();
        let mut rejected = 0;
        let event = self.event_names.get(&f.kind).unwrap_or(&f.kind);
        // One slot vector for all streams: its strings go back to the spare ones after each
        // record (see `value::recycle`), for the next record's values.
        let mut v: Vec<Option<Value>> = Vec::new();
        for (index, stream) in self.streams.iter().enumerate() {
            if !stream.events.contains(&f.kind) {
                continue;
            }
            if stream.consent_gated && (is_one(self.header(f, self.sec_gpc)) || is_one(self.header(f, self.dnt))) {
                continue;
            }
            if stream.uses_key && ring.is_none() {
                continue;
            }
            v.resize_with(stream.slots.len(), || None);
            v[0] = Some(Value::Str(text(event)));
            let mut subject = None;
            for step in &stream.steps {
                if step.is_subject() {
                    subject = self.subject(step, f, epochs.get(&SUBJECT_EPOCH).map(Arc::as_ref), &mut v)?;
                } else {
                    self.apply(step, f, ring, &mut v, &mut rejected)?;
                }
            }
            match &f.extra {
                Extra::Websocket(counters) if f.kind == "websocket" => {
                    v[stream.websocket[0]] = Some(Value::Str(jsonl::iso_utc(f.start_ns).ok_or(Unsupported)?));
                    let end = jsonl::iso_utc(f.start_ns + f.duration_ns).ok_or(Unsupported)?;
                    v[stream.websocket[1]] = Some(Value::Str(end));
                    for (k, c) in counters.iter().enumerate() {
                        if c.is_some() {
                            v[stream.websocket[2 + k]] = c.clone();
                        }
                    }
                }
                Extra::Auth(name) if f.kind == "auth" => v[0] = Some(Value::Str(format!("auth.{name}"))),
                Extra::Other { incomplete: true } => v[stream.incomplete] = Some(Value::Bool(true)),
                _ => {}
            }
            let expires = jsonl::iso_utc(f.start_ns + stream.ttl_ns).ok_or(Unsupported)?;
            v[stream.expires_at] = Some(Value::Str(expires));
            let key_id = if stream.uses_key { ring.map(|r| r.key_id.as_str()) } else { None };
            let day = (f.start_ns.div_euclid(NS_PER_DAY)) as i64;
            let mut rec = Rec { stream: index, day, otlp: Vec::new(), json: Vec::new(), subject };
            if want_otlp {
                let Some(Value::Str(name)) = &v[0] else { return Err(Unsupported) };
                let mut payload = Vec::with_capacity(512);
                let (severity, body) = crate::summary::summary(name, &v, &stream.summary)?;
                let ts = (f.start_ns as u128 & u64::MAX as u128) as u64;
                otlp::record_head(ts, observed_ns, name, severity, &body, &mut payload);
                for (slot, value) in stream.slots.iter().zip(&v) {
                    if let Some(value) = value {
                        otlp::attribute(&slot.otlp_key, value, slot.header, &mut payload);
                    }
                }
                payload.extend_from_slice(&stream.tags_otlp);
                if let Some(k) = key_id {
                    otlp::attribute(&stream.key_id_head, &Value::Str(k.to_owned()), false, &mut payload);
                }
                rec.otlp = otlp::record_chunk(&payload);
            }
            if want_json {
                let mut line = Vec::with_capacity(json_size(stream, &v));
                line.extend_from_slice(b"{\"timestamp\":\"");
                line.extend_from_slice(&jsonl::iso_utc_bytes(f.start_ns).ok_or(Unsupported)?);
                line.push(b'"');
                for (slot, value) in stream.slots.iter().zip(&v) {
                    if let Some(value) = value {
                        if !value.json_ok() {
                            return Err(Unsupported); // orjson refuses it: Python's store raises
                        }
                        line.push(b',');
                        line.extend_from_slice(&slot.json_key);
                        jsonl::value(value, &mut line);
                    }
                }
                line.extend_from_slice(&stream.tags_json);
                if let Some(k) = key_id {
                    line.extend_from_slice(b",\"privlog.key_id\":");
                    jsonl::string(k, &mut line);
                }
                line.push(b'}');
                rec.json = line;
            }
            out.push(rec);
            recycle(&mut v);
        }
        Ok((out, rejected))
    }
}
