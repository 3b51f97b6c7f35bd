//! Reconnect delays of the gateway: exponential with jitter, reset once a stream is established.

use std::time::Duration;

/// Reconnect delays: `initial`, doubling up to `max`; each delay is drawn in `[d/2, d]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(100), max: Duration::from_secs(5) }
    }
}

/// The running state of one [`Backoff`].
pub(crate) struct Delays {
    config: Backoff,
    next: Duration,
    rng: fastrand::Rng,
}

impl Delays {
    pub(crate) fn new(config: Backoff) -> Self {
        Self { config, next: config.initial, rng: fastrand::Rng::new() }
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next.min(self.config.max);
        self.next = base.saturating_mul(2).min(self.config.max);
        let half = base / 2;
        half + half.mul_f64(self.rng.f64())
    }

    /// Back to `initial` (after a successful connection).
    pub(crate) fn reset(&mut self) {
        self.next = self.config.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_max_with_jitter_and_resets() {
        let mut delays = Delays::new(Backoff::default());
        let mut bases = Vec::new();
        for _ in 0..8 {
            let delay = delays.next_delay();
            bases.push(delay);
        }
        assert!(bases[0] >= Duration::from_millis(50) && bases[0] <= Duration::from_millis(100));
        assert!(bases[1] >= Duration::from_millis(100) && bases[1] <= Duration::from_millis(200));
        assert!(bases[7] >= Duration::from_millis(2500) && bases[7] <= Duration::from_secs(5));
        delays.reset();
        assert!(delays.next_delay() <= Duration::from_millis(100));
    }
}
