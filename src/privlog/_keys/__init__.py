"""Keys: key rings per epoch, static and ratcheting key sources, and the keyed transforms they drive
(keyed hashes, pseudonyms, Crypto-PAn, AES-SIV)."""
