//! JSONL lines, byte for byte as `privlog.sinks.jsonl.JsonlStore.write` makes them with orjson,
//! and the UTC timestamps of `privlog._steps.IsoFormatter`.

use crate::value::Value;

/// Each byte's escape as orjson writes it: 0 for none, `u` for `\\u00XX`, else the letter.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = b'u';
        c += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` below 0x20 or equal to `"` or `\`. The lowest set bit is
/// exact (a borrow only sets bits above a true one), so it names the first byte to escape.
#[inline]
fn specials(w: u64) -> u64 {
    let quote = w ^ (ONES * b'"' as u64);
    let backslash = w ^ (ONES * b'\\' as u64);
    let below = w.wrapping_sub(ONES * 0x20) & !w;
    (below | (quote.wrapping_sub(ONES) & !quote) | (backslash.wrapping_sub(ONES) & !backslash)) & HIGHS
}

/// A JSON string as orjson writes it: only `"`, `\` and control characters are escaped.
/// Clean runs are found eight bytes at a time and copied in one piece.
pub fn string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if i + 8 <= b.len() {
            let w = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
            let found = specials(w);
            if found == 0 {
                i += 8;
                continue;
            }
            i += (found.trailing_zeros() / 8) as usize;
        }
        let c = b[i];
        let esc = ESCAPE[c as usize];
        if esc != 0 {
            out.extend_from_slice(&b[start..i]);
            out.push(b'\\');
            if esc == b'u' {
                out.extend_from_slice(b"u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            } else {
                out.push(esc);
            }
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// A float as orjson writes it: shortest round-trip digits, plain from 1e-5 up to 1e16.
pub fn float(v: f64, out: &mut Vec<u8>) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let sci = format!("{v:e}"); // shortest round-trip digits, e.g. "-1.25e-7"
    let (mantissa, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if neg {
        out.push(b'-');
    }
    if digits == "0" {
        out.extend_from_slice(b"0.0");
        return;
    }
    if !(-5..16).contains(&exp) {
        out.extend_from_slice(&digits.as_bytes()[..1]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits.as_bytes()[1..]);
        }
        out.extend_from_slice(format!("e{}{}", if exp < 0 { "-" } else { "+" }, exp.abs()).as_bytes());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(digits.as_bytes());
            out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits.as_bytes()[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&digits.as_bytes()[int_len..]);
        }
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
        out.extend_from_slice(digits.as_bytes());
    }
}

/// An int's decimal digits, written without a temporary string.
fn int(i: i128, out: &mut Vec<u8>) {
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    let mut n = i.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

pub fn value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Str(s) => string(s, out),
        Value::Int(i) => int(*i, out),
        Value::Float(f) => float(*f, out),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

/// Seconds since 1970 that `datetime.fromtimestamp` formats with four-digit years.
pub const MAX_SECOND: i128 = 253_402_300_799;

/// `iso_utc(ns)`: `YYYY-MM-DDTHH:MM:SS.mmmZ`; None outside years 1970 to 9999.
pub fn iso_utc(ns: i128) -> Option<String> {
    let bytes = iso_utc_bytes(ns)?;
    Some(crate::value::text(std::str::from_utf8(&bytes).ok()?))
}

/// The bytes of `iso_utc(ns)`, for writing them without a string of their own.
pub fn iso_utc_bytes(ns: i128) -> Option<[u8; 24]> {
    if ns < 0 {
        return None;
    }
    let second = ns / 1_000_000_000;
    if second > MAX_SECOND {
        return None;
    }
    let millis = (ns % 1_000_000_000) / 1_000_000;
    let days = (second / 86_400) as i64;
    let rest = second % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    let mut out = [0u8; 24];
    let mut put = |at: usize, value: i64, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, (rest / 3600) as i64, 2);
    put(14, (rest % 3600 / 60) as i64, 2);
    put(17, (rest % 60) as i64, 2);
    put(20, millis as i64, 3);
    for (at, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (23, b'Z')] {
        out[at] = c;
    }
    Some(out)
}
