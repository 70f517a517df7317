//! `privlog anonymize`, compiled: a block of whole log lines in, the lines to write out, with the
//! GIL released. Each line is parsed (`logparse`), becomes the facts `Pipeline.process` would
//! read from its `LogLine`, goes through the engine's compiled policy, and is written back as
//! `CombinedFormat.write` writes it (`same`) or as its JSONL records (`json`). A line this module
//! cannot reproduce exactly (it does not parse, it has text that only the free-text scrubber
//! handles, its key epoch is not known here yet, a value Python's semantics must decide) is
//! handed back to Python by position, and Python writes it in its place.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::address::{ntop, parse_ip, Packed};
use crate::batch::{Compiled, NS_PER_DAY};
use crate::facts::{Client, Extra, Facts};
use crate::keyed::EpochKeys;
use crate::logparse::{clf_time, combined, fill, latin1, latin1_cow, request, unescape, Combined};
use crate::policy::Step;
use crate::pyish::{has_other_digit, unquote};
use crate::text::{Res, Unsupported};
use crate::value::Value;
use crate::Engine;

const MAX_LINE: usize = 65_536;
const MAX_HEADER: usize = 8192;
/// A day whose key ring Python decides line by line (no key, or the ring changes within it).
const PYTHON_DAY: i64 = -2;
const MAX_DAYS: usize = 4096;

/// The ASCII bytes `CombinedFormat._quote` escapes: quote, backslash, controls, DEL.
const ESCAPED_ASCII: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

/// How many leading bytes of ASCII `bytes` need no escape, eight at a time while none does
/// (the bit tests of "Bit Twiddling Hacks": a byte below 0x20, equal to `"` or `\\`, above 0x7e).
fn clean_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES * 0x80;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let w = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default());
        let below = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        let above = (w.wrapping_add(ONES * (127 - 0x7e)) | w) & HIGH;
        if below | above | has_zero(w ^ (ONES * b'"' as u64)) | has_zero(w ^ (ONES * b'\\' as u64)) != 0 {
            break;
        }
        i += 8;
    }
    i + bytes[i..].iter().position(|&b| ESCAPED_ASCII[b as usize]).unwrap_or(bytes.len() - i)
}

/// Where the written-back line's values are in the stream's attribute slots.
#[derive(Default)]
struct Slots {
    client: Option<usize>,
    keyed_client: Option<usize>,
    user: Option<usize>,
    method: Option<usize>,
    path: Option<usize>,
    query: Option<usize>,
    version: Option<usize>,
    status: Option<usize>,
    size: Option<usize>,
    referer: Option<usize>,
    ua_original: Option<usize>,
    ua_name: Option<usize>,
    ua_version: Option<usize>,
    ua_os: Option<usize>,
    ua_class: Option<usize>,
    /// `,"http.server.request.duration":0.0` of each stream: a log line does not say it.
    duration_json: Vec<Option<Vec<u8>>>,
}

/// The stream's `client_ip` action, for addresses elsewhere in the line.
enum Address {
    Placeholder,
    Keep,
    Truncate(crate::address::Truncate),
    Keyed(usize),
}

/// One run's tallies, for `Counts`.
#[derive(Default)]
struct Tally {
    parsed: usize,
    records: usize,
    rejected: usize,
}

/// What one line leaves for the next: its facts' text buffers and its record's value slots.
struct Reuse {
    facts: Facts,
    values: Vec<Option<Value>>,
}

impl Reuse {
    fn new() -> Reuse {
        let facts = Facts {
            kind: "http".to_owned(),
            start_ns: 0,
            duration_ns: 0,
            status: None,
            request_bytes: None,
            response_bytes: None,
            user_id: None,
            extra: Extra::Absent,
            method: None,
            scheme: None,
            http_version: None,
            path: None,
            route: None,
            query: Vec::new(),
            client: Client::Absent,
            client_port: None,
            headers: Vec::new(),
            epoch: -1,
        };
        Reuse { facts, values: Vec::new() }
    }
}

