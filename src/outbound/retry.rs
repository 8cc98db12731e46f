//! When to try again: exponential backoff with jitter, so that many rows failing together (Meta
//! down, a rate limit) do not come back all at once, and a limit on attempts after which the
//! agent is told and decides.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The delay after the first failed attempt.
    pub base_ms: i64,
    /// No delay grows beyond this.
    pub max_ms: i64,
    /// After this many attempts a passing fault becomes a failure the agent sees.
    pub max_attempts: i64,
}

impl RetryPolicy {
    /// The delay after `attempts` failed attempts: base · 2^(attempts−1), capped, then "equal
    /// jitter" (half fixed, half random) so retries spread out but never come sooner than half.
    /// `unit` is a random number in [0, 1).
    pub fn delay_ms(&self, attempts: i64, unit: f64) -> i64 {
        let exponent = (attempts.max(1) - 1).min(30) as u32;
        let full = self
            .base_ms
            .max(1)
            .saturating_mul(1i64 << exponent)
            .min(self.max_ms.max(1));
        let half = full / 2;
        half + (((full - half) as f64) * unit.clamp(0.0, 1.0)) as i64
    }

    /// How long to wait: the backoff, or longer if the platform asked us to wait longer.
    pub fn wait_ms(&self, attempts: i64, retry_after: Option<Duration>, unit: f64) -> i64 {
        let asked = retry_after
            .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
            .unwrap_or(0)
            .min(self.max_ms.max(1));
        self.delay_ms(attempts, unit).max(asked)
    }

    pub fn gives_up_after(&self, attempts: i64) -> bool {
        attempts >= self.max_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        base_ms: 1000,
        max_ms: 60_000,
        max_attempts: 5,
    };

    #[test]
    fn delays_double_and_stay_within_half_and_whole() {
        assert_eq!(POLICY.delay_ms(1, 0.0), 500);
        assert_eq!(POLICY.delay_ms(1, 0.999_999), 999);
        assert_eq!(POLICY.delay_ms(2, 0.0), 1000);
        assert_eq!(POLICY.delay_ms(3, 0.0), 2000);
        assert_eq!(POLICY.delay_ms(4, 0.5), 6000);
    }

    #[test]
    fn delays_stop_growing_at_the_cap_and_never_overflow() {
        assert_eq!(POLICY.delay_ms(20, 0.0), 30_000);
        assert_eq!(POLICY.delay_ms(i64::MAX, 1.0), 60_000);
        assert_eq!(
            POLICY.delay_ms(0, 0.0),
            500,
            "attempt 0 is treated as the first"
        );
    }

    #[test]
    fn a_longer_retry_after_wins_but_is_capped() {
        let later = POLICY.wait_ms(1, Some(Duration::from_secs(30)), 0.0);
        assert_eq!(later, 30_000);
        let sooner = POLICY.wait_ms(1, Some(Duration::from_millis(1)), 0.0);
        assert_eq!(sooner, 500);
        let capped = POLICY.wait_ms(1, Some(Duration::from_secs(86_400)), 0.0);
        assert_eq!(capped, 60_000);
    }

    #[test]
    fn gives_up_at_the_limit() {
        assert!(!POLICY.gives_up_after(4));
        assert!(POLICY.gives_up_after(5));
    }
}
