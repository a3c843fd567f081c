//! Reading text columns whatever Arrow string layout the scan produced, and hashing values for
//! exact distinct counts without keeping the strings.

use std::hash::{BuildHasher, Hasher};
use yishu_lake::arrow::array::{Array, ArrayRef, LargeStringArray, StringArray, StringViewArray};

/// A text column of one Arrow batch.
#[derive(Clone, Copy)]
pub enum Texts<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Texts<'a> {
    pub fn of(a: &'a ArrayRef) -> Option<Self> {
        let any = a.as_any();
        if let Some(s) = any.downcast_ref::<StringArray>() {
            Some(Texts::Utf8(s))
        } else if let Some(s) = any.downcast_ref::<StringViewArray>() {
            Some(Texts::View(s))
        } else {
            any.downcast_ref::<LargeStringArray>().map(Texts::Large)
        }
    }

    /// The value at `i`, or None when it is null.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Texts::Utf8(s) => (!s.is_null(i)).then(|| s.value(i)),
            Texts::Large(s) => (!s.is_null(i)).then(|| s.value(i)),
            Texts::View(s) => (!s.is_null(i)).then(|| s.value(i)),
        }
    }

    /// The value at `i` trimmed, or None when it is null or blank (a missing value).
    #[inline]
    pub fn present(&self, i: usize) -> Option<&'a str> {
        self.get(i).map(str::trim).filter(|s| !s.is_empty())
    }
}

/// The 64-bit hash a value is counted by. With a few million distinct values the chance that two
/// collide is below one in a million.
#[inline]
pub fn hash(s: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5eed_1dea).hash_one(s)
}

/// Keys that are already hashes are used as they are.
#[derive(Default, Clone, Copy)]
pub struct PreHashed;

#[derive(Default)]
pub struct PreHasher(u64);

impl Hasher for PreHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl BuildHasher for PreHashed {
    type Hasher = PreHasher;
    fn build_hasher(&self) -> PreHasher {
        PreHasher(0)
    }
}

/// A map keyed by value hashes.
pub type HashMap<V> = hashbrown::HashMap<u64, V, PreHashed>;
/// A set of value hashes.
pub type HashSet = hashbrown::HashSet<u64, PreHashed>;

/// Characters in a value (bytes when it is ASCII, the common case).
#[inline]
pub fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}
