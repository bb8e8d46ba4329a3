//! Graph's identity-and-access throttling (graph-behaviour.md §6): per application+tenant token
//! buckets over resource units (quota by tenant size, per 10 s) and writes (3,000 per 150 s).
//!
//! A bucket is modelled as "used" units that drain linearly at quota/window per simulated second.
//! Throttled requests are charged too ("Graph continues to log resource usage while a client is
//! being throttled"); `Retry-After` is computed so that a client that waits exactly that long
//! (and sends nothing else) fits again.

use std::collections::HashMap;

/// Quotas; `None` for the RU quota means "by tenant size" (S < 50 users: 3,500, M ≤ 500: 5,000,
/// L: 8,000 per 10 s).
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottleQuotas {
    pub enabled: bool,
    pub resource_units: Option<f64>,
    pub resource_unit_window_secs: f64,
    pub writes: f64,
    pub write_window_secs: f64,
    /// Charge throttled requests against the buckets, as Graph does.
    pub charge_throttled: bool,
}

impl Default for ThrottleQuotas {
    fn default() -> Self {
        ThrottleQuotas {
            enabled: true,
            resource_units: None,
            resource_unit_window_secs: 10.0,
            writes: 3000.0,
            write_window_secs: 150.0,
            charge_throttled: true,
        }
    }
}

/// The RU quota per 10 s for a tenant of `users` users.
pub fn resource_units_for_tenant_size(users: usize) -> f64 {
    if users < 50 {
        3500.0
    } else if users <= 500 {
        5000.0
    } else {
        8000.0
    }
}

/// What a request costs, per §6: list users 2, other GET 1, writes 1 RU + 1 write;
/// `$select` −1, `$top` < 20 −1, never below 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cost {
    pub resource_units: f64,
    pub writes: f64,
}

pub fn cost(method: &str, is_collection: bool, has_select: bool, small_top: bool) -> Cost {
    let write = !method.eq_ignore_ascii_case("GET");
    let mut ru: i32 = if write {
        1
    } else if is_collection {
        2
    } else {
        1
    };
    if has_select {
        ru -= 1;
    }
    if small_top {
        ru -= 1;
    }
    Cost {
        resource_units: ru.max(1) as f64,
        writes: if write { 1.0 } else { 0.0 },
    }
}

#[derive(Clone, Debug, Default)]
struct Bucket {
    used: f64,
    at: f64,
}

impl Bucket {
    fn drain(&mut self, now: f64, rate: f64) {
        if now > self.at {
            self.used = (self.used - (now - self.at) * rate).max(0.0);
            self.at = now;
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Allowed {
        /// Highest used/limit fraction after this request, for `x-ms-throttle-limit-percentage`.
        limit_fraction: f64,
    },
    Throttled {
        /// Simulated seconds until the request would fit.
        retry_after: f64,
        /// `WriteLimitExceeded` or `ResourceUnitLimitExceeded`.
        information: &'static str,
        limit_fraction: f64,
    },
}

#[derive(Debug, Default)]
pub struct Throttle {
    /// Keyed by application id (one tenant per sim, so this is the app+tenant pair).
    buckets: HashMap<String, (Bucket, Bucket)>,
}

impl Throttle {
    pub fn check(
        &mut self,
        app: &str,
        now: f64,
        cost: Cost,
        quotas: &ThrottleQuotas,
        tenant_users: usize,
    ) -> Verdict {
        if !quotas.enabled {
            return Verdict::Allowed {
                limit_fraction: 0.0,
            };
        }
        let ru_quota = quotas
            .resource_units
            .unwrap_or_else(|| resource_units_for_tenant_size(tenant_users));
        let ru_rate = ru_quota / quotas.resource_unit_window_secs;
        let w_rate = quotas.writes / quotas.write_window_secs;
        let (ru, w) = self.buckets.entry(app.to_string()).or_default();
        ru.drain(now, ru_rate);
        w.drain(now, w_rate);
        let ru_over = ru.used + cost.resource_units > ru_quota;
        let w_over = cost.writes > 0.0 && w.used + cost.writes > quotas.writes;
        if !ru_over && !w_over {
            ru.used += cost.resource_units;
            w.used += cost.writes;
            let frac = (ru.used / ru_quota).max(w.used / quotas.writes);
            return Verdict::Allowed {
                limit_fraction: frac,
            };
        }
        if quotas.charge_throttled {
            ru.used += cost.resource_units;
            w.used += cost.writes;
        }
        // Wait until used + cost fits again in every exceeded bucket.
        let ru_wait = ((ru.used + cost.resource_units - ru_quota) / ru_rate).max(0.0);
        let w_wait = if cost.writes > 0.0 {
            ((w.used + cost.writes - quotas.writes) / w_rate).max(0.0)
        } else {
            0.0
        };
        let frac = (ru.used / ru_quota).max(w.used / quotas.writes);
        Verdict::Throttled {
            retry_after: ru_wait.max(w_wait),
            information: if w_over {
                "WriteLimitExceeded"
            } else {
                "ResourceUnitLimitExceeded"
            },
            limit_fraction: frac,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_documented_table() {
        assert_eq!(cost("GET", true, false, false).resource_units, 2.0);
        assert_eq!(cost("GET", true, true, false).resource_units, 1.0);
        assert_eq!(cost("GET", true, true, true).resource_units, 1.0);
        assert_eq!(cost("GET", false, false, false).resource_units, 1.0);
        let w = cost("PATCH", false, false, false);
        assert_eq!((w.resource_units, w.writes), (1.0, 1.0));
    }

    #[test]
    fn write_bucket_throttles_then_recovers_after_retry_after() {
        let q = ThrottleQuotas {
            writes: 10.0,
            write_window_secs: 10.0,
            ..Default::default()
        };
        let mut t = Throttle::default();
        let c = cost("PATCH", false, false, false);
        for _ in 0..10 {
            assert!(matches!(
                t.check("a", 0.0, c, &q, 10),
                Verdict::Allowed { .. }
            ));
        }
        let Verdict::Throttled {
            retry_after,
            information,
            ..
        } = t.check("a", 0.0, c, &q, 10)
        else {
            panic!("11th write must be throttled");
        };
        assert_eq!(information, "WriteLimitExceeded");
        assert!((retry_after - 2.0).abs() < 1e-9, "{retry_after}");
        assert!(matches!(
            t.check("a", retry_after, c, &q, 10),
            Verdict::Allowed { .. }
        ));
        // Another app has its own bucket.
        assert!(matches!(
            t.check("b", 0.0, c, &q, 10),
            Verdict::Allowed { .. }
        ));
    }
}
