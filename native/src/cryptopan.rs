//! Crypto-PAn (Xu, Fan, Ammar and Moon), bit for bit as `privlog._cryptopan` and the reference.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use zeroize::Zeroize;

use crate::address::Packed;

pub struct CryptoPan {
    cipher: Aes128,
    pad: u128,
}

impl Drop for CryptoPan {
    fn drop(&mut self) {
        self.pad.zeroize(); // the cipher's round keys are wiped by aes's own zeroize feature
    }
}

impl CryptoPan {
    pub fn new(key: &[u8]) -> CryptoPan {
        let cipher = Aes128::new_from_slice(&key[..16]).expect("16-byte AES key");
        let mut block = aes::Block::clone_from_slice(&key[16..32]);
        cipher.encrypt_block(&mut block);
        let pad = u128::from_be_bytes(block.into());
        block.zeroize();
        CryptoPan { cipher, pad }
    }

    /// The pseudonym of a packed address, of the same length.
    pub fn anonymise(&self, p: &Packed) -> Packed {
        let bits: u32 = if p.len == 4 { 32 } else { 128 };
        let value: u128 = if p.len == 4 {
            (u32::from_be_bytes(p.bytes[..4].try_into().unwrap()) as u128) << 96
        } else {
            u128::from_be_bytes(p.bytes)
        };
        let mut blocks: Vec<aes::Block> = (0..bits)
            .map(|i| {
                let keep = if i == 0 { 0 } else { u128::MAX << (128 - i) };
                let block = (value & keep) | (self.pad & !keep);
                aes::Block::from(block.to_be_bytes())
            })
            .collect();
        self.cipher.encrypt_blocks(&mut blocks);
        let mut flips: u128 = 0;
        for (i, b) in blocks.iter().enumerate() {
            flips |= ((b[0] >> 7) as u128) << (127 - i);
        }
        let out = value ^ flips;
        let mut bytes = [0u8; 16];
        if p.len == 4 {
            bytes[..4].copy_from_slice(&((out >> 96) as u32).to_be_bytes());
        } else {
            bytes = out.to_be_bytes();
        }
        Packed { len: p.len, bytes }
    }
}
