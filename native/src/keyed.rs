//! Keyed transforms of one key epoch, as `privlog._keys.KeyRing` derives and applies them:
//! keyed BLAKE2b or HMAC-SHA256 hashes, pseudonyms, AES-SIV tokens and Crypto-PAn.
//!
//! Every key is derived once, when the epoch is added, and wiped (zeroize) when it is dropped.

use aes_siv::siv::Aes256Siv;
use blake2b_simd::{Params, State};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::cryptopan::CryptoPan;

/// What a keyed field does with its value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    Hash,
    Pseudonymise,
    Reversible,
    CryptoPan,
}

impl Action {
    pub fn parse(name: &str) -> Option<Action> {
        match name {
            "hash" => Some(Action::Hash),
            "pseudonymise" => Some(Action::Pseudonymise),
            "reversible" => Some(Action::Reversible),
            "cryptopan" => Some(Action::CryptoPan),
            _ => None,
        }
    }
}

fn blake(data: &[u8], key: &[u8], size: usize) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(Params::new().hash_length(size).key(key).hash(data).as_bytes().to_vec())
}

/// `privlog._keys.derive`: a subkey of `key` for one purpose.
fn derive(key: &[u8], label: &str, size: usize) -> Zeroizing<Vec<u8>> {
    let inner = blake(key, b"", 64);
    blake(label.as_bytes(), &inner, size)
}

/// A keyed BLAKE2b state, wiped when dropped (a state holds its key block until it hashes).
struct KeyedState(State);

impl Drop for KeyedState {
    fn drop(&mut self) {
        // SAFETY: State is plain data without drop glue; its bytes are overwritten and never
        // read as a State again.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(&mut self.0 as *mut State as *mut u8, std::mem::size_of::<State>())
        };
        bytes.zeroize();
    }
}

enum Keyed {
    Blake(KeyedState),
    Hmac(Zeroizing<Vec<u8>>),
    Pseudonym(KeyedState),
    Seal(Zeroizing<Vec<u8>>, Vec<u8>),
}

/// The keys of one epoch, per (action, domain) of the policy's keyed fields.
pub struct EpochKeys {
    pub key_id: String,
    /// One keyed function per (action, domain) the policy uses, in the policy's order.
    fns: Vec<Option<Keyed>>,
    cryptopan: Option<CryptoPan>,
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64url(data: &[u8], out: &mut String) {
    for chunk in data.chunks(3) {
        let n = chunk.len();
        let v = (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..=n {
            out.push(B64[((v >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
}

fn hex(data: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in data {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

impl EpochKeys {
    /// Derive everything the policy's keyed fields need under `master`.
    pub fn new(master: &[u8], hmac: bool, key_id: String, uses: &[(Action, String)]) -> EpochKeys {
        let hash_key = derive(master, "privlog hash v1", 32);
        let pseudonym_key = derive(master, "privlog pseudonym v1", 32);
        let mut fns = Vec::with_capacity(uses.len());
        let mut cryptopan = None;
        for (action, domain) in uses {
            let keyed = match action {
                Action::Hash => {
                    let key = blake(domain.as_bytes(), &hash_key, 32);
                    if hmac {
                        Keyed::Hmac(key)
                    } else {
                        Keyed::Blake(KeyedState(Params::new().hash_length(16).key(&key).to_state()))
                    }
                }
                Action::Pseudonymise => {
                    let key = blake(domain.as_bytes(), &pseudonym_key, 32);
                    Keyed::Pseudonym(KeyedState(Params::new().hash_length(15).key(&key).to_state()))
                }
                Action::Reversible => Keyed::Seal(derive(master, "privlog aes-siv v1", 64), domain.as_bytes().to_vec()),
                Action::CryptoPan => {
                    if cryptopan.is_none() {
                        cryptopan = Some(CryptoPan::new(&derive(master, "privlog crypto-pan v1", 32)));
                    }
                    fns.push(None);
                    continue;
                }
            };
            fns.push(Some(keyed));
        }
        EpochKeys { key_id, fns, cryptopan }
    }

    /// The keyed text of `value` for the policy's `index`-th (action, domain) pair; None where
    /// Python would raise (AES-SIV of nothing).
    pub fn apply(&self, index: usize, value: &[u8]) -> Option<String> {
        let Some(keyed) = self.fns.get(index)?.as_ref() else {
            let packed = crate::address::Packed::from_slice(value)?;
            return Some(crate::address::ntop(&self.cryptopan.as_ref()?.anonymise(&packed)));
        };
        let mut out = crate::value::spare(32);
        match keyed {
            Keyed::Blake(state) => {
                let mut s = state.0.clone();
                s.update(value);
                hex(s.finalize().as_bytes(), &mut out);
            }
            Keyed::Hmac(key) => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
                mac.update(value);
                hex(&mac.finalize().into_bytes()[..16], &mut out);
            }
            Keyed::Pseudonym(state) => {
                let mut s = state.0.clone();
                s.update(value);
                b64url(s.finalize().as_bytes(), &mut out);
            }
            Keyed::Seal(key, domain) => {
                if value.is_empty() {
                    return None; // cryptography's versions differ on empty data: Python decides
                }
                let mut cipher = <Aes256Siv as aes_siv::KeyInit>::new_from_slice(key).ok()?;
                let sealed = cipher.encrypt([domain.as_slice()], value).ok()?;
                out.push_str("r1.");
                b64url(&sealed, &mut out);
            }
        }
        Some(out)
    }
}
