//! Generalisers of text values, as `privlog._generalise` does them: path scrubbing, referrer
//! origin, primary language and the query allow-list. Each returns `Err(Unsupported)` where the
//! Python reference relies on semantics ported only for ASCII (see `pyish`): the caller then
//! hands the capture back to Python.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::address::parse_ip;
use crate::pyish::{self, char_len, has_other_digit, prefix, quote, unquote, unquote_plus};

/// A value the compiled path does not handle exactly like Python: the capture goes back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

pub type Res<T> = Result<T, Unsupported>;

const MAX_PATH: usize = 2048;
const MAX_SEGMENT: usize = 64;
const HEX_CLASS: &str = "[0-9a-fA-F]";

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    let h = HEX_CLASS;
    Regex::new(&format!("{h}{{8}}-?{h}{{4}}-?{h}{{4}}-?{h}{{4}}-?{h}{{12}}")).unwrap()
});
static UUID_FULL: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"\A(?:{})\z", UUID.as_str())).unwrap());
static DIGIT_GROUPS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[0-9]+(?:[-._ ][0-9]+)*").unwrap());
static IPV6_LIKE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9A-Fa-f]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*").unwrap());
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{(?:email|ip|id|uuid|token|long|invalid|n)\}").unwrap());
static ORIGIN: LazyLock<Regex> = LazyLock::new(|| {
    // Python's `$` also matches before a final newline.
    Regex::new(r"\A([A-Za-z][A-Za-z0-9+.\-]{0,15})://(?:[^/?#@]*@)?([A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?(?:[/?#]|\n?\z)").unwrap()
});

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_token(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 16 || !b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'~' | b'+')) {
        return false;
    }
    if b.iter().any(u8::is_ascii_digit) || b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    let mut changes = 0;
    for word in b.split(|c| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty()) {
        if plain_word(word) {
            continue;
        }
        changes += word.windows(2).filter(|p| p[0].is_ascii_lowercase() != p[1].is_ascii_lowercase()).count();
    }
    changes >= 3 || caps_run(b)
}

/// `[A-Z]?[a-z]+|[A-Z]+`, whole word.
fn plain_word(w: &[u8]) -> bool {
    let rest = if w[0].is_ascii_uppercase() { &w[1..] } else { w };
    (!rest.is_empty() && rest.iter().all(u8::is_ascii_lowercase)) || w.iter().all(u8::is_ascii_uppercase)
}

/// `[A-Z]{5,}[a-z]|[a-z][A-Z]{5,}` anywhere.
fn caps_run(b: &[u8]) -> bool {
    let mut run = 0;
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_uppercase() {
            run += 1;
            if run >= 5 && i + 1 - run > 0 && b[i - run].is_ascii_lowercase() {
                return true;
            }
        } else {
            if run >= 5 && c.is_ascii_lowercase() {
                return true;
            }
            run = 0;
        }
    }
    false
}

fn digit_groups(caps: &Captures) -> String {
    let m = &caps[0];
    let groups: Vec<usize> = m.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).map(str::len).collect();
    let total: usize = groups.iter().sum();
    if total >= 6 || groups.iter().copied().max().unwrap_or(0) >= 3 || groups.len() >= 4 {
        "{n}".to_owned()
    } else {
        m.to_owned()
    }
}

fn scrub_atom(atom: &str) -> String {
    if atom.is_empty() {
        return String::new();
    }
    if all_digits(atom) {
        return "{id}".into();
    }
    if UUID_FULL.is_match(atom) {
        return "{uuid}".into();
    }
    if parse_ip(atom).is_some() {
        return "{ip}".into();
    }
    if is_token(atom) {
        return "{token}".into();
    }
    let atom = UUID.replace_all(atom, "{uuid}");
    DIGIT_GROUPS.replace_all(&atom, digit_groups).into_owned()
}

fn scrub_param(param: &str) -> String {
    if param.is_empty() {
        return String::new();
    }
    if parse_ip(param).is_some() {
        return "{ip}".into();
    }
    let replaced;
    let param = if param.bytes().filter(|&c| c == b':').count() >= 2 {
        replaced = IPV6_LIKE.replace_all(param, |c: &Captures| {
            if parse_ip(&c[0]).is_some() { "{ip}".to_owned() } else { c[0].to_owned() }
        });
        &*replaced
    } else {
        param
    };
    param.split(':').map(scrub_atom).collect::<Vec<_>>().join(":")
}

fn scrub_text(text: &str) -> String {
    if parse_ip(text).is_some() {
        return "{ip}".into();
    }
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, ';' | ',' | '=') {
            out.push_str(&scrub_param(&text[start..i]));
            out.push(c);
            start = i + 1;
        }
    }
    out.push_str(&scrub_param(&text[start..]));
    out
}

fn percent_decoded(segment: &str) -> Option<String> {
    let mut text = unquote(segment).into_owned();
    if text.contains('%') {
        text = unquote(&text).into_owned();
        if text.contains('%') && unquote(&text) != text.as_str() {
            return None;
        }
    }
    Some(text)
}

