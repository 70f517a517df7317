//! privlog's compiled batch path: a policy compiled once, key material once per key epoch, then
//! batches of raw facts turned into the OTLP sink's and the JSONL store's bytes with the GIL
//! released. The pure-Python pipeline is the reference; captures this crate cannot reproduce
//! exactly are handed back to it (see `Batch.fallback`).

mod address;
mod anonymize;
mod batch;
mod cryptopan;
mod facts;
mod jsonl;
mod keyed;
mod logparse;
mod otlp;
mod policy;
mod pyish;
mod resolve;
mod scope;
mod shapes;
mod summary;
mod text;
mod useragent;
mod value;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use batch::{Compiled, Rec};
use facts::Facts;
use keyed::EpochKeys;

/// A compiled policy plus the OTLP resource and scope of the sink it encodes for.
#[pyclass(frozen, module = "privlog_native._native")]
struct Engine {
    compiled: Arc<Compiled>,
    names: Arc<Vec<String>>,
    epochs: RwLock<HashMap<i64, Arc<EpochKeys>>>,
    resource: Arc<Vec<u8>>,
    scope: Arc<Vec<u8>>,
}

fn user_agents(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<Arc<useragent::Generaliser>> {
    let get = |k: &str| -> PyResult<Bound<'_, PyAny>> {
        d.get_item(k)?.ok_or_else(|| PyValueError::new_err(format!("user_agent lacks {k}")))
    };
    let pattern: String = get("major")?.extract()?;
    let set = |k: &str| -> PyResult<HashSet<String>> { Ok(get(k)?.extract::<Vec<String>>()?.into_iter().collect()) };
    let rules = useragent::Rules {
        known_bots: get("known_bots")?.extract()?,
        bot_family: get("bot_family")?.extract()?,
        tablets: set("tablets")?,
        mobile_os: set("mobile_os")?,
        browsers: set("browsers")?,
        oses: set("oses")?,
        major: regex::Regex::new(&format!(r"\A(?:{pattern})\z")).map_err(|e| PyValueError::new_err(e.to_string()))?,
    };
    let (uas, oss, devices) = (get("uas")?.extract()?, get("oss")?.extract()?, get("devices")?.extract()?);
    // Compiling a thousand regexes takes a while: other threads may run meanwhile, and engines
    // of the same rules (several PrivacyLog instances, tests) share one parser.
    py.allow_threads(move || useragent::Generaliser::shared(uas, oss, devices, rules)).map_err(PyValueError::new_err)
}

#[pymethods]
impl Engine {
    #[new]
    fn new(py: Python<'_>, policy: &Bound<'_, PyDict>, resource: Vec<u8>, scope: Vec<u8>) -> PyResult<Engine> {
        let mut header_ids = policy::Headers::default();
        let mut uses = Vec::new();
        let mut streams = Vec::new();
        let list: Bound<'_, PyList> =
            policy.get_item("streams")?.ok_or_else(|| PyValueError::new_err("no streams"))?.extract()?;
        for s in list.iter() {
            streams.push(policy::Stream::compile(s.downcast::<PyDict>()?, &mut header_ids, &mut uses)?);
        }
        let ua = match policy.get_item("user_agent")? {
            Some(d) if !d.is_none() => {
                Some(user_agents(py, d.downcast::<PyDict>()?)?)
            }
            _ => None,
        };
        let methods: HashSet<String> =
            policy.get_item("methods")?.map(|m| m.extract::<Vec<String>>()).transpose()?.unwrap_or_default().into_iter().collect();
        let event_names: HashMap<String, String> =
            policy.get_item("event_names")?.map(|m| m.extract()).transpose()?.unwrap_or_default();
        let names = streams.iter().map(|s| s.name.clone()).collect();
        let compiled = Compiled {
            sec_gpc: header_ids.get(b"sec-gpc"),
            dnt: header_ids.get(b"dnt"),
            content_length: header_ids.get(b"content-length"),
            cookie: header_ids.get(b"cookie"),
            user_agent: header_ids.get(b"user-agent"),
            streams,
            header_ids,
            uses,
            ua,
            methods,
            event_names,
            paths: Mutex::new(HashMap::new()),
        };
        Ok(Engine {
            compiled: Arc::new(compiled),
            names: Arc::new(names),
            epochs: RwLock::new(HashMap::new()),
            resource: Arc::new(resource),
            scope: Arc::new(scope),
        })
    }

    /// The headers the compiled steps read (lower case).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.compiled.header_ids.names.iter().map(|n| PyBytes::new(py, n)).collect()
    }

    /// Derive and hold the keys of one epoch, under the handle the facts name it by.
    fn add_epoch(&self, handle: i64, master: &[u8], algorithm: &str, key_id: String) -> PyResult<()> {
        let hmac = match algorithm {
            "blake2b" => false,
            "hmac-sha256" => true,
            _ => return Err(PyValueError::new_err("unknown hash algorithm")),
        };
        let keys = EpochKeys::new(master, hmac, key_id, &self.compiled.uses);
        self.epochs.write().unwrap().insert(handle, Arc::new(keys));
        Ok(())
    }

    /// Drop an epoch's keys; their memory is wiped once no running batch holds them.
    fn forget_epoch(&self, handle: i64) {
        self.epochs.write().unwrap().remove(&handle);
    }

    /// Transform a batch of facts tuples; the GIL is released while records are made.
    #[pyo3(signature = (facts, observed_ns, otlp = true, jsonl = true))]
    fn run(&self, py: Python<'_>, facts: &Bound<'_, PyList>, observed_ns: u64, otlp: bool, jsonl: bool) -> Batch {
        let extracted = facts.iter().map(|t| Facts::extract(&t, &self.compiled.header_ids)).collect();
        self.process(py, extracted, observed_ns, otlp, jsonl)
    }
}