/// A policy's stream applied to `combined` log lines; see the module docs.
#[pyclass(frozen, module = "privlog_native._native")]
pub struct LogAnonymizer {
    engine: Py<Engine>,
    compiled: Arc<Compiled>,
    stream: usize,
    apache: bool,
    json: bool,
    keyless: bool,
    slots: Slots,
    address: Address,
    headers: [Option<usize>; 3],
    days: Mutex<HashMap<i64, i64>>,
    /// The trusted proxies (network, mask, packed as the address they hold), and whether they
    /// write `Forwarded` (which a log line never holds) rather than `X-Forwarded-For`.
    trusted: Vec<(Vec<u8>, Vec<u8>)>,
    forwarded: bool,
    /// The last block's output buffer, kept for the next (a fresh megabyte for each block
    /// costs the kernel a page fault per 4 KiB written); at most `KEPT_BUFFER` bytes are kept.
    buffer: Mutex<Vec<u8>>,
}

const KEPT_BUFFER: usize = 16 << 20;

fn slot_of(compiled: &Compiled, stream: usize, key: &str) -> Option<usize> {
    let mut wanted = Vec::new();
    crate::jsonl::string(key, &mut wanted);
    wanted.push(b':');
    compiled.streams[stream].slots.iter().position(|s| s.json_key == wanted)
}

/// Python's `str()` of an attribute value, as the written line shows it.
fn shown(v: &Option<Value>) -> Res<Option<Cow<'_, str>>> {
    Ok(match v {
        None => None,
        Some(Value::Str(s)) => Some(Cow::Borrowed(s.as_str())),
        Some(Value::Int(i)) => Some(Cow::Owned(i.to_string())),
        Some(Value::Bool(b)) => Some(Cow::Borrowed(if *b { "True" } else { "False" })),
        Some(Value::Float(_)) => return Err(Unsupported),
    })
}

fn get(v: &[Option<Value>], slot: Option<usize>) -> &Option<Value> {
    const NONE: &Option<Value> = &None;
    slot.map_or(NONE, |i| &v[i])
}

/// Text as `str.encode("latin-1", "replace")` writes it.
fn push_text(out: &mut Vec<u8>, text: &str) {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.extend(text.chars().map(|c| if (c as u32) < 256 { c as u8 } else { b'?' }));
}

impl LogAnonymizer {
    /// `CombinedFormat._quote`, then encoded: `-` for no value, escapes for quotes, backslashes,
    /// control and non-ASCII Latin-1 characters.
    fn quote(&self, out: &mut Vec<u8>, value: Option<&str>) {
        let Some(text) = value else {
            out.push(b'-');
            return;
        };
        if text.is_ascii() {
            // The common case: runs of printable ASCII copied whole, escapes between them.
            let mut rest = text.as_bytes();
            loop {
                let clean = clean_prefix(rest);
                out.extend_from_slice(&rest[..clean]);
                let Some(&b) = rest.get(clean) else { return };
                self.escape(out, b as u32, b as char);
                rest = &rest[clean + 1..];
            }
        }
        for c in text.chars() {
            let n = c as u32;
            if c == '"' || c == '\\' || n < 0x20 || (0x7f..=0xff).contains(&n) {
                self.escape(out, n, c);
            } else if n < 256 {
                out.push(n as u8);
            } else {
                out.push(b'?');
            }
        }
    }

    /// A status or size as Python's `str()` writes it (`-` if the record has none).
    fn number(&self, out: &mut Vec<u8>, value: &Option<Value>) -> Res<()> {
        match value {
            Some(Value::Int(n)) if *n >= 0 && *n <= u64::MAX as i128 => {
                let mut digits = [0u8; 20];
                let (mut i, mut n) = (digits.len(), *n as u64);
                loop {
                    i -= 1;
                    digits[i] = b'0' + (n % 10) as u8;
                    n /= 10;
                    if n == 0 {
                        break;
                    }
                }
                out.extend_from_slice(&digits[i..]);
            }
            other => push_text(out, &shown(other)?.unwrap_or(Cow::Borrowed("-"))),
        }
        Ok(())
    }

    /// One escaped character: nginx's `\xHH`, Apache's `\"`, `\\` and `\xhh`.
    fn escape(&self, out: &mut Vec<u8>, n: u32, c: char) {
        const UPPER: &[u8; 16] = b"0123456789ABCDEF";
        const LOWER: &[u8; 16] = b"0123456789abcdef";
        if self.apache && (c == '"' || c == '\\') {
            out.extend_from_slice(&[b'\\', c as u8]);
        } else {
            let digits = if self.apache { LOWER } else { UPPER };
            out.extend_from_slice(&[b'\\', b'x', digits[(n >> 4) as usize & 15], digits[n as usize & 15]]);
        }
    }

