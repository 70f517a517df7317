//! User-agent generalisation as `privlog._useragent` does it, with the same parser (uap-rust,
//! which Python's ua-parser also runs through ua-parser-rs) and the same regex definitions,
//! handed over from the installed `ua-parser-builtins` at start-up.

use std::borrow::Cow::Owned;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use regex::Regex;
use ua_parser::{device, os, user_agent};

use crate::pyish::prefix;

/// (family, major, OS family, device class), as `UserAgentInfo`.
pub type Info = (String, Option<String>, String, String);

pub type UaRule = (String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);
pub type DeviceRule = (String, Option<String>, Option<String>, Option<String>, Option<String>);

/// The constants of `privlog._useragent`, passed from Python so both sides share one source.
pub struct Rules {
    pub known_bots: HashMap<String, String>,
    pub bot_family: String,
    pub tablets: HashSet<String>,
    pub mobile_os: HashSet<String>,
    /// The closed sets of browser and OS families a record may carry.
    pub browsers: HashSet<String>,
    pub oses: HashSet<String>,
    /// What a kept major version must be (`_MAJOR`).
    pub major: Regex,
}

pub struct Generaliser {
    ua: user_agent::Extractor<'static>,
    os: os::Extractor<'static>,
    device: device::Extractor<'static>,
    rules: Rules,
    cache: Mutex<HashMap<String, Arc<Info>>>,
}

const CACHE_SIZE: usize = 4096;

/// The last parser built, by a digest of its rules.
static SHARED: Mutex<Option<(u64, Arc<Generaliser>)>> = Mutex::new(None);

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

impl Generaliser {
    pub fn new(uas: Vec<UaRule>, oss: Vec<UaRule>, devices: Vec<DeviceRule>, rules: Rules) -> Result<Generaliser, String> {
        let mut b = user_agent::Builder::new();
        for p in uas {
            b = b
                .push(user_agent::Parser {
                    regex: Owned(p.0),
                    family_replacement: p.1.map(Owned),
                    v1_replacement: p.2.map(Owned),
                    v2_replacement: p.3.map(Owned),
                    v3_replacement: p.4.map(Owned),
                    v4_replacement: p.5.map(Owned),
                })
                .map_err(err)?;
        }
        let mut o = os::Builder::new();
        for p in oss {
            o = o
                .push(os::Parser {
                    regex: Owned(p.0),
                    os_replacement: p.1.map(Owned),
                    os_v1_replacement: p.2.map(Owned),
                    os_v2_replacement: p.3.map(Owned),
                    os_v3_replacement: p.4.map(Owned),
                    os_v4_replacement: p.5.map(Owned),
                })
                .map_err(err)?;
        }
        let mut d = device::Builder::new();
        for p in devices {
            d = d
                .push(device::Parser {
                    regex: Owned(p.0),
                    regex_flag: if p.1.as_deref() == Some("i") { Some(device::Flag::IgnoreCase) } else { None },
                    device_replacement: p.2.map(Owned),
                    brand_replacement: p.3.map(Owned),
                    model_replacement: p.4.map(Owned),
                })
                .map_err(err)?;
        }
        Ok(Generaliser {
            ua: b.build().map_err(err)?,
            os: o.build().map_err(err)?,
            device: d.build().map_err(err)?,
            rules,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A parser for these rules, reusing the last one built if the rules are the same.
    pub fn shared(uas: Vec<UaRule>, oss: Vec<UaRule>, devices: Vec<DeviceRule>, rules: Rules) -> Result<Arc<Generaliser>, String> {
        let mut h = DefaultHasher::new();
        (&uas, &oss, &devices, &rules.bot_family, rules.major.as_str()).hash(&mut h);
        let mut bots: Vec<_> = rules.known_bots.iter().collect();
        bots.sort();
        bots.hash(&mut h);
        for set in [&rules.tablets, &rules.mobile_os, &rules.browsers, &rules.oses] {
            let mut sorted: Vec<_> = set.iter().collect();
            sorted.sort();
            sorted.hash(&mut h);
        }
        let digest = h.finish();
        let mut shared = SHARED.lock().unwrap();
        if let Some((d, g)) = shared.as_ref() {
            if *d == digest {
                return Ok(g.clone());
            }
        }
        let g = Arc::new(Generaliser::new(uas, oss, devices, rules)?);
        *shared = Some((digest, g.clone()));
        Ok(g)
    }

    fn parse(&self, raw: &str) -> Info {
        let s = prefix(raw, 1024);
        let ua = self.ua.extract(s);
        let mut os_family = self.os.extract(s).map(|o| o.os.into_owned()).unwrap_or_else(|| "Other".into());
        if !self.rules.oses.contains(&os_family) {
            os_family = "Other".into();
        }
        let dev = self.device.extract(s);
        let r = &self.rules;
        let is_bot = dev.as_ref().is_some_and(|d| d.device == "Spider");
        let (family, major) = if is_bot {
            let fam = ua.as_ref().map(|u| u.family.to_lowercase()).unwrap_or_default();
            (r.known_bots.get(&fam).cloned().unwrap_or_else(|| r.bot_family.clone()), None)
        } else {
            match &ua {
                Some(u) if r.browsers.contains(u.family.as_ref()) => {
                    (u.family.to_string(), u.major.filter(|m| r.major.is_match(m)).map(|m| m.to_string()))
                }
                _ => ("Other".to_owned(), None),
            }
        };
        let class = if is_bot {
            "bot"
        } else if dev.as_ref().is_some_and(|d| r.tablets.contains(d.device.as_ref()) || d.device.contains("Tablet")) {
            "tablet"
        } else if r.mobile_os.contains(&os_family) {
            "mobile"
        } else if os_family == "Other" && ua.is_none() {
            "other"
        } else {
            "desktop"
        };
        (family, major, os_family, class.to_owned())
    }

    /// The generalised user agent, from a bounded cache (emptied when full, as in Python).
    pub fn generalise(&self, raw: &str) -> Arc<Info> {
        if let Some(found) = self.cache.lock().unwrap().get(raw) {
            return found.clone(); // shared, not copied
        }
        let info = Arc::new(self.parse(raw));
        let mut cache = self.cache.lock().unwrap();
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(raw.to_owned(), info.clone());
        info
    }
}
