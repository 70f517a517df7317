//! The ASGI scope read in Rust: the facts `privlog._asgi_scope.read_asgi_scope` reads and
//! `NativePipeline.facts_of` resolves, taken straight from the capture tuples and scope dicts
//! (with the GIL held, but with no Python object built per fact). Anything it does not read
//! exactly as Python does (a scope routed through a mount, headers that are not a list of
//! byte pairs, a client that is not a pair of a str and a port, another reader) goes through
//! the Python reader, called back per capture.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::facts::{self, Client, Facts};
use crate::policy::Headers;
use crate::pyish::has_other_digit;
use crate::resolve::Resolver;
use crate::text::Unsupported;
use crate::{Batch, Engine};

/// The reader keeps the first 8 KiB of a header value.
const MAX_HEADER: usize = 8192;

/// The Python reader must read this capture (it is not one this module reads exactly).
struct ToPython;

type Read = Result<Result<Facts, Unsupported>, ToPython>;

/// Reads the captures of `privlog.asgi`'s middleware for an engine, with its client resolution.
#[pyclass(frozen, module = "privlog_native._native")]
pub struct AsgiReader {
    /// The readers read here: the middleware's reader class and the plain reader function.
    reader_type: Py<PyAny>,
    reader_function: Py<PyAny>,
    /// The headers the Python reader is asked for, and each one's index among the engine's.
    wanted: Vec<Vec<u8>>,
    ids: Vec<Option<usize>>,
    /// Index in `wanted` of `Forwarded` and `X-Forwarded-For`, which the resolver reads.
    forwarded: Option<usize>,
    xff: Option<usize>,
    resolver: Option<Resolver>,
}

fn text(v: Option<Bound<'_, PyAny>>) -> Result<Option<String>, Unsupported> {
    match v {
        None => Ok(None),
        Some(v) => facts::text(&v),
    }
}

/// `scope.get(key)`, of no scope: None.
fn lookup<'py>(scope: Option<&Bound<'py, PyDict>>, key: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
    match scope {
        Some(s) => s.get_item(key),
        None => Ok(None),
    }
}

/// `value[:8192].decode("latin-1")`.
fn latin1(value: &[u8]) -> String {
    let value = &value[..value.len().min(MAX_HEADER)];
    if value.is_ascii() {
        // SAFETY: ASCII is UTF-8, and each byte is the character Latin-1 decodes it to.
        return unsafe { String::from_utf8_unchecked(value.to_vec()) };
    }
    value.iter().map(|&b| b as char).collect()
}

impl AsgiReader {
    fn position(&self, name: &[u8]) -> Option<usize> {
        self.wanted.iter().position(|w| w.as_slice() == name)
    }