    /// The stream's address action on one address found in the line.
    fn address(&self, packed: &Packed, ring: Option<&EpochKeys>) -> Res<String> {
        Ok(match &self.address {
            Address::Placeholder => "{ip}".to_owned(),
            Address::Keep => ntop(packed),
            Address::Truncate(t) => t.apply(packed),
            Address::Keyed(a) => ring.and_then(|r| r.apply(*a, packed.as_slice())).ok_or(Unsupported)?,
        })
    }

    /// The facts of a parsed line, as `CombinedFormat.parse` and `Pipeline.process` make them,
    /// written over the last line's `f` (whose text buffers are reused), and its X-Forwarded-For
    /// field (None: not there, Some(None): `"-"`).
    fn facts(&self, c: &Combined<'_>, start_ns: i128, f: &mut Facts) -> Res<Option<Option<String>>> {
        let headers = &mut f.headers;
        headers.resize(self.compiled.header_ids.names.len(), None);
        let mut present = [false; 3];
        let mut set = |which: usize, value: &[u8]| -> Res<()> {
            present[which] = true;
            if let Some(id) = self.headers[which] {
                // Latin-1: one byte, one character, so the first MAX_HEADER bytes are its prefix.
                let slot = &mut headers[id];
                fill(slot, &value[..value.len().min(MAX_HEADER)]);
                if slot.as_deref().is_some_and(has_other_digit) {
                    return Err(Unsupported);
                }
            }
            Ok(())
        };
        if let Some((referer, ua)) = c.referer_ua {
            if referer != b"-" {
                set(1, &unescape(referer))?;
            }
            if ua != b"-" {
                set(0, &unescape(ua))?;
            }
        }
        let mut xff = None;
        if let Some(extra) = c.extra {
            if extra == b"-" {
                xff = Some(None);
            } else {
                let text = latin1(&unescape(extra));
                let hops: Vec<&str> = text.split(',').collect();
                if hops.len() > 64 || hops.iter().any(|h| parse_ip(h).is_none()) {
                    return Err(Unsupported); // free text: the Python scrubber's job
                }
                if text == "-" {
                    xff = Some(None); // an escaped dash
                } else {
                    set(2, &unescape(extra))?;
                    xff = Some(Some(text));
                }
            }
        }
        for (which, id) in self.headers.iter().enumerate() {
            if let (false, Some(id)) = (present[which], id) {
                headers[*id] = None; // not in this line (an absent header keeps no buffer)
            }
        }
        f.query.clear();
        f.http_version = None;
        if let Some((m, target, version)) = request(c.request) {
            fill(&mut f.method, &m);
            if let Some(v) = version {
                let mut text = f.http_version.take().unwrap_or_default();
                text.clear();
                text.push_str(&v);
                f.http_version = Some(text);
            }
            let split = target.iter().position(|&b| b == b'?');
            fill(&mut f.path, &target[..split.unwrap_or(target.len())]);
            if let Some(q) = split {
                f.query.extend_from_slice(&target[q + 1..]);
            }
            if target.contains(&b'%') {
                let decoded = match unquote(f.path.as_deref().unwrap_or_default()) {
                    Cow::Owned(decoded) => Some(decoded),
                    Cow::Borrowed(_) => None,
                };
                if decoded.is_some() {
                    f.path = decoded;
                }
            }
            if f.path.as_deref().is_some_and(has_other_digit) {
                return Err(Unsupported);
            }
        } else {
            f.method = None;
            f.path = None;
        }
        f.client = self.client(&latin1_cow(c.peer), match &xff {
            Some(Some(text)) => Some(text.as_str()),
            _ => None,
        });
        let digits = |b: &[u8]| b.iter().fold(0i128, |n, &d| n * 10 + (d - b'0') as i128); // ASCII digits only
        f.response_bytes = if c.size == b"-" {
            Some(Value::Int(0))
        } else if c.size.len() < 19 {
            Some(Value::Int(digits(c.size)))
        } else {
            None
        };
        f.status = if c.status == b"-" { None } else { Some(Value::Int(digits(c.status))) };
        f.start_ns = start_ns;
        if c.user == b"-" {
            f.user_id = None;
        } else {
            fill(&mut f.user_id, &unescape(c.user));
        }
        f.epoch = -1;
        Ok(xff)
    }

