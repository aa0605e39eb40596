//! The request queue of a simulated real-time endpoint: requests that find no free capacity wait, first in first
//! out, in a queue carried from one second to the next, and give up after SageMaker's invocation timeout.
//!
//! The model is a fluid one, stepped one second at a time: a second's requests arrive evenly over it (they are
//! taken to arrive at its middle) and the serving instances work through `capacity / 60` requests a second. Below
//! capacity nobody waits (there is no randomness within a second); above it the queue grows and each request's
//! wait is the time from its arrival to the moment the fleet reaches it, to within about half a second. A request
//! still queued when its timeout has passed is dropped: for a real-time endpoint [`INVOKE_ENDPOINT_TIMEOUT_S`]
//! (the caller got an error), for an asynchronous one the request's time to live ([`ASYNC_REQUEST_TTL_S`], the
//! request expired). A dropped request uses no capacity.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// SageMaker real-time invocations time out after 60 seconds: "A customer's model containers must respond to
/// requests within 60 seconds" (SageMaker API reference, `InvokeEndpoint`). A request that has waited this long
/// for capacity is dropped.
pub const INVOKE_ENDPOINT_TIMEOUT_S: f64 = 60.0;

/// An asynchronous endpoint's queued request expires after its time to live: `RequestTTLSeconds` of
/// `InvokeEndpointAsync`, "Maximum age in seconds a request can be in the queue before it is marked as expired.
/// The default is 6 hours, or 21,600 seconds" (SageMaker Runtime API reference).
pub const ASYNC_REQUEST_TTL_S: f64 = 21_600.0;

/// Bins of the wait histogram below the timeout: a real-time queue's bins are 0.1 s wide, an asynchronous
/// one's 36 s at the default time to live. Quantiles are reported to a bin's upper edge.
const WAIT_BINS: usize = 600;

/// Number of histogram bins: bin 0 holds the requests that did not wait, bin `k` waits in
/// `((k - 1) x bin, k x bin]`, the last one the dropped requests.
const BINS: usize = WAIT_BINS + 1;

#[derive(Debug, Clone, Copy)]
struct Batch {
    /// Arrival time in seconds from the start of the trace (the middle of the arrival second).
    arrived: f64,
    /// Requests of the batch still waiting.
    left: f64,
}

/// The queue and what it has seen so far.
#[derive(Debug, Clone)]
pub struct WaitQueue {
    objective_s: f64,
    timeout_s: f64,
    batches: VecDeque<Batch>,
    /// The sum of the batches' `left`, kept as they change (an asynchronous queue holds hours of batches).
    waiting: f64,
    stats: WaitStats,
}

/// Requests served and dropped, and how long they waited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitStats {
    /// Requests served.
    pub served: f64,
    /// Requests dropped after waiting the queue's timeout.
    pub dropped: f64,
    /// Served requests that waited longer than the latency objective (dropped ones not included).
    pub served_late: f64,
    /// The queue's timeout in seconds: dropped requests waited this long.
    pub timeout_s: f64,
    /// Requests per wait bin (`timeout_s / 600` wide); the last bin holds the dropped requests.
    histogram: Vec<f64>,
}

impl WaitStats {
    fn new(timeout_s: f64) -> Self {
        Self {
            served: 0.0,
            dropped: 0.0,
            served_late: 0.0,
            timeout_s,
            histogram: vec![0.0; BINS],
        }
    }

    fn bin_s(&self) -> f64 {
        self.timeout_s / WAIT_BINS as f64
    }

    /// Requests that reached an end (served or dropped).
    pub fn requests(&self) -> f64 {
        self.served + self.dropped
    }

    /// Requests delayed beyond the objective: the late ones and the dropped ones.
    pub fn delayed(&self) -> f64 {
        self.served_late + self.dropped
    }

    /// `delayed / requests`, 0 without requests.
    pub fn delayed_share(&self) -> f64 {
        let n = self.requests();
        if n > 0.0 { self.delayed() / n } else { 0.0 }
    }

    /// The 99th percentile of the wait over all requests, dropped ones counted at the timeout; the upper edge
    /// of the bin it falls in.
    pub fn p99_wait_s(&self) -> f64 {
        self.quantile_s(0.99)
    }

