#!/usr/bin/env python3
"""Reference values for the simulator's queue tests (shared/core/src/scaling/simulate.rs), from an implementation
independent of the Rust one: a first-in first-out queue whose requests give up after 60 s, stepped every 10 ms
(the Rust queue steps every second and places arrivals at the middle of their second).

Usage: python3 scripts/queue_reference.py
"""

from collections import deque

TIMEOUT_S = 60.0


def run(arrival_rate, service_rate, seconds, dt=0.01):
    """Requests dropped, and (wait, amount) of the served ones, for rates in requests a second."""
    queue = deque()
    dropped, waits = 0.0, []
    for k in range(int(seconds / dt)):
        t = k * dt
        while queue and t - queue[0][0] >= TIMEOUT_S:
            dropped += queue.popleft()[1]
        a = arrival_rate(t) * dt
        if a > 0:
            queue.append([t, a])
        capacity = service_rate(t) * dt
        while capacity > 1e-15 and queue:
            x = min(capacity, queue[0][1])
            queue[0][1] -= x
            capacity -= x
            waits.append((t - queue[0][0], x))
            if queue[0][1] <= 1e-15:
                queue.popleft()
    return dropped, waits


def report(name, arrival_rate, service_rate, seconds, objective_s=1.0):
    dropped, waits = run(arrival_rate, service_rate, seconds)
    waits.sort()
    total = sum(x for _, x in waits) + dropped
    late = sum(x for w, x in waits if w > objective_s)
    seen, p99 = 0.0, TIMEOUT_S
    for w, x in waits:
        seen += x
        if seen >= 0.99 * total:
            p99 = w
            break
    print(f"{name}: {total:.1f} requests, {dropped:.1f} dropped, {late + dropped:.1f} delayed "
          f"(share {(late + dropped) / total:.4f}), p99 wait {p99:.2f} s")


# target_tracking_replay_matches_a_hand_computed_sequence: 60 a minute for 20 minutes then 300; one instance
# serving 120 a minute until minute 29, five from then on; the hour, and the queue drained after it.
report("step", lambda t: 1.0 if t < 1200 else (5.0 if t < 3600 else 0.0),
       lambda t: 2.0 if t < 1740 else 10.0, 3600 + 120)
# a_queue_carries_into_the_next_minute_and_clears: 30 a minute, 180 in minute 5, one instance at 120 a minute.
report("carry", lambda t: 0.0 if t >= 600 else (3.0 if 300 <= t < 360 else 0.5), lambda t: 2.0, 600 + 120)