    fn is_trusted(&self, p: &Packed) -> bool {
        let a = p.as_slice();
        self.trusted.iter().any(|(net, mask)| {
            net.len() == a.len() && a.iter().zip(mask).zip(net).all(|((b, m), n)| b & m == *n)
        })
    }

    /// The client, as `make_client_resolver`'s `resolve` finds it behind trusted proxies.
    fn client(&self, peer: &str, xff: Option<&str>) -> Client {
        let Some(mut packed) = parse_ip(peer) else { return Client::Invalid };
        if !self.is_trusted(&packed) || self.forwarded {
            return Client::Address(packed);
        }
        let Some(value) = xff else { return Client::Address(packed) };
        let hops: Vec<&str> = value.split(',').collect();
        if value.chars().count() >= MAX_HEADER || hops.len() > 64 {
            return Client::Invalid;
        }
        for hop in hops.iter().rev() {
            match parse_ip(hop) {
                None => return Client::Invalid,
                Some(p) if !self.is_trusted(&p) => return Client::Address(p),
                Some(p) => packed = p,
            }
        }
        Client::Address(packed) // every hop is a trusted proxy: the left-most one is the client
    }

    /// What to write for one line (without its newline), or `Err` to hand it to Python.
    #[allow(clippy::too_many_arguments)]
    fn line(
        &self,
        line: &[u8],
        days: &HashMap<i64, i64>,
        epochs: &HashMap<i64, Arc<EpochKeys>>,
        unknown: &mut Vec<i64>,
        tally: &mut Tally,
        out: &mut Vec<u8>,
        reuse: &mut Reuse,
    ) -> Res<()> {
        let c = combined(line).ok_or(Unsupported)?;
        if !c.rest.is_empty() {
            return Err(Unsupported); // trailing fields: scrubbed as free text by Python
        }
        let start_ns = clf_time(c.time).ok_or(Unsupported)?;
        let facts = &mut reuse.facts;
        let xff = self.facts(&c, start_ns, facts)?;
        if !self.keyless {
            let day = start_ns.div_euclid(NS_PER_DAY) as i64;
            match days.get(&day) {
                Some(&handle) if handle >= 0 => facts.epoch = handle,
                Some(_) => return Err(Unsupported),
                None => {
                    if !unknown.contains(&day) {
                        unknown.push(day);
                    }
                    return Err(Unsupported);
                }
            }
        }
        let ring = if facts.epoch < 0 { None } else { Some(epochs.get(&facts.epoch).ok_or(Unsupported)?.as_ref()) };
        if self.json {
            let (recs, rejected) = self.compiled.process(facts, epochs, 0, false, true)?;
            if recs.is_empty() {
                return Err(Unsupported); // no key: Python counts and warns
            }
            for rec in &recs {
                let json = &rec.json;
                match &self.slots.duration_json[rec.stream] {
                    Some(member) => {
                        let at = json.windows(member.len()).position(|w| w == member.as_slice()).ok_or(Unsupported)?;
                        out.extend_from_slice(&json[..at]);
                        out.extend_from_slice(&json[at + member.len()..]);
                    }
                    None => out.extend_from_slice(json),
                }
                out.push(b'\n');
            }
            tally.records += recs.len();
            tally.rejected += rejected;
        } else {
            let stream = &self.compiled.streams[self.stream];
            if stream.uses_key && ring.is_none() {
                return Err(Unsupported);
            }
            let v = &mut reuse.values;
            crate::value::recycle(v); // the last line's strings, for this line's values
            v.resize(stream.slots.len(), None);
            let mut rejected = 0;
            for step in &stream.steps {
                self.compiled.apply(step, facts, ring, v, &mut rejected)?;
            }
            self.write(&c, v, xff, ring, out)?;
            out.push(b'\n');
            tally.records += 1;
            tally.rejected += rejected;
        }
        tally.parsed += 1;
        Ok(())
    }