    /// `pick_headers`: the wanted headers, first value wins, proxy chains joined with commas.
    fn pick(&self, raw: Option<Bound<'_, PyAny>>) -> Result<Vec<Option<String>>, ToPython> {
        let mut picked: Vec<Option<String>> = vec![None; self.wanted.len()];
        let Some(raw) = raw else { return Ok(picked) };
        if self.wanted.is_empty() {
            return Ok(picked);
        }
        let items: Vec<Bound<'_, PyAny>> = if let Ok(list) = raw.downcast_exact::<PyList>() {
            list.iter().collect()
        } else if let Ok(tuple) = raw.downcast_exact::<PyTuple>() {
            tuple.iter().collect()
        } else {
            return Err(ToPython);
        };
        for item in items {
            let pair = item.downcast_exact::<PyTuple>().map_err(|_| ToPython)?;
            if pair.len() != 2 {
                return Err(ToPython);
            }
            let name = pair.get_borrowed_item(0).map_err(|_| ToPython)?;
            let value = pair.get_borrowed_item(1).map_err(|_| ToPython)?;
            let name = name.downcast_exact::<PyBytes>().map_err(|_| ToPython)?.as_bytes();
            let value = value.downcast_exact::<PyBytes>().map_err(|_| ToPython)?.as_bytes();
            let k = match self.position(name) {
                Some(k) => k,
                // Not wanted as sent: lowered, if it has an upper-case letter (else lower() is itself).
                None if name.iter().any(u8::is_ascii_uppercase) => match self.position(&name.to_ascii_lowercase()) {
                    Some(k) => k,
                    None => continue,
                },
                None => continue,
            };
            match &mut picked[k] {
                Some(found) => {
                    if Some(k) == self.forwarded || Some(k) == self.xff {
                        found.push(',');
                        found.push_str(&latin1(value));
                    }
                }
                empty => *empty = Some(latin1(value)),
            }
        }
        Ok(picked)
    }

    fn recognised(&self, reader: &Bound<'_, PyAny>) -> bool {
        reader.get_type().is(self.reader_type.bind(reader.py())) || reader.is(self.reader_function.bind(reader.py()))
    }

    /// The facts of one capture tuple, as `NativePipeline.facts_of` and `Facts::extract` make them.
    fn read<'py>(&self, capture: &Bound<'py, PyAny>, epoch: i64, header_ids: &Headers) -> Read {
        let py = capture.py();
        let t = capture.downcast::<PyTuple>().map_err(|_| ToPython)?;
        if t.len() != 10 {
            return Err(ToPython);
        }
        let g = |i: usize| t.get_item(i).map_err(|_| ToPython);
        let reader = g(1)?;
        let scope = if reader.is_none() {
            None
        } else if self.recognised(&reader) {
            Some(g(2)?.downcast_exact::<PyDict>().map_err(|_| ToPython)?.clone())
        } else {
            return Err(ToPython);
        };
        let get = |key: &Bound<'py, PyString>| lookup(scope.as_ref(), key).map_err(|_| ToPython);
        // The route template, unless matched inside a mount (Python rebuilds those from the routes).
        let mut route = None;
        if let Some(found) = get(intern!(py, "route"))?.filter(|f| !f.is_none()) {
            let template = match found.getattr(intern!(py, "path_format")) {
                Ok(t) => Some(t),
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => None,
                Err(_) => return Err(ToPython),
            };
            if let Some(template) = template.filter(|t| t.is_instance_of::<PyString>()) {
                if let Some(app_root) = get(intern!(py, "app_root_path"))?.filter(|a| !a.is_none()) {
                    let root = get(intern!(py, "root_path"))?;
                    let root_path = match root {
                        Some(r) if r.is_truthy().map_err(|_| ToPython)? => r,
                        _ => PyString::new(py, "").into_any(),
                    };
                    if root_path.ne(&app_root).map_err(|_| ToPython)? {
                        return Err(ToPython);
                    }
                }
                route = Some(template);
            }
        }
        // The client: a pair (or longer) of address and port, or nothing.
        let (peer, port) = match get(intern!(py, "client"))? {
            None => (None, None),
            Some(c) if c.is_none() => (None, None),
            Some(c) => {
                let items: Option<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = if let Ok(t) = c.downcast_exact::<PyTuple>() {
                    match t.len() {
                        0 => None,
                        1 => return Err(ToPython),
                        _ => Some((t.get_item(0).map_err(|_| ToPython)?, t.get_item(1).map_err(|_| ToPython)?)),
                    }
                } else if let Ok(l) = c.downcast_exact::<PyList>() {
                    match l.len() {
                        0 => None,
                        1 => return Err(ToPython),
                        _ => Some((l.get_item(0).map_err(|_| ToPython)?, l.get_item(1).map_err(|_| ToPython)?)),
                    }
                } else {
                    return Err(ToPython);
                };
                match items {
                    None => (None, None),
                    Some((a, p)) => (Some(a), Some(p)),
                }
            }
        };
        let picked = if scope.is_some() { self.pick(get(intern!(py, "headers"))?)? } else { vec![None; self.wanted.len()] };
        let client = match &self.resolver {
            None => Client::Absent,
            Some(resolver) => match &peer {
                None => Client::Absent,
                Some(p) => {
                    let p = p.downcast_exact::<PyString>().map_err(|_| ToPython)?;
                    let p = p.to_str().map_err(|_| ToPython)?;
                    if p.is_empty() {
                        Client::Absent
                    } else {
                        let header = |k: Option<usize>| k.and_then(|k| picked[k].as_deref());
                        resolver.resolve(p, header(self.forwarded), header(self.xff))
                    }
                }
            },
        };
        // From here on, only what the compiled path cannot reproduce: back to Python for the record.
        Ok(self.facts(py, t, scope.as_ref(), route, port, client, picked, epoch, header_ids))
    }

    #[allow(clippy::too_many_arguments)]
    fn facts<'py>(
        &self,
        py: Python<'py>,
        t: &Bound<'py, PyTuple>,
        scope: Option<&Bound<'py, PyDict>>,
        route: Option<Bound<'py, PyAny>>,
        port: Option<Bound<'py, PyAny>>,
        client: Client,
        picked: Vec<Option<String>>,
        epoch: i64,
        header_ids: &Headers,
    ) -> Result<Facts, Unsupported> {
        let g = |i: usize| t.get_item(i).map_err(|_| Unsupported);
        let get = |key: &Bound<'py, PyString>| lookup(scope, key).map_err(|_| Unsupported);
        let mut headers = vec![None; header_ids.names.len()];
        for (k, value) in picked.into_iter().enumerate() {
            if let (Some(id), Some(value)) = (self.ids[k], value) {
                if has_other_digit(&value) {
                    return Err(Unsupported);
                }
                headers[id] = Some(value);
            }
        }
        let method = match get(intern!(py, "method"))? {
            Some(m) => facts::text(&m)?,
            None => {
                let kind = get(intern!(py, "type"))?;
                let websocket = match kind {
                    Some(k) => k.downcast_exact::<PyString>().map_err(|_| Unsupported)?.to_str().map_err(|_| Unsupported)? == "websocket",
                    None => false,
                };
                websocket.then(|| "GET".to_owned())
            }
        };
        let query = match get(intern!(py, "query_string"))? {
            None => Vec::new(),
            Some(q) => q.downcast::<PyBytes>().map_err(|_| Unsupported)?.as_bytes().to_vec(),
        };
        let path = text(get(intern!(py, "path"))?)?;
        if path.as_deref().is_some_and(has_other_digit) {
            return Err(Unsupported);
        }
        let kind = facts::text(&g(0)?)?.ok_or(Unsupported)?;
        Ok(Facts {
            extra: facts::extra(&kind, &g(9)?)?,
            kind,
            start_ns: facts::int(&g(3)?)?,
            duration_ns: facts::int(&g(4)?)?,
            status: facts::scalar(&g(5)?)?,
            request_bytes: facts::scalar(&g(6)?)?,
            response_bytes: facts::scalar(&g(7)?)?,
            user_id: facts::text(&g(8)?)?,
            method,
            scheme: text(get(intern!(py, "scheme"))?)?,
            http_version: text(get(intern!(py, "http_version"))?)?,
            path,
            route: text(route)?,
            query,
            client,
            client_port: match port {
                Some(p) => facts::scalar(&p)?,
                None => None,
            },
            headers,
            epoch,
        })
    }
}

