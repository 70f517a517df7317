//! Generalisers of text values, as `privlog._generalise` does them: path scrubbing, referrer
//! origin, primary language and the query allow-list. Each returns `Err(Unsupported)` where the
//! Python reference relies on semantics ported only for ASCII (see `pyish`): the caller then
//! hands the capture back to Python.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::address::parse_ip;
use crate::pyish::{self, char_len, has_other_digit, prefix, quote, unquote};
use crate::shapes::Shape;

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

/// A host that is an address: an IPv6 literal, or a last label that is a number.
static ADDRESS_HOST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\A(?:\[.*|(?:.*\.)?(?:[0-9]+|0x[0-9a-f]*)\.?)\z").unwrap());
/// A host name that spells an IPv4 address (Python's one pattern with a back-reference to its
/// separator is these two).
static EMBEDDED_DOTS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\A|[.-])[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?:\z|[.-])").unwrap());
static EMBEDDED_DASHES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\A|[.-])[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}(?:\z|[.-])").unwrap());

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

static WORD_CASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\A(?:[A-Z]+|[A-Z]?[a-z]+|[A-Za-z][a-z]{2,}(?:[A-Z][a-z]{2,}){1,2}(?:[A-Z]{2,4})?|[A-Za-z][a-z]{2,}[A-Z]{2,4})\z").unwrap()
});
static ONSET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)\A(?:.?[aeiouy]|.\z|bl|br|ch|cl|cr|cz|dj|dr|dw|fl|fr|gh|gl|gn|gr|kl|kn|kr|mn|ph|pl|pn|pr|ps|qu|rh|sc|sh",
        r"|sk|sl|sm|sn|sp|sq|st|sv|sw|th|tr|ts|tw|vl|wh|wr|zw)"
    ))
    .unwrap()
});
static CONSONANT_RUN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^aeiouyAEIOUY]{5}").unwrap());
static RARE_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        "(?i:",
        "bx|cj|cx|cz|dz|fj|fk|fz|gj|gk|gq|gx|hj|hq|hx|jb|jd|jf|jg|jh|jj|jl|jm|jn|jq|jr|jt|jv|jw|jx|",
        "jy|jz|kj|kx|kz|lq|mj|mq|mx|mz|oq|pj|px|pz|qb|qe|qf|qg|qh|qi|qj|qk|qm|qo|qv|qw|qx|qy|qz|rj|",
        "uj|uq|vd|vj|vk|vq|vx|wj|wq|wz|xg|xj|xk|xq|yj|yq|zb|zg|zh|zj|zk|zn|zp|zq|zv|zw|zx",
        ")"
    ))
    .unwrap()
});

/// `str.islower()` / `str.isupper()` of ASCII text.
fn is_lower(w: &str) -> bool {
    w.bytes().any(|c| c.is_ascii_lowercase()) && !w.bytes().any(|c| c.is_ascii_uppercase())
}

fn is_upper(w: &str) -> bool {
    w.bytes().any(|c| c.is_ascii_uppercase()) && !w.bytes().any(|c| c.is_ascii_lowercase())
}

/// `str.istitle()` of a word of ASCII letters.
fn is_title(w: &str) -> bool {
    let b = w.as_bytes();
    !b.is_empty() && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_lowercase)
}

fn case_changes(w: &str) -> usize {
    w.as_bytes().windows(2).filter(|p| {
        (p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase()) || (p[0].is_ascii_uppercase() && p[1].is_ascii_lowercase())
    }).count()
}

/// `_PIECE.findall`: `[A-Z]?[a-z]+|[A-Z]+(?![a-z])`.
fn pieces(w: &str) -> Vec<&str> {
    let b = w.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i;
        if b[j].is_ascii_uppercase() {
            j += 1;
        }
        let k = j;
        while j < n && b[j].is_ascii_lowercase() {
            j += 1;
        }
        if j > k {
            out.push(&w[i..j]);
            i = j;
            continue;
        }
        if b[i].is_ascii_uppercase() {
            let mut e = i;
            while e < n && b[e].is_ascii_uppercase() {
                e += 1;
            }
            if e < n && b[e].is_ascii_lowercase() {
                e -= 1; // the last capital starts the next piece
            }
            if e > i {
                out.push(&w[i..e]);
                i = e;
                continue;
            }
        }
        i += 1;
    }
    out
}

