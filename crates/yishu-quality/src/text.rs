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

/// Many short strings (row references) in one buffer, each kept as a packed offset and length:
/// millions of them cost one allocation instead of millions.
#[derive(Default)]
pub struct Arena {
    text: String,
}

impl Arena {
    /// Stores `s`; the handle gives it back.
    #[inline]
    pub fn push(&mut self, s: &str) -> u64 {
        let at = self.text.len() as u64;
        let len = s.len().min(0xff_ffff);
        self.text.push_str(&s[..s.floor_char_boundary(len)]);
        (at << 24) | (self.text.len() as u64 - at)
    }

    pub fn get(&self, handle: u64) -> &str {
        let at = (handle >> 24) as usize;
        let len = (handle & 0xff_ffff) as usize;
        &self.text[at..at + len]
    }
}

/// Counts of value hashes, exact. Small counts live in one map; past [`Counter::SMALL`] distinct
/// values the hashes are first gathered per partition (by their top byte) and added to that
/// partition's map a few thousand at a time, so the map being filled is small enough to stay in
/// cache instead of every value missing it (the cost of profiling a column of millions of IDs).
#[derive(Default)]
pub struct Counter {
    small: HashMap<u32>,
    parts: Option<Box<Parts>>,
}

struct Parts {
    pending: Vec<Vec<u64>>,
    maps: Vec<HashMap<u32>>,
}

const PARTS: usize = 256;
const FLUSH: usize = 2048;

impl Counter {
    /// Distinct values kept in the single map.
    pub const SMALL: usize = 1 << 16;

    /// Counts one more of `h`. Returns its count so far while the counter is small (None once
    /// counts are gathered per partition and known only at the end).
    #[inline]
    pub fn add(&mut self, h: u64) -> Option<u32> {
        if let Some(p) = self.parts.as_mut() {
            let k = (h >> 56) as usize;
            p.pending[k].push(h);
            if p.pending[k].len() == FLUSH {
                p.flush(k);
            }
            return None;
        }
        let c = self.small.entry(h).or_insert(0);
        *c += 1;
        let c = *c;
        if self.small.len() > Self::SMALL {
            let mut parts = Box::new(Parts {
                pending: (0..PARTS).map(|_| Vec::with_capacity(FLUSH)).collect(),
                maps: (0..PARTS).map(|_| HashMap::default()).collect(),
            });
            for (h, c) in self.small.drain() {
                parts.maps[(h >> 56) as usize].insert(h, c);
            }
            self.parts = Some(parts);
        }
        Some(c)
    }

    /// Adds what is still gathered; call before reading counts.
    pub fn settle(&mut self) {
        if let Some(p) = self.parts.as_mut() {
            for k in 0..PARTS {
                p.flush(k);
            }
        }
    }

    /// Distinct values (after [`Counter::settle`]).
    pub fn len(&self) -> usize {
        match &self.parts {
            Some(p) => p.maps.iter().map(|m| m.len()).sum(),
            None => self.small.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The count of `h` (after [`Counter::settle`]).
    pub fn get(&self, h: u64) -> u32 {
        let map = match &self.parts {
            Some(p) => &p.maps[(h >> 56) as usize],
            None => &self.small,
        };
        map.get(&h).copied().unwrap_or(0)
    }
}

impl Parts {
    fn flush(&mut self, k: usize) {
        let map = &mut self.maps[k];
        for h in self.pending[k].drain(..) {
            *map.entry(h).or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_counts_exactly_past_the_small_map() {
        let mut c = Counter::default();
        let mut want = std::collections::HashMap::new();
        // Three times more distinct values than the single map holds, some repeated.
        for i in 0..(3 * Counter::SMALL as u64) {
            let v = format!("v{}", i % (2 * Counter::SMALL as u64 + 7));
            let got = c.add(hash(&v));
            let n = want.entry(v).or_insert(0u32);
            *n += 1;
            if let Some(got) = got {
                assert_eq!(got, *n);
            }
        }
        c.settle();
        assert_eq!(c.len(), want.len());
        for (v, n) in &want {
            assert_eq!(c.get(hash(v)), *n, "{v}");
        }
        assert_eq!(c.get(hash("never")), 0);
    }

    #[test]
    fn arena_gives_back_what_it_kept() {
        let mut a = Arena::default();
        let x = a.push("people.csv:2");
        let y = a.push("户籍.csv:3");
        assert_eq!(a.get(y), "户籍.csv:3");
        assert_eq!(a.get(x), "people.csv:2");
    }
}
