//! The client behind trusted proxies, as `privlog._transforms.address.make_client_resolver`
//! finds it: proxy headers are believed only from a trusted peer, and only the one header the
//! proxies write; the right-most hop that is not itself trusted is the client.

use crate::address::{parse_ip, Packed};
use crate::facts::Client;
use crate::pyish::{char_len, strip};

const MAX_HOPS: usize = 64;
/// A header this long may have been cut by the reader (8 KiB), losing the right-most hops.
const MAX_PROXY_HEADER: usize = 8192;

pub struct Resolver {
    /// (network, mask) of each trusted IPv4 network; IPv4-mapped IPv6 networks come as IPv4.
    pub v4: Vec<(u32, u32)>,
    pub v6: Vec<(u128, u128)>,
    /// The proxies write `Forwarded` (else `X-Forwarded-For`).
    pub forwarded: bool,
}

/// The `for=` values of an RFC 7239 `Forwarded` header, left to right.
fn forwarded_for(header: &str) -> Vec<&str> {
    header
        .split(',')
        .map(|element| {
            let mut value = "";
            for pair in element.split(';') {
                let (key, val) = pair.split_once('=').unwrap_or((pair, ""));
                // str.lower() == "for": no character outside ASCII lowers to an ASCII letter
                // among those a Latin-1 header can hold.
                if strip(key).eq_ignore_ascii_case("for") {
                    value = strip(val).trim_matches('"');
                }
            }
            value
        })
        .collect()
}

impl Resolver {
    fn trusted(&self, p: &Packed) -> bool {
        if p.len == 4 {
            let v = u32::from_be_bytes(p.bytes[..4].try_into().unwrap());
            self.v4.iter().any(|&(net, mask)| v & mask == net)
        } else {
            let v = u128::from_be_bytes(p.bytes);
            self.v6.iter().any(|&(net, mask)| v & mask == net)
        }
    }

    /// The client of a peer address (non-empty) and the proxy headers as read.
    pub fn resolve(&self, peer: &str, forwarded: Option<&str>, xff: Option<&str>) -> Client {
        let Some(mut packed) = parse_ip(peer) else { return Client::Invalid };
        if !self.trusted(&packed) {
            return Client::Address(packed);
        }
        let Some(value) = (if self.forwarded { forwarded } else { xff }) else { return Client::Address(packed) };
        if char_len(value) >= MAX_PROXY_HEADER {
            return Client::Invalid;
        }
        let hops: Vec<&str> = if self.forwarded { forwarded_for(value) } else { value.split(',').collect() };
        if hops.len() > MAX_HOPS {
            return Client::Invalid;
        }
        for hop in hops.iter().rev() {
            let Some(found) = parse_ip(hop) else { return Client::Invalid };
            if !self.trusted(&found) {
                return Client::Address(found);
            }
            packed = found;
        }
        Client::Address(packed) // every hop is a trusted proxy: the left-most one is the client
    }
}