fn readable(word: &str) -> bool {
    if word.len() == 1 {
        return true;
    }
    if !WORD_CASE.is_match(word) {
        return false;
    }
    let short = if is_lower(word) || is_upper(word) { 5 } else { 1 };
    let pieces = pieces(word);
    let last = pieces.len().wrapping_sub(1);
    pieces.iter().enumerate().all(|(i, p)| {
        p.len() <= short
            || (i == last && i > 0 && is_upper(p))
            || (p.bytes().any(|c| b"aeiouyAEIOUY".contains(&c))
                && ONSET.is_match(p)
                && !CONSONANT_RUN.is_match(p)
                && !RARE_PAIR.is_match(p))
    })
}

fn letter_digit(w: &str) -> bool {
    w.as_bytes().windows(2).any(|p| {
        (p[0].is_ascii_alphabetic() && p[1].is_ascii_digit()) || (p[0].is_ascii_digit() && p[1].is_ascii_alphabetic())
    })
}

/// `_is_token`: 12+ token characters that are not readable words (a generated secret).
fn is_token(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 12 || !b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'~' | b'+')) {
        return false;
    }
    if b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    let mut words: Vec<&str> = text.split(['-', '_', '.', '~', '+']).filter(|w| !w.is_empty()).collect();
    if b.iter().any(u8::is_ascii_digit) {
        let mixed: Vec<&&str> = words.iter().filter(|w| letter_digit(w)).collect();
        if mixed.len() > 1 || mixed.iter().any(|w| w.len() > 4 || !(is_lower(w) || is_upper(w))) {
            return true;
        }
        words.retain(|w| !w.bytes().any(|c| c.is_ascii_digit()));
    }
    let changes: usize = words.iter().map(|w| case_changes(w)).sum();
    if changes >= 3 + words.iter().filter(|w| is_title(w)).count() {
        return true;
    }
    !words.iter().all(|w| readable(w))
}

/// `_ip_or_text`: an address-like run, or the longest colon-bounded piece of it that parses.
fn ip_or_text(text: &str) -> String {
    if parse_ip(text).is_some() {
        return "{ip}".into();
    }
    let colons: Vec<usize> = text.bytes().enumerate().filter(|(_, c)| *c == b':').map(|(i, _)| i).collect();
    let mut cuts: Vec<usize> = vec![0, text.len()];
    cuts.extend(colons.iter().copied());
    cuts.extend(colons.iter().map(|i| i + 1));
    cuts.sort_unstable();
    cuts.dedup();
    let mut lengths: Vec<usize> =
        cuts.iter().flat_map(|a| cuts.iter().filter(move |b| **b > *a + 2).map(move |b| b - a)).collect();
    lengths.sort_unstable_by(|x, y| y.cmp(x));
    lengths.dedup();
    for length in lengths {
        for &a in &cuts {
            if cuts.binary_search(&(a + length)).is_ok() {
                let piece = &text[a..a + length];
                if piece.contains(':') && parse_ip(piece).is_some() {
                    return format!("{}{{ip}}{}", &text[..a], &text[a + length..]);
                }
            }
        }
    }
    text.to_owned()
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
    // A UUID is at least 32 characters, and a digit group needs a digit: most words skip both.
    let uuid_sized = atom.len() >= 32;
    if uuid_sized && UUID_FULL.is_match(atom) {
        return "{uuid}".into();
    }
    if parse_ip(atom).is_some() {
        return "{ip}".into();
    }
    if is_token(atom) {
        return "{token}".into();
    }
    let atom = if uuid_sized { UUID.replace_all(atom, "{uuid}") } else { Cow::Borrowed(atom) };
    if !atom.bytes().any(|b| b.is_ascii_digit()) {
        return atom.into_owned();
    }
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
        replaced = IPV6_LIKE.replace_all(param, |c: &Captures| ip_or_text(&c[0]));
        &*replaced
    } else {
        param
    };
    if !param.contains(':') {
        return scrub_atom(param); // one atom: nothing to join
    }
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

const ORIGIN_CACHE: usize = 4096;

thread_local! {
    /// Referrers repeat (a site's own pages, a few search engines): their origins, per thread,
    /// emptied when full so memory stays bounded.
    static ORIGINS: std::cell::RefCell<HashMap<String, String>> = std::cell::RefCell::new(HashMap::new());
}

/// `origin`: scheme, host and port of a URL, lower case; "invalid" if it is not one.
pub fn origin(referrer: &str) -> String {
    if let Some(found) = ORIGINS.with(|c| c.borrow().get(referrer).map(|o| crate::value::text(o))) {
        return found;
    }
    let out = origin_of(referrer);
    ORIGINS.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= ORIGIN_CACHE {
            cache.clear();
        }
        cache.insert(referrer.to_owned(), out.clone());
    });
    out
}

