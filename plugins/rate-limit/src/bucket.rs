//! The token bucket: `burst` tokens at most, refilled at `requests_per_second`; each request
//! takes one. Kept in shared data as `<milli-tokens>:<unix ms of last update>`, so every VM
//! of every worker draws from the same bucket.

use serde::Deserialize;

/// `pluginConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Tokens added per second.
    pub requests_per_second: u64,
    /// Size of the bucket: how many requests may come at once.
    pub burst: u64,
    /// One bucket per value of this request header (e.g. `x-user`); absent: one bucket for all.
    #[serde(default)]
    pub key_header: Option<String>,
}

impl Limit {
    pub fn parse(bytes: &[u8]) -> Result<Limit, String> {
        let limit: Limit = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if limit.requests_per_second == 0 || limit.burst == 0 {
            return Err("requests_per_second and burst must be above 0".into());
        }
        if limit.requests_per_second > 1_000_000 || limit.burst > 1_000_000 {
            return Err("requests_per_second and burst must be at most 1000000".into());
        }
        Ok(Limit {
            key_header: limit.key_header.map(|h| h.to_ascii_lowercase()),
            ..limit
        })
    }
}

/// The stored state of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub milli_tokens: u64,
    pub updated_ms: u64,
}

impl Bucket {
    pub fn encode(&self) -> String {
        format!("{}:{}", self.milli_tokens, self.updated_ms)
    }

    pub fn decode(bytes: &[u8]) -> Option<Bucket> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (tokens, updated) = text.split_once(':')?;
        Some(Bucket {
            milli_tokens: tokens.parse().ok()?,
            updated_ms: updated.parse().ok()?,
        })
    }
}

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let it through; this many whole tokens are left.
    Allow { remaining: u64 },
    /// Refuse it; a token will be there in this many seconds (at least 1).
    Deny { retry_after_s: u64 },
}

/// Takes a token from `prev` (None: a full new bucket) at `now_ms`; returns the bucket to
/// store and the decision.
pub fn take(prev: Option<Bucket>, now_ms: u64, limit: &Limit) -> (Bucket, Decision) {
    let capacity = limit.burst * 1000;
    let refilled = match prev {
        None => capacity,
        Some(b) => {
            // A clock that went back refills nothing.
            let elapsed = now_ms.saturating_sub(b.updated_ms);
            b.milli_tokens
                .saturating_add(elapsed.saturating_mul(limit.requests_per_second))
                .min(capacity)
        }
    };
    if refilled >= 1000 {
        let left = refilled - 1000;
        (
            Bucket {
                milli_tokens: left,
                updated_ms: now_ms,
            },
            Decision::Allow {
                remaining: left / 1000,
            },
        )
    } else {
        let missing_ms = (1000 - refilled).div_ceil(limit.requests_per_second);
        let retry_after_s = missing_ms.div_ceil(1000).max(1);
        (
            Bucket {
                milli_tokens: refilled,
                updated_ms: now_ms,
            },
            Decision::Deny { retry_after_s },
        )
    }
}

/// The shared-data key of a bucket. Long header values are cut so a client cannot make the
/// plugin store keys of any size.
pub fn key(plugin_name: &str, value: Option<&str>) -> String {
    match value {
        Some(v) => format!(
            "rate-limit/{plugin_name}/{}",
            v.chars().take(128).collect::<String>()
        ),
        None => format!("rate-limit/{plugin_name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(rps: u64, burst: u64) -> Limit {
        Limit {
            requests_per_second: rps,
            burst,
            key_header: None,
        }
    }

    #[test]
    fn a_burst_passes_then_the_next_request_waits() {
        let l = limit(1, 3);
        let mut bucket = None;
        for expected_left in [2, 1, 0] {
            let (b, d) = take(bucket, 10_000, &l);
            assert_eq!(
                d,
                Decision::Allow {
                    remaining: expected_left
                }
            );
            bucket = Some(b);
        }
        let (b, d) = take(bucket, 10_000, &l);
        assert_eq!(d, Decision::Deny { retry_after_s: 1 });
        // Half a second later: still half a token short.
        let (b, d) = take(Some(b), 10_500, &l);
        assert_eq!(d, Decision::Deny { retry_after_s: 1 });
        // A full second after the burst: one token back.
        let (_, d) = take(Some(b), 11_000, &l);
        assert_eq!(d, Decision::Allow { remaining: 0 });
    }

    #[test]
    fn refill_stops_at_burst_and_ignores_a_clock_going_back() {
        let l = limit(10, 2);
        let (_, d) = take(
            Some(Bucket {
                milli_tokens: 0,
                updated_ms: 0,
            }),
            3_600_000,
            &l,
        );
        assert_eq!(d, Decision::Allow { remaining: 1 });
        let (b, d) = take(
            Some(Bucket {
                milli_tokens: 500,
                updated_ms: 5000,
            }),
            1000,
            &l,
        );
        assert_eq!((b.milli_tokens, d), (500, Decision::Deny { retry_after_s: 1 }));
    }

    #[test]
    fn slow_rates_give_long_retry_after() {
        // 1 request per second needs 1s for a token; with a rate of 1/s and 0 tokens, 1 s.
        let (_, d) = take(
            Some(Bucket {
                milli_tokens: 0,
                updated_ms: 0,
            }),
            0,
            &limit(1, 1),
        );
        assert_eq!(d, Decision::Deny { retry_after_s: 1 });
    }

    #[test]
    fn state_round_trips_and_garbage_is_none() {
        let b = Bucket {
            milli_tokens: 1500,
            updated_ms: 42,
        };
        assert_eq!(Bucket::decode(b.encode().as_bytes()), Some(b));
        assert_eq!(Bucket::decode(b"x:y"), None);
    }

    #[test]
    fn config_is_checked() {
        assert!(Limit::parse(br#"{"requests_per_second":0,"burst":1}"#).is_err());
        assert!(Limit::parse(br#"{"requests_per_second":1}"#)
            .unwrap_err()
            .contains("burst"));
        let l = Limit::parse(br#"{"requests_per_second":5,"burst":10,"key_header":"X-User"}"#).unwrap();
        assert_eq!(l.key_header.as_deref(), Some("x-user"));
    }

    #[test]
    fn keys_are_bounded() {
        assert_eq!(key("demo.rl", None), "rate-limit/demo.rl");
        assert_eq!(
            key("demo.rl", Some(&"a".repeat(1000))).len(),
            "rate-limit/demo.rl/".len() + 128
        );
    }
}