fn scrub_segment(segment: &str) -> Res<String> {
    if segment.is_empty() {
        return Ok(String::new());
    }
    if segment.contains('@') {
        return Ok("{email}".into());
    }
    if all_digits(segment) {
        return Ok("{id}".into());
    }
    if !segment.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Ok("{invalid}".into());
    }
    if segment.len() > MAX_SEGMENT {
        return Ok("{long}".into());
    }
    let decoded = if segment.contains('%') {
        match percent_decoded(segment) {
            Some(d) => d,
            None => return Ok("{invalid}".into()),
        }
    } else {
        return Ok(scrub_text(segment));
    };
    if has_other_digit(&decoded) {
        return Err(Unsupported);
    }
    if decoded == segment {
        return Ok(scrub_text(segment));
    }
    if decoded.contains('@') {
        return Ok("{email}".into());
    }
    for text in [decoded.as_str(), segment] {
        let scrubbed = scrub_text(text);
        if scrubbed != text {
            let found: String = PLACEHOLDER.find_iter(&scrubbed).map(|m| m.as_str()).collect();
            return Ok(if found.is_empty() { "{invalid}".into() } else { found });
        }
    }
    Ok(segment.to_owned())
}

/// `scrub_path`: numbers, addresses, UUIDs, emails and tokens replaced by placeholders.
pub fn scrub_path(path: &str) -> Res<String> {
    if has_other_digit(path) {
        return Err(Unsupported);
    }
    let path = prefix(path, MAX_PATH);
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&scrub_segment(segment)?);
    }
    Ok(out)
}

/// `origin`: scheme, host and port of a URL, lower case; "invalid" if it is not one.
pub fn origin(referrer: &str) -> String {
    match ORIGIN.captures(referrer) {
        None => "invalid".into(),
        Some(c) => {
            let mut out = c[1].to_ascii_lowercase();
            out.push_str("://");
            out.push_str(&c[2].to_ascii_lowercase());
            if let Some(port) = c.get(3) {
                out.push_str(port.as_str());
            }
            out
        }
    }
}

/// `primary_language`: the first preference's two- or three-letter primary subtag.
pub fn primary_language(accept: &str) -> String {
    let first = accept.split(',').next().unwrap_or("");
    let first = pyish::strip(first.split(';').next().unwrap_or(""));
    if first == "*" || first.is_empty() {
        return "*".into();
    }
    let primary = first.split('-').next().unwrap_or("");
    if (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        primary.to_ascii_lowercase()
    } else {
        "invalid".into()
    }
}

fn plain_alnum(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `make_query_filter`: allow-listed names, values only where the policy keeps them.
pub struct QueryFilter {
    allow: HashSet<String>,
    values: HashSet<String>,
}

impl QueryFilter {
    pub fn new(allow: Vec<String>, values: Vec<String>) -> QueryFilter {
        QueryFilter { allow: allow.into_iter().collect(), values: values.into_iter().collect() }
    }

    /// The kept query, from the raw query bytes (read as Latin-1, as Python does).
    pub fn apply(&self, query: &[u8]) -> Option<String> {
        if query.is_empty() {
            return None;
        }
        let text: String = if query.is_ascii() {
            String::from_utf8_lossy(query).into_owned()
        } else {
            query.iter().map(|&b| b as char).collect()
        };
        let mut kept: Vec<String> = Vec::new();
        for part in text.split('&').take(256) {
            let (raw_name, sep, raw_value) = match part.find('=') {
                Some(i) => (&part[..i], true, &part[i + 1..]),
                None => (part, false, ""),
            };
            let name = if plain_alnum(raw_name) { raw_name.into() } else { unquote_plus(raw_name) };
            if !self.allow.contains(name.as_ref()) {
                continue;
            }
            if sep && self.values.contains(name.as_ref()) {
                let mut item = String::with_capacity(name.len() + 1 + raw_value.len());
                item.push_str(&name);
                item.push('=');
                if plain_alnum(raw_value) {
                    item.push_str(prefix(raw_value, 256));
                } else {
                    quote(prefix(&unquote_plus(raw_value), 256), &mut item);
                }
                kept.push(item);
            } else {
                kept.push(name.into_owned());
            }
        }
        if kept.is_empty() { None } else { Some(kept.join("&")) }
    }
}

/// The session cookie's value, as `_steps._identifier` finds it.
pub struct CookieFinder(Regex);

impl CookieFinder {
    pub fn new(name: &str) -> CookieFinder {
        let s = pyish::SPACE_CLASS;
        CookieFinder(Regex::new(&format!(r#"(?:\A|;){s}*{}="?([^;"]+)"#, regex::escape(name))).unwrap())
    }

    pub fn find<'a>(&self, cookies: &'a str) -> Option<&'a str> {
        self.0.captures(cookies).map(|c| pyish::strip(c.get(1).unwrap().as_str()))
    }
}

#[allow(dead_code)]
pub fn chars(s: &str) -> usize {
    char_len(s)
}
