//! Access log lines in nginx's and Apache's `combined` format, read as
//! `privlog._ops.logformats.CombinedFormat.parse` reads them with its regex. Lines are Latin-1
//! (one byte, one character), as Python decodes them; the regex is read by hand, since every
//! part of it matches in one way only (a `\S+` ends at a space, a quoted string at its first
//! unescaped quote, and the optional fields are taken whenever they match).

use std::borrow::Cow;


/// The fields of one `combined` line, still escaped as the log has them.
pub struct Combined<'a> {
    pub peer: &'a [u8],
    pub user: &'a [u8],
    pub time: &'a [u8],
    pub request: &'a [u8],
    pub status: &'a [u8],
    pub size: &'a [u8],
    /// Referrer and user agent (both or neither, as in the format).
    pub referer_ua: Option<(&'a [u8], &'a [u8])>,
    /// The quoted field after them (nginx's `main` format: `$http_x_forwarded_for`).
    pub extra: Option<&'a [u8]>,
    pub rest: &'a [u8],
}

/// `str.isspace()` of each Latin-1 character, looked up.
const SPACE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b, 0x09..=0x0d | 0x1c..=0x20 | 0x85 | 0xa0);
        b += 1;
    }
    table
};

fn space(b: u8) -> bool {
    SPACE[b as usize]
}

/// `(\S+) ` at `pos`: the run and the position after the space.
fn word(line: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let end = pos + line[pos..].iter().position(|&b| space(b)).unwrap_or(line.len() - pos);
    (end > pos && line.get(end) == Some(&b' ')).then(|| (&line[pos..end], end + 1))
}

/// `"([^"\\]*(?:\\.[^"\\]*)*)"` at `pos`: the content and the position after the quote.
fn quoted(line: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    if line.get(pos) != Some(&b'"') {
        return None;
    }
    let mut i = pos + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', line.get(i..)?)?;
        if line[i] == b'"' {
            return Some((&line[pos + 1..i], i + 1));
        }
        line.get(i + 1)?; // a backslash escapes the next byte, whatever it is
        i += 2;
    }
}

/// ` "..."` at `pos`.
fn spaced_quoted(line: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    if line.get(pos) != Some(&b' ') {
        return None;
    }
    quoted(line, pos + 1)
}

/// The regex `(\S+) \S+ (\S+) \[([^\]]*)\] "…" (\d{3}|-) (\d+|-)(?: "…" "…")?(?: "…")?(.*)`.
pub fn combined(line: &[u8]) -> Option<Combined<'_>> {
    let (peer, pos) = word(line, 0)?;
    let (_, pos) = word(line, pos)?;
    let (user, pos) = word(line, pos)?;
    if line.get(pos) != Some(&b'[') {
        return None;
    }
    let close = pos + 1 + memchr::memchr(b']', &line[pos + 1..])?;
    let time = &line[pos + 1..close];
    if line.get(close + 1) != Some(&b' ') {
        return None;
    }
    let (request, mut pos) = quoted(line, close + 2)?;
    if line.get(pos) != Some(&b' ') {
        return None;
    }
    pos += 1;
    let status = if line.len() >= pos + 4 && line[pos..pos + 3].iter().all(u8::is_ascii_digit) && line[pos + 3] == b' ' {
        &line[pos..pos + 3]
    } else if line.get(pos) == Some(&b'-') && line.get(pos + 1) == Some(&b' ') {
        &line[pos..pos + 1]
    } else {
        return None;
    };
    pos += status.len() + 1;
    let digits = line[pos..].iter().take_while(|b| b.is_ascii_digit()).count();
    let size = if digits > 0 {
        &line[pos..pos + digits]
    } else if line.get(pos) == Some(&b'-') {
        &line[pos..pos + 1]
    } else {
        return None;
    };
    pos += size.len();
    let mut referer_ua = None;
    if let Some((referer, p)) = spaced_quoted(line, pos) {
        if let Some((ua, p)) = spaced_quoted(line, p) {
            referer_ua = Some((referer, ua));
            pos = p;
        }
    }
    let mut extra = None;
    if let Some((found, p)) = spaced_quoted(line, pos) {
        extra = Some(found);
        pos = p;
    }
    Some(Combined { peer, user, time, request, status, size, referer_ua, extra, rest: &line[pos..] })
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `privlog._ops.logline.unescape`: nginx's `\xHH` and Apache's `\"`, `\\`, `\n`… undone.
pub fn unescape(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.contains(&b'\\') {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b != b'\\' || i + 1 >= text.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let c = text[i + 1];
        if c == b'x' {
            if let (Some(h), Some(l)) = (text.get(i + 2).and_then(|&x| hex(x)), text.get(i + 3).and_then(|&x| hex(x))) {
                out.push(h * 16 + l);
                i += 4;
                continue;
            }
        }
        out.push(match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'b' => 8,
            b'v' => 11,
            other => other,
        });
        i += 2;
    }
    Cow::Owned(out)
}

