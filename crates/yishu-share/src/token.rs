//! Format-preserving tokens (FF1, NIST SP 800-38G, over the SM4 block cipher of GB/T 32907) and
//! keyed SM3 digests. A token keeps a value's shape — an identity number stays 18 characters with
//! digits where digits were, a two-character name stays two Chinese characters — so consumer
//! systems that check formats accept it, and the same value under the same key gives the same
//! token, so a consumer joins two granted tables on it without ever seeing the number.

use fpe::ff1::{FF1, FlexibleNumeralString};
use hmac::{Hmac, KeyInit, Mac};
use sm3::{Digest, Sm3};
use sm4::Sm4;

/// The CJK Unified Ideographs block: the characters names and addresses are written in.
const CJK_FIRST: u32 = 0x4E00;
const CJK_LAST: u32 = 0x9FFF;
const CJK_RADIX: u32 = CJK_LAST - CJK_FIRST + 1;

/// FF1 needs radix^len ≥ 1,000,000: six digits, two Chinese characters.
const MIN_DIGITS: usize = 6;
const MIN_CJK: usize = 2;

/// The keys of one consumer's tokens and digests.
#[derive(Clone)]
pub struct Tokens {
    sm4_key: [u8; 16],
    /// HMAC-SM3 keyed once: each digest then hashes the value, not the key's pads again.
    mac: Hmac<Sm3>,
}

impl Tokens {
    /// Keys derived from `key`: SM3(key ‖ "ff1-sm4")[..16] for SM4, `key` itself for HMAC-SM3.
    pub fn new(key: &[u8]) -> Tokens {
        let mut h = Sm3::new();
        h.update(key);
        h.update(b"ff1-sm4");
        let d = h.finalize();
        let mut sm4_key = [0u8; 16];
        sm4_key.copy_from_slice(&d[..16]);
        Tokens {
            sm4_key,
            mac: <Hmac<Sm3> as KeyInit>::new_from_slice(key)
                .expect("HMAC takes a key of any length"),
        }
    }

    fn mac(&self, value: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SM3 of the value, hex.
    pub fn digest(&self, value: &str) -> String {
        hex::encode(self.mac(value))
    }

    /// The value's token: its digits enciphered among themselves (radix 10), its Chinese
    /// characters among themselves (radix 20,992), every other character kept. A run too short
    /// for FF1's minimum domain is replaced from the value's digest instead, still in shape.
    pub fn token(&self, value: &str) -> String {
        let mut chars: Vec<char> = value.chars().collect();
        let mac = self.mac(value);
        let digit_at: Vec<usize> = (0..chars.len())
            .filter(|&i| chars[i].is_ascii_digit())
            .collect();
        let cjk_at: Vec<usize> = (0..chars.len())
            .filter(|&i| (CJK_FIRST..=CJK_LAST).contains(&(chars[i] as u32)))
            .collect();
        let digits: Vec<u16> = digit_at
            .iter()
            .map(|&i| chars[i] as u16 - b'0' as u16)
            .collect();
        let digits = if digits.len() >= MIN_DIGITS {
            self.ff1(10, digits)
        } else {
            (0..digits.len()).map(|i| u16::from(mac[i] % 10)).collect()
        };
        for (&i, d) in digit_at.iter().zip(digits) {
            chars[i] = char::from(b'0' + d as u8);
        }
        let cjk: Vec<u16> = cjk_at
            .iter()
            .map(|&i| (chars[i] as u32 - CJK_FIRST) as u16)
            .collect();
        let cjk = if cjk.len() >= MIN_CJK {
            self.ff1(CJK_RADIX, cjk)
        } else {
            (0..cjk.len())
                .map(|i| {
                    let v = u16::from_be_bytes([mac[8 + 2 * i], mac[9 + 2 * i]]);
                    (u32::from(v) % CJK_RADIX) as u16
                })
                .collect()
        };
        for (&i, c) in cjk_at.iter().zip(cjk) {
            chars[i] = char::from_u32(CJK_FIRST + u32::from(c)).unwrap_or('*');
        }
        chars.into_iter().collect()
    }

    fn ff1(&self, radix: u32, numerals: Vec<u16>) -> Vec<u16> {
        let ff1 = FF1::<Sm4>::new(&self.sm4_key, radix).expect("radix within 2..2^16");
        match ff1.encrypt(&[], &FlexibleNumeralString::from(numerals.clone())) {
            Ok(t) => t.into(),
            // Only a numeral string out of its radix fails, which the callers rule out; never
            // hand back the clear value.
            Err(_) => vec![0; numerals.len()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sm4::cipher::BlockCipherEncrypt;

    /// GB/T 32907-2016, appendix A: example 1 (one encryption) and example 2 (1,000,000).
    #[test]
    fn sm4_matches_the_standard_s_test_vectors() {
        let key: [u8; 16] = hex::decode("0123456789abcdeffedcba9876543210")
            .unwrap()
            .try_into()
            .unwrap();
        let cipher = Sm4::new(&key.into());
        let mut block = key.into();
        cipher.encrypt_block(&mut block);
        assert_eq!(hex::encode(block), "681edf34d206965e86b3e94f536e4246");
        let mut block = key.into();
        for _ in 0..1_000_000 {
            cipher.encrypt_block(&mut block);
        }
        assert_eq!(hex::encode(block), "595298c7c6fd271f0402f804c33d3f66");
    }

    #[test]
    fn tokens_keep_the_shape_and_are_stable_per_key() {
        let t = Tokens::new(b"k");
        let id = "51010419900101123X";
        let tok = t.token(id);
        assert_eq!(tok.chars().count(), 18);
        assert!(tok.ends_with('X'));
        assert!(tok[..17].chars().all(|c| c.is_ascii_digit()));
        assert_ne!(tok, id);
        assert_eq!(tok, t.token(id));
        let name = t.token("张小三");
        assert_eq!(name.chars().count(), 3);
        assert!(
            name.chars()
                .all(|c| (CJK_FIRST..=CJK_LAST).contains(&(c as u32)))
        );
        assert_ne!(name, "张小三");
        // Short runs still change and keep their shape.
        let short = t.token("张");
        assert_eq!(short.chars().count(), 1);
        assert_ne!(t.token("12"), t.token("13"));
        assert_ne!(Tokens::new(b"other").token(id), tok);
    }
}
