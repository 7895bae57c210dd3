//! Capped exponential backoff with jitter, one instance per account.

use std::time::Duration;

use rand::Rng;

use crate::error::{ChannelError, ErrorKind};

/// The retry policy of one account's connection or poll loop.
///
/// Delay for attempt `n` (0-based) is drawn uniformly from `[d/2, d]` where
/// `d = min(max, base * 2^n)`: "equal jitter", so a fleet of accounts that failed together
/// does not retry together, and no delay ever exceeds `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub const DEFAULT_BASE: Duration = Duration::from_secs(1);
    pub const DEFAULT_MAX: Duration = Duration::from_secs(60);
    /// Rate limits get at least this long unless the server said otherwise.
    pub const RATE_LIMIT_FLOOR: Duration = Duration::from_secs(30);

    pub fn new(base: Duration, max: Duration) -> Self {
        let base = base.max(Duration::from_millis(1));
        Self {
            base,
            max: max.max(base),
            attempt: 0,
        }
    }

    /// Number of consecutive failures so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The upper bound of the next delay, before jitter.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Records a failure and returns how long to wait before the next try.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let floor = ceiling / 2;
        let span = ceiling.saturating_sub(floor);
        floor + span.mul_f64(rand::rng().random::<f64>())
    }

    /// The delay for a classified error: honours `retry_after`, stretches rate limits.
    pub fn delay_for(&mut self, err: &ChannelError) -> Duration {
        let delay = self.next_delay();
        match (err.retry_after, err.kind) {
            (Some(after), _) => after.max(delay),
            (None, ErrorKind::RateLimited) => delay.max(Self::RATE_LIMIT_FLOOR),
            _ => delay,
        }
    }

    /// Success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Self::DEFAULT_BASE, Self::DEFAULT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_bounds_and_grow() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        let mut backoff = Backoff::new(base, max);
        let mut last_ceiling = Duration::ZERO;
        for n in 0..64 {
            let ceiling = backoff.ceiling();
            assert!(
                ceiling >= last_ceiling,
                "ceiling never shrinks (attempt {n})"
            );
            assert!(ceiling <= max);
            let delay = backoff.next_delay();
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "attempt {n}: {delay:?} vs {ceiling:?}"
            );
            last_ceiling = ceiling;
        }
        assert_eq!(backoff.ceiling(), max, "long failure runs sit at the cap");
        assert_eq!(backoff.attempts(), 64);
    }

    #[test]
    fn first_delay_is_about_base_and_reset_restarts() {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        for _ in 0..5 {
            backoff.next_delay();
        }
        backoff.reset();
        let first = backoff.next_delay();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
    }

    #[test]
    fn jitter_spreads_delays() {
        let delays: std::collections::HashSet<Duration> = (0..32)
            .map(|_| Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).next_delay())
            .collect();
        assert!(delays.len() > 1, "32 draws were all equal: no jitter");
    }

    #[test]
    fn rate_limits_and_retry_after_stretch_the_delay() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(20));
        let limited = ChannelError::new(ErrorKind::RateLimited, "slow down");
        assert!(backoff.delay_for(&limited) >= Backoff::RATE_LIMIT_FLOOR);
        let told = ChannelError::transient("busy").with_retry_after(Duration::from_secs(7));
        assert_eq!(backoff.delay_for(&told), Duration::from_secs(7));
        let plain = ChannelError::transient("blip");
        assert!(backoff.delay_for(&plain) <= Duration::from_millis(20));
    }

    #[test]
    fn degenerate_parameters_do_not_panic() {
        let mut backoff = Backoff::new(Duration::ZERO, Duration::ZERO);
        for _ in 0..100 {
            assert!(backoff.next_delay() <= Duration::from_millis(1));
        }
    }
}