    /// `CombinedFormat.write`: the line rebuilt from the record's values.
    fn write(&self, c: &Combined<'_>, v: &[Option<Value>], xff: Option<Option<String>>, ring: Option<&EpochKeys>, out: &mut Vec<u8>) -> Res<()> {
        let s = &self.slots;
        let client = match get(v, s.client) {
            None => shown(get(v, s.keyed_client))?,
            found => shown(found)?,
        };
        push_text(out, client.as_deref().filter(|c| !c.is_empty()).unwrap_or("-"));
        out.extend_from_slice(b" - ");
        self.quote(out, shown(get(v, s.user))?.as_deref());
        out.extend_from_slice(b" [");
        out.extend_from_slice(c.time);
        out.extend_from_slice(b"] \"");
        // The request line, quoted piece by piece (the separators need no escape).
        self.quote(out, Some(&shown(get(v, s.method))?.unwrap_or(Cow::Borrowed("-"))));
        out.push(b' ');
        self.quote(out, Some(&shown(get(v, s.path))?.unwrap_or(Cow::Borrowed("-"))));
        if let Some(q) = shown(get(v, s.query))?.filter(|q| !q.is_empty()) {
            out.push(b'?');
            self.quote(out, Some(&q));
        }
        if let Some(version) = shown(get(v, s.version))?.filter(|x| !x.is_empty()) {
            out.extend_from_slice(b" HTTP/");
            self.quote(out, Some(&version));
        }
        out.extend_from_slice(b"\" ");
        self.number(out, get(v, s.status))?;
        out.push(b' ');
        self.number(out, get(v, s.size))?;
        if c.referer_ua.is_some() {
            out.extend_from_slice(b" \"");
            self.quote(out, shown(get(v, s.referer))?.as_deref());
            out.extend_from_slice(b"\" \"");
            // `user_agent_text`, quoted piece by piece (the separators need no escape).
            match (shown(get(v, s.ua_original))?, shown(get(v, s.ua_name))?) {
                (Some(original), _) => self.quote(out, Some(&original)),
                (None, None) => out.push(b'-'),
                (None, Some(name)) => {
                    self.quote(out, Some(&name));
                    if let Some(version) = shown(get(v, s.ua_version))? {
                        out.push(b' ');
                        self.quote(out, Some(&version));
                    }
                    let os = if s.ua_os.is_some_and(|i| v[i].is_some()) { shown(get(v, s.ua_os))? } else { Some(Cow::Borrowed("Other")) };
                    let class = if s.ua_class.is_some_and(|i| v[i].is_some()) { shown(get(v, s.ua_class))? } else { Some(Cow::Borrowed("other")) };
                    out.extend_from_slice(b" / ");
                    self.quote(out, Some(&os.unwrap_or_default()));
                    out.extend_from_slice(b" / ");
                    self.quote(out, Some(&class.unwrap_or_default()));
                }
            }
            out.push(b'"');
        }
        match xff {
            Some(Some(text)) => {
                let mut hops = String::new();
                for (i, h) in text.split(',').enumerate() {
                    if i > 0 {
                        hops.push(',');
                    }
                    match parse_ip(h) {
                        Some(p) => hops.push_str(&self.address(&p, ring)?),
                        None => hops.push('-'),
                    }
                }
                out.extend_from_slice(b" \"");
                self.quote(out, Some(&hops));
                out.push(b'"');
            }
            Some(None) => out.extend_from_slice(b" \"-\""),
            None => {}
        }
        Ok(())
    }
}

