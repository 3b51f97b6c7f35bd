//! The API tokens of one provider configuration: which one a request uses, and (with `failover`) which
//! ones are out of rotation. Lock-free: per token an atomic failure count and an atomic "out until"
//! instant; the state lives with the plugin instance, so a new configuration starts afresh (Higress
//! resets its shared data on a configuration change too).
//!
//! Higress picks a token uniformly at random per request; here tokens take turns (round robin), which
//! spreads load the same way and is predictable. With `failover`, Higress moves a token that failed
//! `failureThreshold` times in a row (a status matching `failoverOnStatus`) to an "unavailable" list and
//! brings it back once a health-check request with `healthCheckModel` succeeds; oxigress sends no
//! health-check requests: the token comes back after `healthCheckInterval` on probation (one more
//! failure takes it out again, a success clears it). When every token is out, one of them is used anyway.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use super::config::Failover;

/// Health of one token.
#[derive(Debug, Default)]
struct Health {
    /// Consecutive failures.
    failures: AtomicU32,
    /// Out of rotation until this many ms after the pool's epoch; 0 = never taken out. A non-zero value
    /// in the past means "back on probation".
    out_until_ms: AtomicU64,
}

/// The tokens and their health.
#[derive(Debug)]
pub(crate) struct TokenPool {
    tokens: Vec<String>,
    health: Vec<Health>,
    next: AtomicUsize,
    failover: Option<Failover>,
    epoch: Instant,
}

impl TokenPool {
    /// A pool over `tokens`.
    pub(crate) fn new(tokens: Vec<String>, failover: Option<Failover>) -> Self {
        let health = tokens.iter().map(|_| Health::default()).collect();
        Self { tokens, health, next: AtomicUsize::new(0), failover, epoch: Instant::now() }
    }

    /// The token at `index`.
    pub(crate) fn token(&self, index: usize) -> &str {
        self.tokens.get(index).map_or("", String::as_str)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    fn is_available(&self, index: usize, now: u64) -> bool {
        self.failover.is_none() || self.health[index].out_until_ms.load(Ordering::Acquire) <= now
    }

    /// The token for a new request: the next available one in turn (any one when none is available).
    pub(crate) fn pick(&self) -> Option<usize> {
        let n = self.tokens.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let now = self.now_ms();
        Some((0..n).map(|k| (start + k) % n).find(|&i| self.is_available(i, now)).unwrap_or(start))
    }

    /// The tokens a failed request may be retried with (Higress `SetAvailableApiTokens`): the available
    /// ones, in turn order after `current`.
    pub(crate) fn retry_candidates(&self, current: usize) -> Vec<usize> {
        let n = self.tokens.len();
        let now = self.now_ms();
        (1..n).map(|k| (current + k) % n).filter(|&i| self.is_available(i, now)).collect()
    }

    /// The upstream answered a request made with token `index`: `failed` when its status matches
    /// `failoverOnStatus`; a 200 counts as a success, anything else is ignored.
    pub(crate) fn record(&self, index: usize, status: u16) {
        let (Some(failover), Some(health)) = (&self.failover, self.health.get(index)) else {
            return;
        };
        if status == 200 {
            health.failures.store(0, Ordering::Relaxed);
            health.out_until_ms.store(0, Ordering::Release);
            return;
        }
        if !super::config::status_matches(&failover.on_status, status) {
            return;
        }
        let now = self.now_ms();
        let out_until = health.out_until_ms.load(Ordering::Acquire);
        if out_until > now {
            return; // already out
        }
        let failures = health.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if out_until != 0 || failures >= failover.failure_threshold {
            health.failures.store(0, Ordering::Relaxed);
            health.out_until_ms.store(now + failover.cooldown_ms, Ordering::Release);
        }
    }

    /// How many tokens are out of rotation right now.
    #[cfg(test)]
    pub(crate) fn unavailable(&self) -> usize {
        let now = self.now_ms();
        (0..self.tokens.len()).filter(|&i| !self.is_available(i, now)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failover(threshold: u32, cooldown_ms: u64) -> Failover {
        Failover { failure_threshold: threshold, cooldown_ms, on_status: vec![regex::Regex::new("4.*").unwrap()] }
    }

    #[test]
    fn round_robin_without_failover() {
        let pool = TokenPool::new(vec!["a".into(), "b".into(), "c".into()], None);
        let picked: Vec<_> = (0..6).map(|_| pool.token(pool.pick().unwrap()).to_string()).collect();
        assert_eq!(picked, ["a", "b", "c", "a", "b", "c"]);
        pool.record(0, 401);
        assert_eq!(pool.unavailable(), 0, "no failover: nothing is taken out");
        assert_eq!(pool.retry_candidates(1), vec![2, 0]);
    }

    #[test]
    fn failing_token_is_taken_out_then_back_on_probation() {
        let pool = TokenPool::new(vec!["a".into(), "b".into()], Some(failover(2, 60_000)));
        pool.record(0, 429);
        assert_eq!(pool.unavailable(), 0, "below the threshold");
        pool.record(0, 500);
        assert_eq!(pool.unavailable(), 0, "500 does not match 4.*");
        pool.record(0, 401);
        assert_eq!(pool.unavailable(), 1);
        assert!((0..4).all(|_| pool.pick() == Some(1)), "only b is used");
        assert_eq!(pool.retry_candidates(1), Vec::<usize>::new());
        pool.record(1, 401);
        pool.record(1, 401);
        assert_eq!(pool.unavailable(), 2);
        assert!(pool.pick().is_some(), "all out: one is used anyway");

        let quick = TokenPool::new(vec!["a".into()], Some(failover(1, 0)));
        quick.record(0, 401);
        assert_eq!(quick.unavailable(), 0, "a zero cooldown is over at once");
        quick.record(0, 200);
        assert_eq!(quick.health[0].out_until_ms.load(Ordering::Relaxed), 0, "a success clears probation");
    }
}