    /// The `q` quantile of the wait (see [`WaitStats::p99_wait_s`]).
    pub fn quantile_s(&self, q: f64) -> f64 {
        let n = self.requests();
        if n <= 0.0 {
            return 0.0;
        }
        let mut seen = 0.0;
        for (k, &c) in self.histogram.iter().enumerate() {
            seen += c;
            // A tolerance so that rounding in the sums does not push a quantile into the next bin.
            if seen >= q * n - 1e-9 * n {
                return k as f64 * self.bin_s();
            }
        }
        self.timeout_s
    }

    fn record(&mut self, amount: f64, wait_s: f64, objective_s: f64) {
        self.served += amount;
        if wait_s > objective_s {
            self.served_late += amount;
        }
        // The small offset keeps whole multiples of the bin width (49 / 0.1 = 490.000…01) in their own bin.
        let bin = ((wait_s / self.bin_s() - 1e-9).ceil().max(0.0) as usize).min(BINS - 2);
        self.histogram[bin] += amount;
    }
}

impl WaitQueue {
    /// An empty real-time queue judging waits against `objective_s` seconds: requests are dropped after
    /// [`INVOKE_ENDPOINT_TIMEOUT_S`].
    pub fn new(objective_s: f64) -> Self {
        Self::with_timeout(objective_s, INVOKE_ENDPOINT_TIMEOUT_S)
    }

    /// An empty queue judging waits against `objective_s` seconds whose requests are dropped after `timeout_s`.
    pub fn with_timeout(objective_s: f64, timeout_s: f64) -> Self {
        Self {
            objective_s,
            timeout_s,
            batches: VecDeque::new(),
            waiting: 0.0,
            stats: WaitStats::new(timeout_s),
        }
    }

    /// Requests waiting.
    pub fn backlog(&self) -> f64 {
        if self.batches.is_empty() {
            0.0
        } else {
            self.waiting.max(0.0)
        }
    }

    /// What has been seen so far.
    pub fn stats(&self) -> &WaitStats {
        &self.stats
    }

    /// One second starting at `now` (seconds from the start of the trace): requests queued too long are dropped,
    /// `arrivals` join the queue, and up to `service` requests are served, oldest first.
    pub fn second(&mut self, now: f64, arrivals: f64, service: f64) {
        let middle = now + 0.5;
        while let Some(b) = self.batches.front() {
            if middle - b.arrived < self.timeout_s {
                break;
            }
            self.stats.dropped += b.left;
            self.stats.histogram[BINS - 1] += b.left;
            self.waiting -= b.left;
            self.batches.pop_front();
        }
        if arrivals > 0.0 {
            self.waiting += arrivals;
            self.batches.push_back(Batch {
                arrived: middle,
                left: arrivals,
            });
        }
        if service <= 0.0 {
            return;
        }
        let mut done = 0.0;
        while done < service {
            let Some(b) = self.batches.front_mut() else { break };
            let take = b.left.min(service - done);
            // The part is served over [done, done + take] of the second's `service` requests.
            let at = now + (done + take / 2.0) / service;
            let wait = (at - b.arrived).max(0.0);
            self.stats.record(take, wait, self.objective_s);
            done += take;
            b.left -= take;
            self.waiting -= take;
            if b.left <= 1e-12 {
                self.batches.pop_front();
            }
        }
    }

