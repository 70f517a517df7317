//! Client addresses: the C library's `inet_pton`/`inet_ntop` (the ones Python's `socket` calls,
//! so texts parse and print identically), `parse_ip` as `privlog._ip` does it, and truncation.

use std::ffi::{c_char, c_int, c_void};

extern "C" {
    // The C library's own (glibc, musl, macOS): the functions Python's socket module calls.
    fn inet_pton(af: c_int, src: *const c_char, dst: *mut c_void) -> c_int;
    fn inet_ntop(af: c_int, src: *const c_void, dst: *mut c_char, size: u32) -> *const c_char;
}

use crate::pyish;

/// A packed address: 4 bytes (IPv4) or 16 (IPv6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Packed {
    pub len: u8,
    pub bytes: [u8; 16],
}

impl Packed {
    pub fn from_slice(b: &[u8]) -> Option<Packed> {
        if b.len() != 4 && b.len() != 16 {
            return None;
        }
        let mut bytes = [0u8; 16];
        bytes[..b.len()].copy_from_slice(b);
        Some(Packed { len: b.len() as u8, bytes })
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

fn pton(af: i32, text: &str, out: &mut [u8]) -> bool {
    let b = text.as_bytes();
    if b.len() >= 256 || b.contains(&0) {
        return false; // Python refuses embedded NULs before calling the C library
    }
    let mut buf = [0u8; 256];
    buf[..b.len()].copy_from_slice(b);
    // SAFETY: `buf` is NUL-terminated and `out` is large enough for the family's address.
    unsafe { inet_pton(af, buf.as_ptr().cast(), out.as_mut_ptr() as *mut c_void) == 1 }
}

/// The text of a packed address, as `socket.inet_ntop` writes it.
pub fn ntop(p: &Packed) -> String {
    if p.len == 4 {
        // Dotted decimal has one form: written here, without the C library's printf.
        let mut out = crate::value::spare(15);
        for (i, &b) in p.bytes[..4].iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            if b >= 100 {
                out.push((b'0' + b / 100) as char);
            }
            if b >= 10 {
                out.push((b'0' + b / 10 % 10) as char);
            }
            out.push((b'0' + b % 10) as char);
        }
        return out;
    }
    if ntop6_agrees() {
        return ntop6(&p.bytes);
    }
    libc_ntop(p)
}

/// `inet_ntop` itself (IPv6 where this C library writes addresses differently from `ntop6`).
fn libc_ntop(p: &Packed) -> String {
    let af = if p.len == 4 { libc::AF_INET } else { libc::AF_INET6 };
    let mut buf = [0u8; 64];
    // SAFETY: the source holds the family's address size and `buf` exceeds INET6_ADDRSTRLEN.
    let ok = unsafe {
        !inet_ntop(af, p.bytes.as_ptr() as *const c_void, buf.as_mut_ptr().cast(), buf.len() as u32)
            .is_null()
    };
    if !ok {
        return String::new();
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(0);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// An IPv6 address as glibc's `inet_ntop` writes it (RFC 5952: the longest run of two or more
/// zero groups, the first of equal ones, becomes `::`; lower-case hex; `::a.b.c.d` and
/// `::ffff:a.b.c.d` end in a dotted quad), without its `sprintf` per group.
fn ntop6(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let words: [u16; 8] = std::array::from_fn(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]));
    let (mut best, mut best_len, mut cur, mut cur_len) = (usize::MAX, 0, usize::MAX, 0);
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            if cur == usize::MAX {
                (cur, cur_len) = (i, 1);
            } else {
                cur_len += 1;
            }
        } else if cur != usize::MAX {
            if best == usize::MAX || cur_len > best_len {
                (best, best_len) = (cur, cur_len);
            }
            cur = usize::MAX;
        }
    }
    if cur != usize::MAX && (best == usize::MAX || cur_len > best_len) {
        (best, best_len) = (cur, cur_len);
    }
    if best != usize::MAX && best_len < 2 {
        best = usize::MAX;
    }
    let mut out = crate::value::spare(41);
    let mut i = 0;
    while i < 8 {
        if best != usize::MAX && i >= best && i < best + best_len {
            if i == best {
                out.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)) {
            let mut v4 = [0u8; 16];
            v4[..4].copy_from_slice(&b[12..]);
            out.push_str(&ntop(&Packed { len: 4, bytes: v4 }));
            return out;
        }
        let w = words[i];
        let mut started = false;
        for shift in [12, 8, 4, 0] {
            let d = (w >> shift) & 15;
            if d != 0 || started || shift == 0 {
                out.push(HEX[d as usize] as char);
                started = true;
            }
        }
        i += 1;
    }
    if best != usize::MAX && best + best_len == 8 {
        out.push(':');
    }
    out
}