fn origin_of(referrer: &str) -> String {
    match ORIGIN.captures(referrer) {
        None => "invalid".into(),
        Some(c) => {
            let mut out = c[1].to_ascii_lowercase();
            out.push_str("://");
            let host = c[2].to_ascii_lowercase();
            let address = ADDRESS_HOST.is_match(&host) || EMBEDDED_DOTS.is_match(&host) || EMBEDDED_DASHES.is_match(&host);
            out.push_str(if address { "{ip}" } else { &host });
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

/// `_unquote` of a query name or value: `+` and escapes decoded from the bytes, then UTF-8.
fn unquote_query(raw: &[u8]) -> String {
    if !raw.is_empty() && raw.iter().all(u8::is_ascii_alphanumeric) {
        return String::from_utf8_lossy(raw).into_owned();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hexval(raw[i + 1]), hexval(raw[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(if c == b'+' { b' ' } else { c });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hexval(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `make_query_filter`: allow-listed names; a value only where the policy declares its shape
/// and the value fits (else the name alone, and the value counts as rejected).
pub struct QueryFilter {
    allow: HashSet<String>,
    shapes: HashMap<String, Shape>,
}

impl QueryFilter {
    pub fn new(allow: Vec<String>, shapes: HashMap<String, Shape>) -> QueryFilter {
        QueryFilter { allow: allow.into_iter().collect(), shapes }
    }

    /// The kept query and the number of values rejected, from the raw query bytes.
    pub fn apply(&self, query: &[u8]) -> (Option<String>, usize) {
        if query.is_empty() {
            return (None, 0);
        }
        let mut kept: Vec<String> = Vec::new();
        let mut rejected = 0;
        for part in query.split(|&c| c == b'&').take(256) {
            let (raw_name, raw_value) = match part.iter().position(|&c| c == b'=') {
                Some(i) => (&part[..i], Some(&part[i + 1..])),
                None => (part, None),
            };
            let name = unquote_query(raw_name);
            if !self.allow.contains(&name) {
                continue;
            }
            if let (Some(shape), Some(raw)) = (self.shapes.get(&name), raw_value) {
                if let Some(value) = shape.apply(&unquote_query(&raw[..raw.len().min(1024)])) {
                    let mut item = name.clone();
                    item.push('=');
                    quote(&value, &mut item);
                    kept.push(item);
                    continue;
                }
                rejected += 1;
            }
            kept.push(name);
        }
        (if kept.is_empty() { None } else { Some(kept.join("&")) }, rejected)
    }
}

/// The session cookie's value, as `_steps._identifier` finds it.
pub struct CookieFinder {
    /// `(?:^|;)\s*NAME="?([^;"]+)`, for a name that starts with white space (its `\s*` backtracks).
    regex: Option<Regex>,
    /// `NAME=`, found by hand otherwise: the same first match, without a regex per record.
    name_eq: String,
}

impl CookieFinder {
    pub fn new(name: &str) -> CookieFinder {
        let s = pyish::SPACE_CLASS;
        let regex = name
            .starts_with(pyish::is_space)
            .then(|| Regex::new(&format!(r#"(?:\A|;){s}*{}="?([^;"]+)"#, regex::escape(name))).unwrap());
        CookieFinder { regex, name_eq: format!("{name}=") }
    }

    /// The value of the first match, as Python's `re.search` of the pattern finds it: at the
    /// start or after each `;` in turn, white space, `NAME=`, an optional quote, then one or more
    /// characters up to a `;` or a quote; stripped.
    pub fn find<'a>(&self, cookies: &'a str) -> Option<&'a str> {
        if let Some(regex) = &self.regex {
            return regex.captures(cookies).map(|c| pyish::strip(c.get(1).unwrap().as_str()));
        }
        let starts = std::iter::once(0).chain(cookies.match_indices(';').map(|(i, _)| i + 1));
        for start in starts {
            let rest = cookies[start..].trim_start_matches(pyish::is_space);
            let Some(rest) = rest.strip_prefix(self.name_eq.as_str()) else { continue };
            let rest = rest.strip_prefix('"').unwrap_or(rest);
            let end = rest.find([';', '"']).unwrap_or(rest.len());
            if end > 0 {
                return Some(pyish::strip(&rest[..end]));
            }
        }
        None
    }
}

#[allow(dead_code)]
pub fn chars(s: &str) -> usize {
    char_len(s)
}
