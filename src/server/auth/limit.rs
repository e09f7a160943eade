//! Per-key quotas: a request rate (a token bucket, `governor`) and a bound on requests in
//! progress, both checked before any engine work, so one noisy client is refused with 429 and
//! `Retry-After` instead of starving the others.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A key's limits as the key file writes them; each is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests per second, sustained.
    #[serde(default)]
    pub per_second: Option<u32>,
    /// Requests that may arrive at once above the rate [default: `per_second`].
    #[serde(default)]
    pub burst: Option<u32>,
    /// Requests of this key in progress at once.
    #[serde(default)]
    pub concurrent: Option<u32>,
}

/// The most a limit may say: beyond it a limit is no limit, and a typo should not pass as one.
const MAX_LIMIT: u32 = 1_000_000;

/// A key's quota state.
#[derive(Debug)]
pub struct Limits {
    rate: Option<DefaultDirectRateLimiter>,
    concurrent: Option<Arc<Semaphore>>,
}

/// Why a request was refused, and when to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refused {
    /// Whole seconds to wait (at least 1), for `Retry-After`.
    pub retry_after_secs: u64,
    /// True when the key's concurrency bound refused it, false for its rate.
    pub concurrency: bool,
}

/// What an admitted request holds until it is answered.
#[derive(Debug)]
pub struct Admitted(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl Limits {
    /// No limits.
    pub fn none() -> Self {
        Limits {
            rate: None,
            concurrent: None,
        }
    }

    /// The limits `rate` describes (none when it is None).
    pub fn new(rate: Option<&Rate>) -> Result<Self, String> {
        let Some(r) = rate else {
            return Ok(Self::none());
        };
        let check = |what: &str, v: Option<u32>| -> Result<Option<NonZeroU32>, String> {
            match v {
                None => Ok(None),
                Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(NonZeroU32::new(n)),
                Some(n) => Err(format!("rate.{what} must be 1 to {MAX_LIMIT} (got {n})")),
            }
        };
        let per_second = check("per_second", r.per_second)?;
        let burst = check("burst", r.burst)?;
        let concurrent = check("concurrent", r.concurrent)?;
        if burst.is_some() && per_second.is_none() {
            return Err("rate.burst needs rate.per_second".into());
        }
        Ok(Limits {
            rate: per_second
                .map(|n| RateLimiter::direct(Quota::per_second(n).allow_burst(burst.unwrap_or(n)))),
            concurrent: concurrent.map(|n| Arc::new(Semaphore::new(n.get() as usize))),
        })
    }

    /// Admits one request, or says why not. The concurrency bound is taken first, so a request
    /// it refuses does not spend the key's rate.
    pub fn admit(&self) -> Result<Admitted, Refused> {
        let permit = match &self.concurrent {
            Some(s) => Some(s.clone().try_acquire_owned().map_err(|_| Refused {
                retry_after_secs: 1,
                concurrency: true,
            })?),
            None => None,
        };
        if let Some(r) = &self.rate {
            if let Err(not_until) = r.check() {
                let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
                return Err(Refused {
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                    concurrency: false,
                });
            }
        }
        Ok(Admitted(permit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_second: Option<u32>, burst: Option<u32>, concurrent: Option<u32>) -> Rate {
        Rate {
            per_second,
            burst,
            concurrent,
        }
    }

    #[test]
    fn a_burst_then_refusals_with_a_retry_time() {
        let l = Limits::new(Some(&rate(Some(1), Some(3), None))).unwrap();
        for _ in 0..3 {
            assert!(l.admit().is_ok());
        }
        let r = l.admit().unwrap_err();
        assert!(!r.concurrency && r.retry_after_secs >= 1);
    }

    #[test]
    fn concurrency_is_held_until_the_request_ends() {
        let l = Limits::new(Some(&rate(None, None, Some(2)))).unwrap();
        let a = l.admit().unwrap();
        let _b = l.admit().unwrap();
        assert!(l.admit().unwrap_err().concurrency);
        drop(a);
        assert!(l.admit().is_ok());
    }

    #[test]
    fn limits_are_checked() {
        assert!(Limits::new(Some(&rate(Some(0), None, None))).is_err());
        assert!(Limits::new(Some(&rate(None, Some(5), None))).is_err());
        assert!(Limits::new(Some(&rate(None, None, Some(MAX_LIMIT + 1)))).is_err());
        let none = Limits::none();
        for _ in 0..100 {
            assert!(none.admit().is_ok());
        }
    }
}
