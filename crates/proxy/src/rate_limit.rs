//! [`TokenBucket`]: a route's local rate limit (`route-limit-rps` / `-rpm` with
//! `route-limit-burst-multiplier`), as Envoy's local rate limit that Higress configures: `max` tokens,
//! refilled by `per_fill` every `interval`, one token per request, 429 when empty. Lock-free: the interval
//! index and the token count share one atomic word.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One route's bucket (reset when a new snapshot is applied).
#[derive(Debug)]
pub struct TokenBucket {
    start: Instant,
    interval: Duration,
    per_fill: u32,
    max: u32,
    /// High 32 bits: the interval index of the last refill; low 32 bits: tokens left.
    state: AtomicU64,
}

impl TokenBucket {
    /// A full bucket of `max` tokens, refilled by `per_fill` every `interval`.
    pub fn new(max: u32, per_fill: u32, interval: Duration) -> Self {
        Self { start: Instant::now(), interval, per_fill, max: max.max(1), state: AtomicU64::new(u64::from(max.max(1))) }
    }

    /// Takes a token; `false` = limited.
    pub fn try_take(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_nanos() / self.interval.as_nanos().max(1)).unwrap_or(u64::MAX);
        let now = now.min(u64::from(u32::MAX));
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let (index, tokens) = (current >> 32, current & 0xffff_ffff);
            let refills = now.saturating_sub(index);
            let tokens = (tokens + refills.saturating_mul(u64::from(self.per_fill))).min(u64::from(self.max));
            if tokens == 0 {
                return false;
            }
            let next = (now.max(index) << 32) | (tokens - 1);
            match self.state.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_gives_its_burst_then_refuses_until_the_next_interval() {
        let bucket = TokenBucket::new(3, 1, Duration::from_secs(3600));
        assert_eq!((0..10).filter(|_| bucket.try_take()).count(), 3);
    }
}