impl Engine {
    /// Make the records of facts already read (an error: the capture goes back to Python).
    fn process(
        &self,
        py: Python<'_>,
        extracted: Vec<Result<Facts, text::Unsupported>>,
        observed_ns: u64,
        otlp: bool,
        jsonl: bool,
    ) -> Batch {
        let epochs = self.epochs.read().unwrap().clone();
        let compiled = self.compiled.clone();
        let (per_capture, rejected, released_ns) = py.allow_threads(move || {
            let started = Instant::now();
            let mut rejected = 0;
            let out: Vec<Option<Vec<Rec>>> = extracted
                .iter()
                .map(|f| {
                    let (recs, r) = compiled.process(f.as_ref().ok()?, &epochs, observed_ns, otlp, jsonl).ok()?;
                    rejected += r;
                    Some(recs)
                })
                .collect();
            (out, rejected, started.elapsed().as_nanos() as u64)
        });
        let fallback = per_capture.iter().enumerate().filter(|(_, r)| r.is_none()).map(|(i, _)| i).collect();
        Batch {
            per_capture,
            fallback,
            names: (*self.names).clone(),
            resource: self.resource.clone(),
            scope: self.scope.clone(),
            jsonl_error: false,
            released_ns,
            rejected,
        }
    }
}

/// The records of one batch; captures listed in `fallback` are filled in by Python.
#[pyclass(module = "privlog_native._native")]
struct Batch {
    per_capture: Vec<Option<Vec<Rec>>>,
    #[pyo3(get)]
    fallback: Vec<usize>,
    names: Vec<String>,
    resource: Arc<Vec<u8>>,
    scope: Arc<Vec<u8>>,
    jsonl_error: bool,
    /// Nanoseconds `Engine.run` worked with the GIL released (the rest held it).
    #[pyo3(get)]
    released_ns: u64,
    /// Values left out of the extension's records for not fitting their declared shape.
    #[pyo3(get)]
    rejected: usize,
}

#[pymethods]
impl Batch {
    /// Set the records Python made for capture `index`: (stream, day, OTLP chunk, JSONL line,
    /// last-visit subject). A JSONL line of None: orjson refused the record, so the store must
    /// refuse the batch.
    fn fill(&mut self, index: usize, records: Vec<(String, i64, Vec<u8>, Option<Vec<u8>>, Option<String>)>) -> PyResult<()> {
        if index >= self.per_capture.len() {
            return Err(PyValueError::new_err("no such capture"));
        }
        let mut recs = Vec::with_capacity(records.len());
        for (name, day, otlp, json, subject) in records {
            let stream = match self.names.iter().position(|n| *n == name) {
                Some(i) => i,
                None => {
                    self.names.push(name);
                    self.names.len() - 1
                }
            };
            self.jsonl_error |= json.is_none();
            recs.push(Rec { stream, day, otlp, json: json.unwrap_or_default(), subject });
        }
        self.per_capture[index] = Some(recs);
        Ok(())
    }

    /// How many records the batch holds (fallback captures count once filled).
    #[getter]
    fn records(&self) -> usize {
        self.per_capture.iter().flatten().map(Vec::len).sum()
    }

    /// The stream name of every record, in order (for metrics).
    fn streams(&self) -> Vec<String> {
        self.per_capture.iter().flatten().flatten().map(|r| self.names[r.stream].clone()).collect()
    }

    /// (stream, last-visit subject, day since 1970) of every record that has a subject, in order.
    fn subjects(&self) -> Vec<(String, String, i64)> {
        let recs = self.per_capture.iter().flatten().flatten();
        recs.filter_map(|r| Some((self.names[r.stream].clone(), r.subject.clone()?, r.day))).collect()
    }

    /// The ExportLogsServiceRequest of every record, in order.
    fn otlp<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let data = py.allow_threads(|| {
            let chunks = self.per_capture.iter().flatten().flatten().map(|r| r.otlp.as_slice());
            otlp::request(&self.resource, &self.scope, chunks)
        });
        PyBytes::new(py, &data)
    }

    /// JSONL chunks as the store files them: (stream, day since 1970, lines with newlines,
    /// how many lines).
    fn jsonl<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, i64, Bound<'py, PyBytes>, usize)>> {
        if self.jsonl_error {
            return Err(PyValueError::new_err("a record of this batch cannot be written as JSON"));
        }
        // Grouped with the GIL released; a batch has a few (stream, day) groups, kept in order.
        let groups = py.allow_threads(|| {
            let mut groups: Vec<((usize, i64), Vec<u8>, usize)> = Vec::new();
            for r in self.per_capture.iter().flatten().flatten() {
                let key = (r.stream, r.day);
                let at = groups.iter().position(|g| g.0 == key).unwrap_or_else(|| {
                    groups.push((key, Vec::with_capacity(64 * 1024), 0));
                    groups.len() - 1
                });
                let (_, chunk, lines) = &mut groups[at];
                chunk.extend_from_slice(&r.json);
                chunk.push(b'\n');
                *lines += 1;
            }
            groups
        });
        Ok(groups.into_iter().map(|((s, d), data, n)| (self.names[s].clone(), d, PyBytes::new(py, &data), n)).collect())
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_class::<Batch>()?;
    m.add_class::<anonymize::LogAnonymizer>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<scope::AsgiReader>()?;
    // A panic surfaces in Python as this BaseException (not an Exception): named here so that
    // privlog's callers can catch exactly it, and fall back to Python instead of dying.
    m.add("PanicException", m.py().get_type::<pyo3::panic::PanicException>())?;
    Ok(())
}
