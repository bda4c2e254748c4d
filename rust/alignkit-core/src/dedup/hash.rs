//! Hash primitives: xxh3 for the fast scheme, SHA-1 and numpy's MT19937 for datasketch parity.

use xxhash_rust::xxh3::{xxh3_128, xxh3_64, xxh3_64_with_seed};

/// 64-bit hash of bytes (xxh3).
#[inline]
pub fn hash64(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// 64-bit hash of bytes with a seed (xxh3).
#[inline]
pub fn hash64_seeded(bytes: &[u8], seed: u64) -> u64 {
    xxh3_64_with_seed(bytes, seed)
}

/// 128-bit hash of bytes (xxh3), used for exact duplicates.
#[inline]
pub fn hash128(bytes: &[u8]) -> u128 {
    xxh3_128(bytes)
}

/// MurmurHash3's 32-bit finaliser (a bijection), as datasketch applies it before permuting.
#[inline]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// MurmurHash3's 64-bit finaliser.
#[inline]
pub fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// datasketch's `sha1_hash32`: the first 4 bytes of SHA-1, little endian.
#[inline]
pub fn sha1_hash32(bytes: &[u8]) -> u32 {
    let digest = sha1_smol::Sha1::from(bytes).digest().bytes();
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// splitmix64 step: a well-mixed 64-bit stream from any seed.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    fmix64_splitmix(*state)
}

#[inline]
fn fmix64_splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The Mersenne Twister MT19937 as numpy's legacy `RandomState(seed)` seeds it (`init_genrand`).
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        for i in 0..624 {
            let y = (self.state[i] & UPPER) | (self.state[(i + 1) % 624] & LOWER);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_reference() {
        // First outputs of the reference implementation for init_genrand(5489).
        let mut mt = Mt19937::new(5489);
        assert_eq!(mt.next_u32(), 3_499_211_612);
        assert_eq!(mt.next_u32(), 581_869_302);
        assert_eq!(mt.next_u32(), 3_890_346_734);
    }

    #[test]
    fn sha1_prefix() {
        // sha1("abc") = a9993e36...; first four bytes little endian.
        assert_eq!(
            sha1_hash32(b"abc"),
            u32::from_le_bytes([0xa9, 0x99, 0x3e, 0x36])
        );
    }

    #[test]
    fn fmix_is_not_identity() {
        assert_ne!(fmix32(1), 1);
        assert_eq!(fmix32(0), 0);
        assert_ne!(fmix64(1), 1);
    }
}
