//! A route's split over weighted clusters (`routes[].weightedClusters`; docs/proxy.md):
//! each request goes to one share, in smooth weighted round robin order so that the
//! shares hold over short runs too. The turn is one atomic per route, shared by the
//! workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::edits::HeaderEdits;

/// The longest schedule precomputed; past it, a share is found by its weight's range.
const MAX_SCHEDULE: u64 = 10_000;

/// One share of a split.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    /// The cluster's name; empty for a direct response.
    pub cluster: String,
    /// The cluster's index in the snapshot's clusters.
    #[serde(skip)]
    pub cluster_index: usize,
    /// Answer this share with this status instead.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "status_num")]
    pub direct_response: Option<http::StatusCode>,
    pub weight: u32,
    #[serde(skip_serializing_if = "HeaderEdits::is_empty")]
    pub request_headers: HeaderEdits,
    #[serde(skip_serializing_if = "HeaderEdits::is_empty")]
    pub response_headers: HeaderEdits,
}

/// The shares and the order they take turns in.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(transparent)]
pub struct Weighted {
    shares: Vec<Share>,
    /// Share indexes, one per turn (smooth weighted round robin); empty when too long.
    #[serde(skip)]
    schedule: Vec<u16>,
    /// The end of each share's range of turns, for when there is no schedule.
    #[serde(skip)]
    ends: Vec<u64>,
    #[serde(skip)]
    turn: Arc<AtomicUsize>,
}

impl Weighted {
    /// `shares`: at least one with a weight above 0 (validation says so).
    pub fn new(shares: Vec<Share>) -> Self {
        let gcd = shares
            .iter()
            .map(|s| u64::from(s.weight))
            .fold(0, |g, w| if w == 0 { g } else { gcd(g, w) })
            .max(1);
        let weights: Vec<u64> = shares.iter().map(|s| u64::from(s.weight) / gcd).collect();
        let total: u64 = weights.iter().sum();
        let mut ends = Vec::with_capacity(weights.len());
        let mut end = 0;
        for w in &weights {
            end += w;
            ends.push(end);
        }
        let mut schedule = Vec::new();
        if total <= MAX_SCHEDULE && shares.len() <= usize::from(u16::MAX) {
            // each turn every share gains its weight; the one ahead is picked and set back
            // by the total
            let mut current = vec![0i64; weights.len()];
            for _ in 0..total {
                let mut best = 0;
                for (i, w) in weights.iter().enumerate() {
                    current[i] += *w as i64;
                    if current[i] > current[best] {
                        best = i;
                    }
                }
                current[best] -= total as i64;
                schedule.push(best as u16);
            }
        }
        Weighted {
            shares,
            schedule,
            ends,
            turn: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The share of the next request.
    pub fn pick(&self) -> &Share {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        if !self.schedule.is_empty() {
            return &self.shares[usize::from(self.schedule[turn % self.schedule.len()])];
        }
        let total = *self.ends.last().unwrap_or(&1);
        let at = turn as u64 % total.max(1);
        let i = self.ends.partition_point(|end| *end <= at);
        &self.shares[i.min(self.shares.len() - 1)]
    }

    pub fn shares(&self) -> &[Share] {
        &self.shares
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn status_num<S: serde::Serializer>(c: &Option<http::StatusCode>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_u16(c.as_u16()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(name: &str, weight: u32) -> Share {
        Share {
            cluster: name.into(),
            cluster_index: 0,
            direct_response: None,
            weight,
            request_headers: HeaderEdits::default(),
            response_headers: HeaderEdits::default(),
        }
    }

    fn picks(w: &Weighted, n: usize) -> Vec<String> {
        (0..n).map(|_| w.pick().cluster.clone()).collect()
    }

    #[test]
    fn shares_take_turns_in_proportion_and_interleaved() {
        let w = Weighted::new(vec![share("a", 30), share("b", 10), share("zero", 0)]);
        assert_eq!(picks(&w, 8), ["a", "a", "b", "a", "a", "a", "b", "a"]);
    }

    #[test]
    fn weights_too_many_for_a_schedule_still_hold() {
        let w = Weighted::new(vec![share("a", 19_999), share("b", 1)]);
        assert!(w.schedule.is_empty());
        let seen = picks(&w, 20_000);
        assert_eq!(seen.iter().filter(|c| *c == "b").count(), 1);
        assert_eq!(seen.iter().filter(|c| *c == "a").count(), 19_999);
    }
}