/// Latin-1 bytes as text, borrowed when they are ASCII.
pub fn latin1_cow(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) if b.is_ascii() => Cow::Borrowed(s),
        _ => Cow::Owned(latin1(b)),
    }
}

/// Latin-1 bytes as text.
pub fn latin1(b: &[u8]) -> String {
    if b.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return unsafe { String::from_utf8_unchecked(b.to_vec()) };
    }
    b.iter().map(|&c| c as char).collect()
}

const MONTHS: [&[u8]; 12] = [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

fn num(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, &d| d.is_ascii_digit().then(|| n * 10 + (d - b'0') as i64))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn month_days(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `privlog._ops.logline.ClfTime`: `10/Oct/2000:13:55:36 -0700` as ns since the epoch.
pub fn clf_time(t: &[u8]) -> Option<i128> {
    if t.len() != 26 || t[2] != b'/' || t[6] != b'/' || t[11] != b':' || t[14] != b':' || t[17] != b':' || t[20] != b' ' {
        return None;
    }
    let (day, year, hour, minute, second) = (num(&t[0..2])?, num(&t[7..11])?, num(&t[12..14])?, num(&t[15..17])?, num(&t[18..20])?);
    let (oh, om) = (num(&t[22..24])?, num(&t[24..26])?);
    let sign = match t[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let month = MONTHS.iter().position(|m| *m == &t[3..6])? as i64 + 1;
    if year < 1 || day < 1 || day > month_days(year, month) || hour > 23 || minute > 59 || second > 59 {
        return None; // datetime() refuses it
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - sign * (oh * 3600 + om * 60);
    Some(seconds as i128 * 1_000_000_000)
}

/// `str.isalpha()` of a Latin-1 text.
fn is_alpha(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|&c| c.is_ascii_alphabetic() || matches!(c, 0xaa | 0xb5 | 0xba | 0xc0..=0xd6 | 0xd8..=0xf6 | 0xf8..=0xff))
}

/// The request line: method, target (escaped as sent) and `network.protocol.version`; the
/// Python fast path (`GET /x HTTP/1.1`) first, then `REQUEST_LINE` on the unescaped text.
pub fn request(raw: &[u8]) -> Option<(Cow<'_, [u8]>, Cow<'_, [u8]>, Option<Cow<'static, str>>)> {
    let mut parts = raw.splitn(4, |&b| b == b' ');
    let parts = [parts.next().unwrap_or(b""), parts.next().unwrap_or(b""), parts.next().unwrap_or(b""), parts.next().unwrap_or(b"")];
    let three = raw.iter().filter(|&&b| b == b' ').count() == 2;
    if three && !raw.contains(&b'\\') && is_alpha(parts[0]) {
        let version = match parts[2] {
            b"HTTP/1.0" => Some("1.0"),
            b"HTTP/1.1" => Some("1.1"),
            b"HTTP/2.0" => Some("2"),
            b"HTTP/3.0" => Some("3"),
            _ => None,
        };
        if version.is_some() {
            return Some((Cow::Borrowed(parts[0]), Cow::Borrowed(parts[1]), version.map(Cow::Borrowed)));
        }
    }
    let text = unescape(raw);
    let t: &[u8] = &text;
    let n = t.iter().take_while(|&&b| b.is_ascii_alphabetic() || b == b'_' || b == b'-').count();
    if n == 0 || n > 20 || t.get(n) != Some(&b' ') {
        return None;
    }
    let start = n + 1;
    let end = start + t[start..].iter().position(|&b| space(b)).unwrap_or(t.len() - start);
    if end == start {
        return None;
    }
    let tail = &t[end..];
    let version = match tail {
        b"" => None,
        [b' ', b'H', b'T', b'T', b'P', b'/', d] if d.is_ascii_digit() => Some(version_of(&[*d])),
        [b' ', b'H', b'T', b'T', b'P', b'/', d, b'.', e] if d.is_ascii_digit() && e.is_ascii_digit() => {
            Some(version_of(&[*d, b'.', *e]))
        }
        _ => return None,
    };
    Some((Cow::Owned(t[..n].to_vec()), Cow::Owned(t[start..end].to_vec()), version))
}

/// `http_version()` of a `\d(?:\.\d)?`: "2.0" and "3.0" lose their ".0".
fn version_of(v: &[u8]) -> Cow<'static, str> {
    match v {
        b"2.0" => Cow::Borrowed("2"),
        b"3.0" => Cow::Borrowed("3"),
        _ => Cow::Owned(latin1(v)),
    }
}

/// `slot` set to the Latin-1 text of `b`, in the buffer it already holds (lines reuse them).
pub fn fill(slot: &mut Option<String>, b: &[u8]) {
    let mut text = slot.take().unwrap_or_default();
    text.clear();
    if b.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        text.push_str(unsafe { std::str::from_utf8_unchecked(b) });
    } else {
        text.extend(b.iter().map(|&c| c as char));
    }
    *slot = Some(text);
}
