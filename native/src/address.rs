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
        let mut out = String::with_capacity(15);
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