#[pymethods]
impl AsgiReader {
    /// `wanted`: the headers the Python reader is asked for; `resolver`: None when no stream
    /// needs the client, else (IPv4 networks, IPv6 networks, whether proxies write `Forwarded`).
    #[new]
    fn new(
        engine: &Bound<'_, Engine>,
        reader_type: Py<PyAny>,
        reader_function: Py<PyAny>,
        wanted: Vec<Vec<u8>>,
        resolver: Option<(Vec<(u32, u32)>, Vec<(u128, u128)>, bool)>,
    ) -> AsgiReader {
        let header_ids = &engine.get().compiled.header_ids;
        let at = |name: &[u8]| wanted.iter().position(|w| w.as_slice() == name);
        AsgiReader {
            reader_type,
            reader_function,
            ids: wanted.iter().map(|w| header_ids.get(w)).collect(),
            forwarded: at(b"forwarded"),
            xff: at(b"x-forwarded-for"),
            resolver: resolver.map(|(v4, v6, forwarded)| Resolver { v4, v6, forwarded }),
            wanted,
        }
    }

    /// Read and run a batch of captures: `handles` gives each one's key epoch (-1: none, None:
    /// its epoch could not be found, so it fails), `facts_of(capture, handle)` reads those this
    /// module leaves to Python. Returns the batch, the captures that failed, and how many
    /// captures were read here.
    #[pyo3(signature = (engine, captures, handles, facts_of, observed_ns, otlp = true, jsonl = true))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        engine: &Bound<'_, Engine>,
        captures: &Bound<'_, PyList>,
        handles: Option<&Bound<'_, PyList>>,
        facts_of: &Bound<'_, PyAny>,
        observed_ns: u64,
        otlp: bool,
        jsonl: bool,
    ) -> PyResult<(Batch, Vec<usize>, usize)> {
        let engine = engine.get();
        let header_ids = &engine.compiled.header_ids;
        let mut failed = Vec::new();
        let mut here = 0;
        let mut extracted = Vec::with_capacity(captures.len());
        for (i, capture) in captures.iter().enumerate() {
            let handle = match handles {
                None => -1,
                Some(h) => {
                    let h = h.get_item(i)?;
                    if h.is_none() {
                        failed.push(i);
                        extracted.push(Err(Unsupported));
                        continue;
                    }
                    h.extract::<i64>()?
                }
            };
            match self.read(&capture, handle, header_ids) {
                Ok(facts) => {
                    here += 1;
                    extracted.push(facts);
                }
                Err(ToPython) => match facts_of.call1((&capture, handle)) {
                    Ok(t) => extracted.push(Facts::extract(&t, header_ids)),
                    Err(_) => {
                        failed.push(i); // the Python pipeline fails on it too: counted, never logged
                        extracted.push(Err(Unsupported));
                    }
                },
            }
        }
        Ok((engine.process(py, extracted, observed_ns, otlp, jsonl), failed, here))
    }
}
