//! Client-side pacing: token buckets mirroring Graph's identity throttling (graph-behaviour.md §6)
//! so a long run stays just under the limits instead of bouncing off them with 429s.
//!
//! - writes: 3,000 per 150 s per app+tenant (every POST/PATCH/PUT/DELETE is 1 write);
//! - read resource units: 8,000 RU per 10 s for a large tenant (`GET /users` = 2, other GETs = 1,
//!   writes 1; `$select` −1, `$top` < 20 −1; never below 1).
//!
//! Batched sub-requests count individually, like Graph counts them. When responses carry
//! `x-ms-throttle-limit-percentage` (sent only above 0.8 of a limit), both rates are scaled down
//! until the pressure goes away.

use super::clock::Clock;
use super::stats::Limit;
use std::sync::Mutex;
use std::time::Duration;

/// Quotas the client paces itself to. Rates are multiplied by `headroom` so that small clock
/// differences between client and service do not cause 429s.
#[derive(Clone, Debug, PartialEq)]
pub struct PacingConfig {
    /// Pacing on/off. Off, the client sends as fast as it can until Graph throttles a quota;
    /// from then on it paces that quota until a whole window passes without a 429.
    pub enabled: bool,
    /// Writes allowed per `write_window` (Graph: 3,000).
    pub writes_per_window: u32,
    /// Write window (Graph: 150 s).
    pub write_window: Duration,
    /// Resource units allowed per `read_window` (Graph: 3,500 / 5,000 / 8,000 by tenant size).
    pub read_units_per_window: u32,
    /// Read window (Graph: 10 s).
    pub read_window: Duration,
    /// Fraction of the quota the client aims for (default 0.97).
    pub headroom: f64,
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig {
            enabled: true,
            writes_per_window: 3_000,
            write_window: Duration::from_secs(150),
            read_units_per_window: 8_000,
            read_window: Duration::from_secs(10),
            headroom: 0.97,
        }
    }
}

/// What one request costs against the quotas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Resource units.
    pub units: u32,
    /// Writes (0 or 1 per request).
    pub writes: u32,
}

impl Cost {
    /// Cost of one request, from its method and its URL relative to `/v1.0` (path and query).
    pub fn of(method: &str, relative_url: &str) -> Cost {
        let (path, query) = relative_url.split_once('?').unwrap_or((relative_url, ""));
        let path = path.trim_end_matches('/').to_ascii_lowercase();
        let is_write = !method.eq_ignore_ascii_case("GET");
        let mut units: i64 = if is_write {
            1
        } else if path == "/users" || path.ends_with("/v1.0/users") {
            2
        } else {
            1
        };
        let query = query.to_ascii_lowercase();
        for param in query.split('&') {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            match k {
                "$select" | "%24select" => units -= 1,
                "$expand" | "%24expand" => units += 1,
                "$top" | "%24top" if v.parse::<u32>().is_ok_and(|t| t < 20) => units -= 1,
                _ => {}
            }
        }
        Cost {
            units: units.max(1) as u32,
            writes: u32::from(is_write),
        }
    }