    /// Runs the queue on at `service` requests a second with no more arrivals until every request is served or
    /// dropped, and returns the totals.
    pub fn drain(mut self, now: f64, service: f64) -> WaitStats {
        let mut t = now;
        while !self.batches.is_empty() {
            self.second(t, 0.0, service);
            t += 1.0;
        }
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_capacity_nobody_waits() {
        let mut q = WaitQueue::new(1.0);
        for s in 0..120 {
            q.second(f64::from(s), 2.0, 3.0);
        }
        let st = q.drain(120.0, 3.0);
        assert!((st.served - 240.0).abs() < 1e-9);
        assert_eq!((st.dropped, st.served_late, st.p99_wait_s()), (0.0, 0.0, 0.0));
    }

    #[test]
    fn a_burst_waits_in_order_and_the_tail_times_out() {
        // 100 requests in one second, 1 a second served: request k (0-based) is served in second k, so it waited
        // about k seconds; those still queued after 60 s are dropped.
        let mut q = WaitQueue::new(10.0);
        q.second(0.0, 100.0, 1.0);
        for s in 1..200 {
            q.second(f64::from(s), 0.0, 1.0);
        }
        let st = q.stats().clone();
        // Served in seconds 0..=59 (the one served in second 60 would have waited 60 s): 60 served.
        assert!((st.served - 60.0).abs() < 1e-9, "{st:?}");
        assert!((st.dropped - 40.0).abs() < 1e-9, "{st:?}");
        // Waits 0, 0.5?, 1, ..., 59: the served one in second k was reached at k + 0.5 and arrived at 0.5.
        // Waits over 10 s: seconds 11..=59, 49 requests.
        assert!((st.served_late - 49.0).abs() < 1e-9, "{st:?}");
        assert!((st.delayed_share() - 89.0 / 100.0).abs() < 1e-9);
        // 40 % dropped: the p99 is the timeout.
        assert_eq!(st.p99_wait_s(), INVOKE_ENDPOINT_TIMEOUT_S);
        // The median: the 50th request, served in second 49, waited 49 s.
        assert!((st.quantile_s(0.5) - 49.0).abs() < 1e-6, "{}", st.quantile_s(0.5));
    }

    #[test]
    fn overload_builds_a_queue_that_clears_when_capacity_returns() {
        // 10 s at twice the capacity, then capacity 10 with nothing new: the backlog of 10 s x 1 clears in one
        // second; the last arrivals waited about 5 s (half of the backlog at rate 1).
        let mut q = WaitQueue::new(2.0);
        for s in 0..10 {
            q.second(f64::from(s), 2.0, 1.0);
        }
        assert!((q.backlog() - 10.0).abs() < 1e-9);
        q.second(10.0, 0.0, 10.0);
        assert!(q.backlog() < 1e-9);
        let st = q.stats();
        assert!((st.served - 20.0).abs() < 1e-9);
        assert_eq!(st.dropped, 0.0);
        // Request i of the 20 (two a second) is reached at about i / 2 + 0.5 with capacity 1, so waits grow to
        // about 5 s: some exceed 2 s, none exceed 6 s.
        assert!(st.served_late > 0.0 && st.served_late < 20.0, "{st:?}");
        assert!(st.p99_wait_s() > 2.0 && st.p99_wait_s() <= 6.0, "{}", st.p99_wait_s());
    }

    #[test]
    fn no_capacity_drops_everything_after_the_timeout() {
        let mut q = WaitQueue::new(1.0);
        q.second(0.0, 5.0, 0.0);
        for s in 1..=60 {
            q.second(f64::from(s), 0.0, 0.0);
        }
        assert_eq!(q.stats().dropped, 5.0);
        assert_eq!(q.backlog(), 0.0);
        assert_eq!(q.stats().delayed_share(), 1.0);
    }

    #[test]
    fn an_asynchronous_queue_waits_past_a_minute_and_expires_at_its_time_to_live() {
        // Nothing serves for ten minutes, then one request a second: the 30 queued requests waited about ten
        // minutes and none was dropped; with a time to live of five minutes all would have expired.
        let run = |ttl: f64| {
            let mut q = WaitQueue::with_timeout(60.0, ttl);
            q.second(0.0, 30.0, 0.0);
            for s in 1..600 {
                q.second(f64::from(s), 0.0, 0.0);
            }
            q.drain(600.0, 1.0)
        };
        let st = run(ASYNC_REQUEST_TTL_S);
        assert!((st.served - 30.0).abs() < 1e-9 && st.dropped == 0.0, "{st:?}");
        assert!((st.served_late - 30.0).abs() < 1e-9, "{st:?}");
        // Waits of 600 to 629 s, in 36 s bins: the p99 is the edge of the bin holding 629 s.
        let p99 = st.p99_wait_s();
        assert!((612.0..=648.0).contains(&p99), "{p99}");
        let expired = run(300.0);
        assert_eq!((expired.served, expired.dropped), (0.0, 30.0));
        assert_eq!(expired.p99_wait_s(), 300.0);
    }
}
