//! The 64-bit key hashes hash columns hold, the set of hashes a pick looks for, and the bitmap
//! probe in front of it.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// The hash a hash column holds for a row's key cells: the first 8 bytes of BLAKE3 over the
/// cells separated by U+001F. Files keep it, so it must not change between versions.
pub fn key_hash(parts: &[&str]) -> i64 {
    let mut h = blake3::Hasher::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(&[0x1f]);
        }
        h.update(p.as_bytes());
    }
    let bytes: [u8; 8] = h.finalize().as_bytes()[..8]
        .try_into()
        .expect("a BLAKE3 hash has 32 bytes");
    i64::from_le_bytes(bytes)
}

/// Key hashes to look for: already uniform, so the set hashes them by identity.
pub type KeyHashes = HashSet<i64, BuildHasherDefault<Identity>>;

/// The hasher of [`KeyHashes`]: the key hash is the hash.
#[derive(Default)]
pub struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_i64(&mut self, i: i64) {
        self.0 = i as u64;
    }
}

/// [`KeyHashes`] with a bitmap in front: most rows of a big table are not looked for, and one
/// bit (of a map that stays in cache) says so, where the set would take a probe.
pub(super) struct Probe<'a> {
    bits: Vec<u64>,
    mask: u64,
    set: &'a KeyHashes,
}

impl<'a> Probe<'a> {
    pub(super) fn new(set: &'a KeyHashes) -> Self {
        // About 32 bits per hash looked for: one row in 32 passes the bitmap by chance.
        let len = (set.len() * 32).next_power_of_two().clamp(1 << 12, 1 << 24);
        let mut bits = vec![0u64; len / 64];
        let mask = len as u64 - 1;
        for h in set {
            let b = (*h as u64) & mask;
            bits[(b / 64) as usize] |= 1 << (b % 64);
        }
        Probe { bits, mask, set }
    }

    pub(super) fn contains(&self, h: i64) -> bool {
        let b = (h as u64) & self.mask;
        self.bits[(b / 64) as usize] & (1 << (b % 64)) != 0 && self.set.contains(&h)
    }
}
