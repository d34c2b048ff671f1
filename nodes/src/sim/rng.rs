//! The simulator's seeded random numbers: SplitMix64, written out here so a seed replays the
//! same run on every platform and every dependency version. Each claim draws from its own
//! stream derived from (seed, claim, submission), so results do not depend on the order in
//! which claims are processed.

use super::profile::Rate;
use rust_decimal::Decimal;

#[derive(Clone, Debug)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    pub fn new(seed: u64) -> SimRng {
        SimRng { state: seed }
    }

    /// An independent stream for `parts` under `seed` (FNV-1a over the parts, then mixed).
    pub fn stream(seed: u64, parts: &[&[u8]]) -> SimRng {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for part in parts {
            for byte in (part.len() as u64).to_be_bytes().iter().chain(part.iter()) {
                hash ^= u64::from(*byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        let mut rng = SimRng::new(seed ^ hash);
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (0 when bound is 0), without modulo bias worth mentioning at
    /// these bounds (the 128-bit multiply-shift method).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        let span = (high - low) as u64 + 1;
        low + self.below(span) as i64
    }

    /// True with probability `rate`.
    pub fn chance(&mut self, rate: Rate) -> bool {
        self.below(Rate::SCALE) < u64::from(rate.ppm())
    }

    /// An index drawn in proportion to `weights` (None when they sum to zero).
    pub fn weighted(&mut self, weights: &[u32]) -> Option<usize> {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        if total == 0 {
            return None;
        }
        let mut pick = self.below(total);
        for (index, weight) in weights.iter().enumerate() {
            let weight = u64::from(*weight);
            if pick < weight {
                return Some(index);
            }
            pick -= weight;
        }
        None
    }

    /// A whole-cent amount uniform in `low..=high`.
    pub fn cents_between(&mut self, low: Decimal, high: Decimal) -> Decimal {
        use rust_decimal::prelude::ToPrimitive;
        let to_cents = |amount: Decimal| (amount * Decimal::ONE_HUNDRED).trunc().to_i64().unwrap_or(0);
        let (low_cents, high_cents) = (to_cents(low), to_cents(high));
        Decimal::new(self.between(low_cents, high_cents), 2)
    }

    /// A fraction in [low, high] in steps of 1/1000, as an exact decimal.
    pub fn fraction_between(&mut self, low_per_mille: i64, high_per_mille: i64) -> Decimal {
        Decimal::new(self.between(low_per_mille, high_per_mille), 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn streams_replay_and_differ() {
        let mut a = SimRng::stream(7, &[b"claim-1"]);
        let mut b = SimRng::stream(7, &[b"claim-1"]);
        let mut c = SimRng::stream(7, &[b"claim-2"]);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(xs, (0..5).map(|_| c.next_u64()).collect::<Vec<_>>());
        // A known first value pins the algorithm: changing it would change every recorded run.
        assert_eq!(SimRng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn chance_matches_its_rate() {
        let mut rng = SimRng::new(42);
        let hits = (0..100_000).filter(|_| rng.chance(Rate::from_ppm(70_000))).count();
        assert!((6_500..7_500).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|_| rng.chance(Rate::from_ppm(0))));
        assert!((0..1000).all(|_| rng.chance(Rate::from_ppm(1_000_000))));
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut rng = SimRng::new(1);
        for _ in 0..10_000 {
            let day = rng.between(14, 30);
            assert!((14..=30).contains(&day));
            let cents = rng.cents_between(dec!(10.00), dec!(10.05));
            assert!(cents >= dec!(10.00) && cents <= dec!(10.05) && cents.scale() == 2);
        }
        let counts = (0..30_000).fold([0u32; 3], |mut acc, _| {
            acc[rng.weighted(&[1, 2, 0]).unwrap()] += 1;
            acc
        });
        assert_eq!(counts[2], 0);
        assert!(counts[1] > counts[0] * 3 / 2, "{counts:?}");
        assert_eq!(rng.weighted(&[0, 0]), None);
    }
}
