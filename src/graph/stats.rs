//! What the client went through in one run: throttled answers and the time spent waiting on
//! them, per limit; 5xx answers and network errors retried; lost answers resolved. Apply shows
//! these in its progress bar and Runs sheet; `-v` prints them when the client is dropped.

use super::clock::Clock;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

/// What a 429 names (`x-ms-throttle-information`, graph-behaviour.md §6), and so what waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `WriteLimitExceeded`: the app+tenant write quota (3,000 per 150 s). Writes wait.
    Writes,
    /// `ResourceUnitLimitExceeded`: the resource-unit quota. Every request waits.
    ResourceUnits,
    /// `CPULimitExceeded` or anything else that names no quota: only this request waits.
    Request,
}

impl Limit {
    /// The limit a 429 names in `x-ms-throttle-information`; without the header, the quota the
    /// request spends (writes for a write, resource units for a read), so that an unexplained
    /// 429 still slows the client down where it is likely to matter.
    pub fn of_429(information: Option<&str>, is_write: bool) -> Limit {
        match information.map(str::trim) {
            Some(i) if i.eq_ignore_ascii_case("WriteLimitExceeded") => Limit::Writes,
            Some(i) if i.eq_ignore_ascii_case("ResourceUnitLimitExceeded") => Limit::ResourceUnits,
            Some(i) if !i.is_empty() => Limit::Request,
            _ if is_write => Limit::Writes,
            _ => Limit::ResourceUnits,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Writes => "write quota",
            Limit::ResourceUnits => "resource-unit quota",
            Limit::Request => "this request",
        })
    }
}

/// One value per [`Limit`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByLimit<T> {
    /// Write quota.
    pub writes: T,
    /// Resource-unit quota.
    pub resource_units: T,
    /// A single request (CPU and other per-request limits).
    pub request: T,
}

impl<T> ByLimit<T> {
    fn get_mut(&mut self, limit: Limit) -> &mut T {
        match limit {
            Limit::Writes => &mut self.writes,
            Limit::ResourceUnits => &mut self.resource_units,
            Limit::Request => &mut self.request,
        }
    }
}

/// Counters of one [`crate::graph::GraphClient`] (clones share them), from
/// [`crate::graph::GraphClient::stats`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphStats {
    /// 429 answers (top-level requests and `$batch` items), by the limit they named.
    pub throttled: ByLimit<u64>,
    /// Time during which at least one request waited on a 429 of that limit, in clock time
    /// (overlapping waits count once, so this is comparable with the run's duration).
    pub throttle_wait: ByLimit<Duration>,
    /// 5xx answers retried (503, 504, and inside `$batch`).
    pub server_errors: u64,
    /// Network errors retried (connection reset or refused, timeout): answers that were lost.
    pub network_errors: u64,
    /// Requests whose answer was lost and whose outcome was settled by what Graph said next
    /// (a DELETE's 404) or by reading the object back (a restore, a create).
    pub in_doubt_resolved: u64,
}

impl GraphStats {
    /// True when nothing was retried.
    pub fn is_quiet(&self) -> bool {
        *self == GraphStats::default()
    }

    /// All 429s.
    pub fn throttled_total(&self) -> u64 {
        self.throttled.writes + self.throttled.resource_units + self.throttled.request
    }
}

impl fmt::Display for GraphStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.throttled;
        let w = &self.throttle_wait;
        write!(
            f,
            "{} throttled (write quota {}, waited {:.1} s; resource-unit quota {}, waited {:.1} s; \
             single requests {}, waited {:.1} s); {} 5xx and {} network errors retried; \
             {} lost answers resolved",
            self.throttled_total(),
            t.writes,
            w.writes.as_secs_f64(),
            t.resource_units,
            w.resource_units.as_secs_f64(),
            t.request,
            w.request.as_secs_f64(),
            self.server_errors,
            self.network_errors,
            self.in_doubt_resolved
        )
    }
}

/// Collects [`GraphStats`]; waits are merged as intervals on the clock.
#[derive(Debug)]
pub(crate) struct Recorder {
    clock: Clock,
    state: Mutex<(GraphStats, ByLimit<Duration>)>,
}

impl Recorder {
    pub fn new(clock: Clock) -> Recorder {
        Recorder {
            clock,
            state: Mutex::new(Default::default()),
        }
    }

    /// A 429 of `limit` that the client now waits out for `wait`.
    pub fn throttled(&self, limit: Limit, wait: Duration) {
        let now = self.clock.now();
        let mut s = self.lock();
        let (stats, covered_until) = &mut *s;
        *stats.throttled.get_mut(limit) += 1;
        // Requests are recorded as they are answered, so `now` never runs far behind an
        // earlier interval's start: extending the covered span is enough to merge overlaps.
        let covered = covered_until.get_mut(limit);
        let end = now + wait;
        let start = now.max(*covered);
        if end > start {
            *stats.throttle_wait.get_mut(limit) += end - start;
            *covered = end;
        }
    }

    pub fn server_error(&self) {
        self.lock().0.server_errors += 1;
    }

    pub fn network_error(&self) {
        self.lock().0.network_errors += 1;
    }

    pub fn in_doubt_resolved(&self) {
        self.lock().0.in_doubt_resolved += 1;
    }

    pub fn snapshot(&self) -> GraphStats {
        self.lock().0.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (GraphStats, ByLimit<Duration>)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_429_names_the_limit_and_a_missing_name_falls_back_to_the_cost() {
        assert_eq!(
            Limit::of_429(Some("WriteLimitExceeded"), false),
            Limit::Writes
        );
        assert_eq!(
            Limit::of_429(Some("ResourceUnitLimitExceeded"), true),
            Limit::ResourceUnits
        );
        assert_eq!(
            Limit::of_429(Some("CPULimitExceeded"), true),
            Limit::Request
        );
        assert_eq!(Limit::of_429(None, true), Limit::Writes);
        assert_eq!(Limit::of_429(Some(""), false), Limit::ResourceUnits);
    }

    #[test]
    fn overlapping_waits_count_once() {
        let clock = Clock::manual();
        let r = Recorder::new(clock.clone());
        r.throttled(Limit::Writes, Duration::from_secs(10));
        clock.advance(Duration::from_secs(4));
        r.throttled(Limit::Writes, Duration::from_secs(10)); // 4..14 overlaps 0..10
        r.throttled(Limit::Request, Duration::from_secs(1));
        clock.advance(Duration::from_secs(20));
        r.throttled(Limit::Writes, Duration::from_secs(2));
        let s = r.snapshot();
        assert_eq!(s.throttled.writes, 3);
        assert_eq!(s.throttle_wait.writes, Duration::from_secs(16));
        assert_eq!(s.throttle_wait.request, Duration::from_secs(1));
        assert_eq!(s.throttled_total(), 4);
        assert!(
            s.to_string().contains("write quota 3, waited 16.0 s"),
            "{s}"
        );
    }
}
