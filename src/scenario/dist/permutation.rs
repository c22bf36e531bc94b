//! A keyed pseudo-random permutation of `0..n`: how zipfian ranks are spread over the
//! keyspace. Every index is the image of exactly one rank, so every key is reachable and each
//! key gets exactly its rank's share (a hash taken modulo `n`, as YCSB's FNV scramble does,
//! leaves about 1/e of the keys unreachable and gives others two ranks' traffic).
//!
//! Construction: a four-round alternating Feistel network over the smallest power of two
//! `2^b >= n`, the index split into a high and a low half (unequal when `b` is odd); each
//! round XORs one half with a keyed hash of the other, which is invertible whatever the
//! hash. Images at or above `n` are encrypted again (cycle walking) until one lands in
//! `0..n`: that restricts the permutation of `0..2^b` to one of `0..n`, and since
//! `2^b < 2n` it takes fewer than two passes of the network on average (about 4 ns a pass).

/// Rounds of the network: each half is rewritten twice, enough to spread neighbouring ranks
/// over the whole keyspace (this scatters keys; it is not a cipher).
const ROUNDS: usize = 4;

/// A bijection over `0..n`, fixed by its seed.
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u64,
    /// Bits of the low half; the high half has the rest of `b`.
    low_bits: u32,
    low_mask: u64,
    high_mask: u64,
    /// One key per round, derived from the seed.
    keys: [u64; ROUNDS],
}

impl Permutation {
    /// The permutation of `0..n` that `seed` selects (`n` of 0 is treated as 1).
    pub fn new(n: u64, seed: u64) -> Permutation {
        let n = n.max(1);
        // b = ceil(log2 n): the smallest power of two holding every index.
        let bits = u64::BITS - (n - 1).leading_zeros();
        let low_bits = bits / 2;
        let high_bits = bits - low_bits;
        let mut state = seed;
        let keys = std::array::from_fn(|_| splitmix64(&mut state));
        Permutation {
            n,
            low_bits,
            low_mask: mask(low_bits),
            high_mask: mask(high_bits),
            keys,
        }
    }

    /// The image of `index`, in `0..n`. `index` should be below `n`; larger ones are reduced
    /// modulo `n` first, so the result is always in range.
    #[inline]
    pub fn apply(&self, index: u64) -> u64 {
        let mut x = if index < self.n {
            index
        } else {
            index % self.n
        };
        // Terminates: x lies on a cycle of the permutation of 0..2^b that returns to the
        // starting index, which is below n.
        loop {
            x = self.encrypt(x);
            if x < self.n {
                return x;
            }
        }
    }

    /// One pass of the network over `0..2^b`.
    #[inline]
    fn encrypt(&self, x: u64) -> u64 {
        let mut low = x & self.low_mask;
        let mut high = x >> self.low_bits;
        for (round, key) in self.keys.iter().enumerate() {
            if round % 2 == 0 {
                high ^= mix(low, *key) & self.high_mask;
            } else {
                low ^= mix(high, *key) & self.low_mask;
            }
        }
        (high << self.low_bits) | low
    }
}

fn mask(bits: u32) -> u64 {
    if bits >= u64::BITS {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The round function: a folded 64×64→128-bit multiply (as wyhash and foldhash use), whose
/// low bits depend on every bit of `x`, so a mask of any width keeps a well-mixed value.
#[inline]
fn mix(x: u64, key: u64) -> u64 {
    let product = u128::from(x ^ key) * u128::from(0x9E37_79B9_7F4A_7C15u64);
    (product as u64) ^ ((product >> 64) as u64)
}

/// SplitMix64's step: turns one seed into independent-looking round keys.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every index of `0..n` is hit exactly once.
    fn assert_bijection(n: u64, seed: u64) {
        let p = Permutation::new(n, seed);
        let mut seen = vec![false; n as usize];
        for i in 0..n {
            let image = p.apply(i);
            assert!(image < n, "n {n} seed {seed}: {i} -> {image}");
            assert!(
                !std::mem::replace(&mut seen[image as usize], true),
                "n {n} seed {seed}: {image} is the image of two indices"
            );
        }
    }

    #[test]
    fn is_a_bijection_for_many_sizes_and_seeds() {
        let sizes = [
            1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 100, 255, 256, 257, 1000, 1023, 1024, 1025, 4097,
            65_535, 65_536, 100_003,
        ];
        for n in sizes {
            for seed in [0, 1, 0xDEAD_BEEF, u64::MAX] {
                assert_bijection(n, seed);
            }
        }
        // Odd and even bit counts around a few sizes, one seed each.
        for n in (1..=600).chain([3_000, 3_001, 20_000]) {
            assert_bijection(n, n.wrapping_mul(31));
        }
    }

    #[test]
    fn huge_domains_stay_in_range() {
        for n in [u64::MAX, u64::MAX / 3, 1 << 63, (1 << 40) + 1] {
            let p = Permutation::new(n, 9);
            for i in [0, 1, 2, n / 2, n - 2, n - 1, u64::MAX] {
                assert!(p.apply(i) < n, "n {n}: {i}");
            }
            // Distinct inputs, distinct outputs (a permutation cannot collide).
            assert_ne!(p.apply(0), p.apply(1));
        }
        assert_eq!(Permutation::new(0, 1).apply(5), 0);
    }

    #[test]
    fn seeds_select_different_permutations_and_are_reproducible() {
        let images = |seed| {
            let p = Permutation::new(1000, seed);
            (0..20).map(|i| p.apply(i)).collect::<Vec<_>>()
        };
        assert_eq!(images(7), images(7));
        assert_ne!(images(7), images(8));
    }

    #[test]
    fn neighbouring_indices_are_spread_over_the_domain() {
        // The first 100 indices (the hottest zipfian ranks) land all over 0..n, not in a
        // cluster: their images fall into most of ten equal bands, about evenly.
        let n = 100_000;
        let p = Permutation::new(n, 42);
        let mut bands = [0u32; 10];
        for i in 0..100 {
            bands[(p.apply(i) * 10 / n) as usize] += 1;
        }
        assert!(bands.iter().all(|&c| (2..=20).contains(&c)), "{bands:?}");
        // And consecutive indices are not mapped to consecutive images.
        let adjacent = (0..1000)
            .filter(|&i| p.apply(i).abs_diff(p.apply(i + 1)) == 1)
            .count();
        assert!(
            adjacent < 5,
            "{adjacent} of 1000 neighbours stay neighbours"
        );
    }
}