#[pymethods]
impl LogAnonymizer {
    /// `engine`'s stream number `stream` (for `same`; `json` writes every stream's records),
    /// for nginx's (`apache=False`) or Apache's escapes; `keyless`: the policy has no keys;
    /// `trusted`: the proxies' (network, mask), packed; `forwarded`: they write `Forwarded`.
    #[new]
    #[pyo3(signature = (engine, stream, apache, json, keyless, trusted = Vec::new(), forwarded = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        engine: Py<Engine>,
        stream: usize,
        apache: bool,
        json: bool,
        keyless: bool,
        trusted: Vec<(Vec<u8>, Vec<u8>)>,
        forwarded: bool,
    ) -> PyResult<LogAnonymizer> {
        let compiled = engine.borrow(py).compiled.clone();
        if stream >= compiled.streams.len() {
            return Err(PyValueError::new_err("no such stream"));
        }
        let at = |key: &str| slot_of(&compiled, stream, key);
        let mut slots = Slots {
            client: at("client.address"),
            keyed_client: at("privlog.client.address"),
            user: at("user.id"),
            method: at("http.request.method"),
            path: at("url.path"),
            query: at("url.query"),
            version: at("network.protocol.version"),
            status: at("http.response.status_code"),
            size: at("http.response.body.size"),
            referer: at("http.request.header.referer"),
            ua_original: at("user_agent.original"),
            ua_name: at("user_agent.name"),
            ua_version: at("user_agent.version"),
            ua_os: at("user_agent.os.name"),
            ua_class: at("privlog.device.class"),
            duration_json: Vec::new(),
        };
        for (index, s) in compiled.streams.iter().enumerate() {
            slots.duration_json.push(s.steps.iter().find_map(|step| match step {
                Step::Duration(_) => {
                    let mut member = vec![b','];
                    member.extend_from_slice(&s.slots[slot_of(&compiled, index, "http.server.request.duration")?].json_key);
                    crate::jsonl::value(&Value::Float(0.0), &mut member);
                    Some(member)
                }
                _ => None,
            }));
        }
        let address = compiled.streams[stream]
            .steps
            .iter()
            .find_map(|step| match step {
                Step::ClientKeep(_) => Some(Address::Keep),
                Step::ClientTruncate(_, t) => Some(Address::Truncate(*t)),
                Step::ClientKeyed(_, a) => Some(Address::Keyed(*a)),
                _ => None,
            })
            .unwrap_or(Address::Placeholder);
        let ids = &compiled.header_ids;
        let headers = [ids.get(b"user-agent"), ids.get(b"referer"), ids.get(b"x-forwarded-for")];
        Ok(LogAnonymizer {
            engine,
            compiled: compiled.clone(),
            stream,
            apache,
            json,
            keyless,
            slots,
            address,
            headers,
            days: Mutex::new(HashMap::new()),
            trusted,
            forwarded,
            buffer: Mutex::new(Vec::new()),
        })
    }

    /// The engine's epoch handle for a UTC day (since 1970), or -2: Python decides that day.
    fn set_day(&self, day: i64, handle: i64) {
        let mut days = self.days.lock().unwrap();
        if days.len() >= MAX_DAYS {
            days.clear(); // bounded: a day forgotten is asked for again
        }
        days.insert(day, if handle < 0 { PYTHON_DAY } else { handle });
    }

    /// Forget every day's handle (the engine's keys were forgotten).
    fn clear_days(&self) {
        self.days.lock().unwrap().clear();
    }

    /// Anonymize whole lines (`block[..end]` ends with a newline) from offset `start`: returns the
    /// output, the lines handed back to Python as (output offset, start, end) in order, the day
    /// whose handle is wanted if a line of an unknown day stopped the run, where the run
    /// stopped (that line's start, or the block's end), and the tallies of the lines done here
    /// (lines, records, values rejected for their shape).
    #[allow(clippy::type_complexity)]
    #[pyo3(signature = (block, start = 0, end = None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        block: &[u8],
        start: usize,
        end: Option<usize>,
    ) -> (Bound<'py, PyBytes>, Vec<(usize, usize, usize)>, Option<i64>, usize, (usize, usize, usize)) {
        let block = &block[..end.map_or(block.len(), |e| e.min(block.len()))]; // offsets unchanged
        let epochs = self.engine.borrow(py).epochs.read().unwrap().clone();
        let days = self.days.lock().unwrap().clone();
        let mut out = std::mem::take(&mut *self.buffer.lock().unwrap());
        let (out, fallback, unknown, stop, tally) = py.allow_threads(|| {
            out.clear();
            out.reserve(block.len() + block.len() / 4);
            let mut fallback = Vec::new();
            let mut unknown = Vec::new();
            let mut tally = Tally::default();
            let mut reuse = Reuse::new();
            let mut start = start.min(block.len());
            while start < block.len() {
                let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
                let mut line = &block[start..end];
                if let [head @ .., b'\r'] = line {
                    line = head;
                }
                let mark = out.len();
                if end - start > MAX_LINE || self.line(line, &days, &epochs, &mut unknown, &mut tally, &mut out, &mut reuse).is_err() {
                    out.truncate(mark);
                    if !unknown.is_empty() {
                        break; // a day whose key Python fetches first: this line is done again
                    }
                    fallback.push((mark, start, end));
                }
                start = end + 1;
            }
            (out, fallback, unknown.pop(), start.min(block.len()), tally)
        });
        let written = PyBytes::new(py, &out);
        if out.capacity() <= KEPT_BUFFER {
            *self.buffer.lock().unwrap() = out;
        }
        (written, fallback, unknown, stop, (tally.parsed, tally.records, tally.rejected))
    }
}
