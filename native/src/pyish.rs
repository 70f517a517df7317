//! Python's string semantics where privlog's transforms rely on them: `str.strip()`'s notion of
//! whitespace, `urllib.parse.unquote`/`quote`, and `\d` (Unicode decimal digits).
//!
//! The transforms only treat ASCII digits as digits; a text holding any other decimal digit is
//! handed back to Python (the caller falls back), since Python's Unicode tables are its own.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// `str.isspace()` for one character (Python 3.10 to 3.14 agree on this set).
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{1f}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// The character class of Python's `\s` in a str pattern, for the `regex` crate.
pub const SPACE_CLASS: &str = r"[\t-\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]";

/// `str.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

static OTHER_DIGIT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[\d&&[^0-9]]").unwrap());

/// True if `s` holds a decimal digit other than 0-9: Python's `\d` would see it, and its Unicode
/// tables may not be ours, so such a text goes back to Python.
pub fn has_other_digit(s: &str) -> bool {
    !s.is_ascii() && OTHER_DIGIT.is_match(s)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `unquote_to_bytes` of an ASCII run, appended to `out`.
fn unquote_bytes(run: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < run.len() {
        let b = run[i];
        if b == b'%' && i + 2 < run.len() {
            if let (Some(h), Some(l)) = (hex(run[i + 1]), hex(run[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
}

/// `urllib.parse.unquote(s)`: escapes are decoded per run of ASCII characters, as UTF-8 with
/// replacement characters; other characters are kept as they are.
pub fn unquote(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut buf = Vec::new();
    while i < bytes.len() {
        let start = i;
        if bytes[i] < 0x80 {
            while i < bytes.len() && bytes[i] < 0x80 {
                i += 1;
            }
            buf.clear();
            unquote_bytes(&bytes[start..i], &mut buf);
            out.push_str(&String::from_utf8_lossy(&buf));
        } else {
            while i < bytes.len() && bytes[i] >= 0x80 {
                i += 1;
            }
            out.push_str(&s[start..i]);
        }
    }
    Cow::Owned(out)
}

/// `urllib.parse.quote(s, safe="")`.
pub fn quote(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// The first `n` characters of `s` (Python's `s[:n]`).
pub fn prefix(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `len(s)` in characters.
pub fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}