/// Whether `ntop6` writes what this C library's `inet_ntop` writes (glibc's rules; musl and
/// the BSDs differ at the edges), checked once on addresses that reach every rule.
fn ntop6_agrees() -> bool {
    static AGREES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AGREES.get_or_init(|| {
        const PROBES: [[u16; 8]; 16] = [
            [0; 8],
            [0, 0, 0, 0, 0, 0, 0, 1],
            [1, 0, 0, 0, 0, 0, 0, 0],
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1],
            [0x2001, 0xdb8, 0, 1, 0, 0, 0, 1],
            [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1],
            [1, 0, 2, 0, 3, 0, 4, 0],
            [0, 1, 0, 1, 0, 1, 0, 1],
            [0, 0, 0, 0, 0, 0, 0x102, 0x304],
            [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304],
            [0, 0, 0, 0, 0, 0xfffe, 0x102, 0x304],
            [0, 0, 0, 0, 0, 0, 0, 0x304],
            [0, 0, 0, 0, 0, 0, 0x102, 0],
            [0xfe80, 0, 0, 0, 0xabcd, 0x12, 0xf00, 0xffff],
            [0x2001, 0xdb8, 0x1234, 0x5670, 0, 0, 0, 0],
            [0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff],
        ];
        PROBES.iter().all(|words| {
            let mut bytes = [0u8; 16];
            for (i, w) in words.iter().enumerate() {
                bytes[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
            }
            ntop6(&bytes) == libc_ntop(&Packed { len: 16, bytes })
        })
    })
}

const MAPPED: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// A canonical dotted quad (`203.0.113.9`: four decimal octets, no leading zeros), which every
/// `inet_pton` accepts, read without the C call; anything else is left to `inet_pton`.
fn dotted_quad(text: &str) -> Option<Packed> {
    let mut bytes = [0u8; 16];
    let (mut part, mut value, mut digits) = (0usize, 0u32, 0usize);
    for &b in text.as_bytes() {
        if b == b'.' {
            if digits == 0 || part == 3 {
                return None;
            }
            bytes[part] = value as u8;
            (part, value, digits) = (part + 1, 0, 0);
        } else if b.is_ascii_digit() && digits < 3 && !(digits == 1 && value == 0) {
            value = value * 10 + (b - b'0') as u32;
            digits += 1;
            if value > 255 {
                return None;
            }
        } else {
            return None; // not a digit, a fourth digit, or a digit after a leading zero
        }
    }
    if digits == 0 || part != 3 {
        return None;
    }
    bytes[3] = value as u8;
    Some(Packed { len: 4, bytes })
}

/// `privlog._ip.parse_ip`: the packed address in `text`, or None.
pub fn parse_ip(text: &str) -> Option<Packed> {
    let mut text = pyish::strip(text);
    if text.is_empty() || (text.len() > 64 && pyish::char_len(text) > 64) {
        return None;
    }
    let colons = text.bytes().filter(|&c| c == b':').count();
    if colons == 0 {
        if let Some(fast) = dotted_quad(text) {
            return Some(fast); // the common case: one scan, no C call
        }
        if !text.contains('.') {
            return None; // neither a dotted IPv4 nor an IPv6 text: a word (paths have many)
        }
    }
    if text.starts_with('[') {
        let end = text.find(']')?;
        text = &text[1..end];
    } else if colons == 1 {
        text = text.split(':').next().unwrap_or("");
    }
    if !text.contains(':') {
        if let Some(fast) = dotted_quad(text) {
            return Some(fast);
        }
        let mut out = [0u8; 16];
        return if pton(libc::AF_INET, text, &mut out[..4]) { Some(Packed { len: 4, bytes: out }) } else { None };
    }
    if let Some(pct) = text.find('%') {
        text = &text[..pct];
    }
    let mut out = [0u8; 16];
    if !pton(libc::AF_INET6, text, &mut out) {
        return None;
    }
    if out[..12] == MAPPED {
        let mut v4 = [0u8; 16];
        v4[..4].copy_from_slice(&out[12..]);
        return Some(Packed { len: 4, bytes: v4 });
    }
    Some(Packed { len: 16, bytes: out })
}

/// `privlog._ip.make_truncate`: keep the first bits of an address (6to4 cut like its IPv4).
#[derive(Clone, Copy)]
pub struct Truncate {
    mask4: u32,
    mask6: u128,
    mask_6to4: u128,
}

fn mask32(bits: u32) -> u32 {
    if bits == 0 { 0 } else { u32::MAX << (32 - bits.min(32)) }
}

fn mask128(bits: u32) -> u128 {
    if bits == 0 { 0 } else { u128::MAX << (128 - bits.min(128)) }
}

impl Truncate {
    pub fn new(ipv4_prefix: u32, ipv6_prefix: u32) -> Truncate {
        Truncate {
            mask4: mask32(ipv4_prefix),
            mask6: mask128(ipv6_prefix),
            mask_6to4: mask128(ipv6_prefix.min(16 + ipv4_prefix)),
        }
    }

    pub fn apply(&self, p: &Packed) -> String {
        let mut out = *p;
        if p.len == 4 {
            let v = u32::from_be_bytes(p.bytes[..4].try_into().unwrap()) & self.mask4;
            out.bytes[..4].copy_from_slice(&v.to_be_bytes());
        } else {
            let v = u128::from_be_bytes(p.bytes);
            let mask = if v >> 112 == 0x2002 { self.mask_6to4 } else { self.mask6 };
            out.bytes = (v & mask).to_be_bytes();
        }
        ntop(&out)
    }
}