    /// Sum of two costs.
    pub fn plus(self, other: Cost) -> Cost {
        Cost {
            units: self.units + other.units,
            writes: self.writes + other.writes,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_second: f64,
    level: f64,
    last: Duration,
    /// Nothing that spends this bucket is sent before this (clock time): a 429's Retry-After.
    hold_until: Duration,
    /// Paced although pacing is off: Graph throttled this limit, and the bucket has not
    /// filled up again since.
    engaged: bool,
}

impl Bucket {
    fn new(amount: u32, window: Duration, headroom: f64, now: Duration) -> Bucket {
        let capacity = (f64::from(amount) * headroom).max(1.0);
        let per_second = capacity / window.as_secs_f64().max(1e-3);
        Bucket {
            capacity,
            per_second,
            level: capacity,
            last: now,
            hold_until: Duration::ZERO,
            engaged: false,
        }
    }

    fn refill(&mut self, now: Duration, factor: f64) {
        // `last` may lie ahead (the end of a 429 hold): nothing accrues before it.
        if now <= self.last {
            return;
        }
        let dt = (now - self.last).as_secs_f64();
        self.level = (self.level + dt * self.per_second * factor).min(self.capacity);
        self.last = now;
    }

    /// Time until `amount` is available at the current rate.
    fn wait_for(&self, amount: f64, factor: f64) -> Duration {
        let missing = amount.min(self.capacity) - self.level;
        if missing <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(missing / (self.per_second * factor))
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Writes,
    Reads,
}

#[derive(Debug)]
struct State {
    writes: Bucket,
    reads: Bucket,
    /// 1.0 = full rate; lowered while Graph reports throttle pressure.
    factor: f64,
}

impl State {
    fn bucket(&mut self, which: Which) -> &mut Bucket {
        match which {
            Which::Writes => &mut self.writes,
            Which::Reads => &mut self.reads,
        }
    }
}

/// The shared pacer of one client.
///
/// Waiters queue in order (one queue per bucket, so reads never wait behind writes that wait
/// for the write quota): when a hold ends, they leave one after another as the bucket refills
/// rather than all at once. Graph charges throttled requests too, so a burst at the end of a
/// hold would only be throttled — and charged — again.
#[derive(Debug)]
pub struct Pacer {
    config: PacingConfig,
    clock: Clock,
    state: Mutex<State>,
    write_queue: tokio::sync::Mutex<()>,
    read_queue: tokio::sync::Mutex<()>,
}

impl Pacer {
    /// A pacer on `clock`, buckets full.
    pub fn new(config: PacingConfig, clock: Clock) -> Pacer {
        let now = clock.now();
        let h = config.headroom.clamp(0.05, 1.0);
        let state = State {
            writes: Bucket::new(config.writes_per_window, config.write_window, h, now),
            reads: Bucket::new(config.read_units_per_window, config.read_window, h, now),
            factor: 1.0,
        };
        Pacer {
            config,
            clock,
            state: Mutex::new(state),
            write_queue: tokio::sync::Mutex::new(()),
            read_queue: tokio::sync::Mutex::new(()),
        }
    }

    /// Waits until `cost` fits in both buckets and no hold of a limit it spends is in force,
    /// then takes it. Writes spend the write and the resource-unit quota; reads only the latter.
    pub async fn acquire(&self, cost: Cost) {
        if cost.writes > 0 {
            // Tokio's mutex is fair: waiters are served in the order they came.
            let _turn = self.write_queue.lock().await;
            self.take(Which::Writes, f64::from(cost.writes)).await;
        }
        let _turn = self.read_queue.lock().await;
        self.take(Which::Reads, f64::from(cost.units)).await;
    }

    async fn take(&self, which: Which, amount: f64) {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = self.clock.now();
                let f = s.factor;
                let enabled = self.config.enabled;
                let b = s.bucket(which);
                if now < b.hold_until {
                    b.hold_until - now
                } else if !enabled && !b.engaged {
                    return;
                } else {
                    b.refill(now, f);
                    if !enabled && b.level >= b.capacity {
                        // A whole window without a 429: back to not pacing.
                        b.engaged = false;
                        return;
                    }
                    let wait = b.wait_for(amount, f);
                    if wait.is_zero() {
                        b.level -= amount;
                        return;
                    }
                    wait
                }
            };
            tracing::trace!(wait_ms = wait.as_millis() as u64, ?which, "pacing");
            self.clock.sleep(wait).await;
        }
    }

    /// Graph answered 429 naming `limit`, asking for `retry_after` (clock time). A quota limit
    /// holds every request that spends it (not only the one that was told) and restarts its
    /// bucket *empty* when the hold ends, paced even when pacing is off, until the bucket has
    /// filled up again. [`Limit::Request`] holds nothing shared: that request waits on its own.
    pub fn throttled(&self, limit: Limit, retry_after: Duration) {
        let which = match limit {
            Limit::Writes => Which::Writes,
            Limit::ResourceUnits => Which::Reads,
            Limit::Request => return,
        };
        let until = self.clock.now() + retry_after;
        let mut s = self.lock();
        let b = s.bucket(which);
        b.hold_until = b.hold_until.max(until);
        b.level = b.level.min(0.0);
        // Refills count from the end of the hold.
        b.last = b.last.max(until);
        b.engaged = true;
    }

    /// Gives back what a request took when Graph says it was not served for reasons other than
    /// a quota: a 503/504, or a 429 for CPU. Graph documents that it charges requests
    /// throttled for a quota, not these; if it does charge them after all, the quota 429s that
    /// follow hold and re-pace the client, which costs a few charged 429s instead of a third
    /// of a faulty run's time.
    pub fn refund(&self, cost: Cost) {
        let mut s = self.lock();
        let State { writes, reads, .. } = &mut *s;
        for (b, amount) in [(writes, cost.writes), (reads, cost.units)] {
            b.level = (b.level + f64::from(amount)).min(b.capacity);
        }
    }

    /// Feeds back `x-ms-throttle-limit-percentage` (None when the header was absent, meaning
    /// usage is below 0.8 of the limit). At 0.8 the rate drops to 80 %, at 1.0 to 60 %, and it
    /// recovers by 5 % per response without the header.
    pub fn observe_pressure(&self, limit_percentage: Option<f64>) {
        let mut s = self.lock();
        s.factor = match limit_percentage {
            Some(p) if p >= 0.8 => (1.6 - p).clamp(0.1, 0.8).min(s.factor),
            _ => (s.factor + 0.05).min(1.0),
        };
    }

    /// The current rate factor (1.0 = full quota rate).
    pub fn rate_factor(&self) -> f64 {
        self.lock().factor
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_documented_table() {
        assert_eq!(
            Cost::of("GET", "/users?$select=id&$top=999"),
            Cost {
                units: 1,
                writes: 0
            }
        );
        assert_eq!(
            Cost::of("GET", "/users?$top=999"),
            Cost {
                units: 2,
                writes: 0
            }
        );
        assert_eq!(
            Cost::of("GET", "/users/abc"),
            Cost {
                units: 1,
                writes: 0
            }
        );
        assert_eq!(
            Cost::of("GET", "/users/abc?$select=id"),
            Cost {
                units: 1,
                writes: 0
            }
        );
        assert_eq!(
            Cost::of("PATCH", "/users/abc"),
            Cost {
                units: 1,
                writes: 1
            }
        );
        assert_eq!(
            Cost::of("GET", "/users?$expand=manager"),
            Cost {
                units: 3,
                writes: 0
            }
        );
    }

    #[tokio::test]
    async fn writes_are_paced_to_the_window() {
        let clock = Clock::manual();
        let cfg = PacingConfig {
            writes_per_window: 10,
            write_window: Duration::from_secs(10),
            headroom: 1.0,
            ..PacingConfig::default()
        };
        let pacer = Pacer::new(cfg, clock.clone());
        for _ in 0..30 {
            pacer
                .acquire(Cost {
                    units: 1,
                    writes: 1,
                })
                .await;
        }
        // 10 burst + 20 more at 1/s.
        let t = clock.now().as_secs_f64();
        assert!((19.9..=20.5).contains(&t), "took {t}");
    }

    fn small() -> PacingConfig {
        PacingConfig {
            writes_per_window: 10,
            write_window: Duration::from_secs(10),
            read_units_per_window: 10,
            read_window: Duration::from_secs(10),
            headroom: 1.0,
            ..PacingConfig::default()
        }
    }

    const WRITE: Cost = Cost {
        units: 1,
        writes: 1,
    };
    const READ: Cost = Cost {
        units: 1,
        writes: 0,
    };

    #[tokio::test]
    async fn a_write_quota_429_holds_writes_and_restarts_their_bucket_empty() {
        let clock = Clock::manual();
        let pacer = Pacer::new(small(), clock.clone());
        pacer.throttled(Limit::Writes, Duration::from_secs(5));
        // Reads do not wait for the write quota.
        pacer.acquire(READ).await;
        assert_eq!(clock.now(), Duration::ZERO);
        // The bucket was full, but no write goes before the hold ends, and then at 1/s.
        pacer.acquire(WRITE).await;
        let t = clock.now().as_secs_f64();
        assert!((5.9..=6.1).contains(&t), "first write after {t}");
        pacer.acquire(WRITE).await;
        let t = clock.now().as_secs_f64();
        assert!((6.9..=7.1).contains(&t), "second write after {t}");
    }

    #[tokio::test]
    async fn a_resource_unit_429_holds_everything_and_a_cpu_429_holds_nothing() {
        let clock = Clock::manual();
        let pacer = Pacer::new(small(), clock.clone());
        pacer.throttled(Limit::Request, Duration::from_secs(30));
        pacer.acquire(WRITE).await;
        pacer.acquire(READ).await;
        assert_eq!(
            clock.now(),
            Duration::ZERO,
            "a per-request 429 holds no one else"
        );
        pacer.throttled(Limit::ResourceUnits, Duration::from_secs(5));
        pacer.acquire(WRITE).await;
        assert!(
            clock.now() >= Duration::from_secs(5),
            "writes spend resource units too"
        );
    }

    #[tokio::test]
    async fn with_pacing_off_a_throttled_quota_is_paced_until_it_has_refilled() {
        let clock = Clock::manual();
        let pacer = Pacer::new(
            PacingConfig {
                enabled: false,
                ..small()
            },
            clock.clone(),
        );
        for _ in 0..100 {
            pacer.acquire(WRITE).await;
        }
        assert_eq!(clock.now(), Duration::ZERO, "off: no pacing before a 429");
        pacer.throttled(Limit::Writes, Duration::from_secs(2));
        for _ in 0..5 {
            pacer.acquire(WRITE).await;
        }
        let t = clock.now().as_secs_f64();
        assert!((6.9..=7.1).contains(&t), "released at the quota rate: {t}");
        // A whole window later the bucket is full again and pacing is off again.
        clock.advance(Duration::from_secs(20));
        let before = clock.now();
        for _ in 0..50 {
            pacer.acquire(WRITE).await;
        }
        assert!(clock.now() - before < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_refund_gives_back_what_an_unserved_request_took() {
        let clock = Clock::manual();
        let pacer = Pacer::new(small(), clock.clone());
        for _ in 0..10 {
            pacer.acquire(WRITE).await;
        }
        pacer.refund(WRITE);
        pacer.acquire(WRITE).await;
        assert_eq!(clock.now(), Duration::ZERO, "the refunded write was free");
        pacer.refund(Cost {
            units: 1000,
            writes: 1000,
        });
        for _ in 0..10 {
            pacer.acquire(WRITE).await;
        }
        assert_eq!(clock.now(), Duration::ZERO, "never above the capacity");
        pacer.acquire(WRITE).await;
        assert!(clock.now() >= Duration::from_millis(900));
    }

    #[test]
    fn pressure_slows_and_recovers() {
        let pacer = Pacer::new(PacingConfig::default(), Clock::manual());
        pacer.observe_pressure(Some(1.0));
        assert!((pacer.rate_factor() - 0.6).abs() < 1e-9);
        pacer.observe_pressure(None);
        assert!(pacer.rate_factor() > 0.6 && pacer.rate_factor() < 1.0);
    }
}
