//! One retry policy for every HTTP client of the project: exponential
//! backoff (doubling from a base delay, with jitter) over a bounded number
//! of attempts, on `backon`. Sleeps go through tokio's timer, so tests
//! with a paused clock run it on virtual time.

use std::{future::Future, time::Duration};

use backon::{ExponentialBuilder, Retryable};

/// How often and how patiently to retry a failure that may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1 (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubles after each.
    pub base_delay: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, 200 ms then 400 ms apart.
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub const ONCE: Self = Self {
        attempts: 1,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// Retries forever (for followers that must never give up), doubling
    /// from `base_delay` up to `max_delay`.
    pub fn forever(base_delay: Duration, max_delay: Duration) -> Self {
        Self {
            attempts: u32::MAX,
            base_delay,
            max_delay,
        }
    }

    fn backoff(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay.max(self.base_delay))
            .with_factor(2.0);
        if self.attempts == u32::MAX {
            builder.without_max_times()
        } else {
            let retries = usize::try_from(self.attempts.max(1) - 1).unwrap_or(usize::MAX);
            builder.with_max_times(retries)
        }
    }

    /// Runs `operation` until it succeeds, fails with an error that is not
    /// `transient`, or the attempts are spent; returns the last result.
    ///
    /// # Errors
    /// The last error of `operation`.
    pub async fn run<T, E, F, Fut>(
        &self,
        operation: F,
        transient: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        operation
            .retry(self.backoff())
            .when(|e| transient(e))
            .notify(|error, delay| {
                if self.attempts == u32::MAX {
                    tracing::warn!(%error, ?delay, "retrying");
                } else {
                    tracing::debug!(%error, ?delay, "retrying");
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_until_the_attempts_are_spent() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::default();
        let result: Result<(), String> = policy
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("down".to_owned())
                },
                |_| true,
            )
            .await;
        assert_eq!(result, Err("down".to_owned()));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_and_successes_end_at_once() {
        let calls = AtomicU32::new(0);
        let result: Result<(), String> = RetryPolicy::default()
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("bad request".to_owned())
                },
                |_| false,
            )
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let ok: Result<u8, String> = RetryPolicy::ONCE.run(|| async { Ok(7) }, |_| true).await;
        assert_eq!(ok, Ok(7));
    }
}
