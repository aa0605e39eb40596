#!/usr/bin/env python3
"""How far any causal controller could go on the NAB Twitter traces: a learned predictor's bound, out of sample.

Issue 17 asks the policy to delay at most half the requests target tracking delays at equal cost. This script asks
whether anything that sees only the past can, on these traces. It fits a gradient-boosted quantile model
(scikit-learn's HistGradientBoostingRegressor) on the first half of each trace to predict each minute's demand from
what a controller could have seen when it had to ask for the instances (the start-up delay and a minute of metric
lag earlier): the newest minute, the peaks and means of the last 5 minutes to 12 hours, the time of day and the
same minute the day before. On the second half it provisions ceil(k x prediction / capacity) instances, 1 to 100,
each minute, billed from the moment they are asked for, and compares the delayed share with target tracking's at
equal cost on the same half. The predictor is favoured: no cooldowns, no `Updating` state, a free choice each
minute, 19 features where the policy keeps a handful of numbers.

The predictor's capacity does not go through the simulator's queue. Its delayed share is a per-minute fluid
approximation (a minute over capacity delays the requests that arrive after the first `capacity / excess` of its
60 seconds); the script applies the same approximation to the simulator's own timelines of target tracking and the
policy, prints it beside the simulator's figure, and compares like with like.

Usage: python3 benches/predictability.py [MODELWATCH] [REALDATA] [OUT]
  defaults: target/release/modelwatch, ../shared/realdata, a temporary directory
  needs numpy and scikit-learn, e.g. python3 -m venv .local/venv-bench && .local/venv-bench/bin/pip install
  numpy scikit-learn, then run it with .local/venv-bench/bin/python
"""

import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.ensemble import HistGradientBoostingRegressor

from frontier import TRACES, prepared

# The fleet the simulator models by default (FleetModel::from_policy): 6 minutes of start-up, 1 of metric lag.
STARTUP_MINUTES = 6
LAG_MINUTES = 1
MAX_INSTANCES = 100
TARGET_FRACTIONS = (0.3, 0.5, 0.7, 1.0)
QUANTILES = (0.7, 0.9, 0.95)
MULTIPLIERS = (0.8, 1.0, 1.25, 1.5, 2.0)
WINDOWS = (5, 10, 15, 30, 60, 120, 240, 720)


def approx_delayed_share(demand, serving, capacity):
    """Share of requests arriving after a minute's capacity is used up, at a constant rate within the minute."""
    cap = serving * capacity
    over = demand > cap
    first_s = np.where(over, cap / np.maximum(demand - cap, 1e-9), 60.0)
    late = np.where(over, demand * (1.0 - np.minimum(1.0, first_s / 60.0)), 0.0)
    return late.sum() / demand.sum()


def rolling(x, w, f):
    out = np.empty(len(x))
    out[: w - 1] = x[: w - 1]
    out[w - 1 :] = f(sliding_window_view(x, w), axis=1)
    return out


def features(demand):
    """One row per minute: what is known at the end of that minute."""
    lx = np.log1p(demand)
    cols = [lx]
    for w in WINDOWS:
        cols.append(np.log1p(rolling(demand, w, np.max)))
        cols.append(np.log1p(rolling(demand, w, np.mean)))
    cols.append((np.arange(len(demand)) % 1440).astype(float))
    cols.append(np.concatenate([np.zeros(1440), lx[:-1440]]))
    return np.stack(cols, 1)


def billed_hours(n):
    """Instance-hours of a per-minute count, each added instance billed through its start-up too."""
    added = np.maximum(0.0, np.diff(n, prepend=n[0]))
    return (n.sum() + STARTUP_MINUTES * added.sum()) / 60.0


def at_cost(curve, cost):
    costs, shares = zip(*sorted(curve))
    if cost < costs[0] or cost > costs[-1]:
        return None
    return float(np.interp(cost, costs, shares))


def main():
    args = sys.argv[1:]
    binary = args[0] if len(args) > 0 else "target/release/modelwatch"
    realdata = args[1] if len(args) > 1 else "../shared/realdata"
    out = args[2] if len(args) > 2 else tempfile.mkdtemp()
    for name, path, policy_path, d in prepared(realdata, out, {}, ("aapl", "fb", "goog")):
        capacity = TRACES[name][1]
        with open(policy_path) as f:
            policy = json.load(f)
        runs = {"policy": [], "target-tracking": []}
        demand = None
        for fraction in TARGET_FRACTIONS:
            policy["target_invocations_per_instance"] = fraction * capacity
            p = os.path.join(d, f"policy-{fraction}.json")
            with open(p, "w") as f:
                json.dump(policy, f)
            o = os.path.join(d, f"run-{fraction}")
            cmd = [binary, "simulate", "--trace", path, "--policy", p, "--compare", "target-tracking", "--out", o]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(o, "timeline.json")) as f:
                for run in json.load(f):
                    tl = run["timeline"]
                    if demand is None:
                        demand = np.array([m["demand"] if m["demand"] is not None else 0.0 for m in tl])
                    runs[run["summary"]["controller"]].append(
                        (
                            run["summary"]["delayed_share"],
                            np.array([m["serving"] for m in tl], dtype=float),
                            np.array([m["billed"] for m in tl], dtype=float),
                        )
                    )
        half = len(demand) // 2
        second = demand[half:]
        print(f"{name}: {len(demand)} minutes; the second half's {len(second)} judged")
        curves = {}
        for controller, rs in runs.items():
            curves[controller] = []
            for fraction, (sim_share, serving, billed) in zip(TARGET_FRACTIONS, rs):
                whole = approx_delayed_share(demand, serving, capacity)
                share = approx_delayed_share(second, serving[half:], capacity)
                cost = billed[half:].sum() / 60.0
                curves[controller].append((cost, share))
                print(
                    f"  {controller:16} target {fraction:.1f} x capacity: delayed {sim_share:.4f} simulated, "
                    f"{whole:.4f} approximated; second half {cost:.0f} instance-hours, {share:.4f}"
                )
        tt = curves["target-tracking"]

        def ratios(points):
            return [s / b for c, s in points if (b := at_cost(tt, c)) is not None and b > 0]

        shown = " ".join(f"{r:.2f}" for r in ratios(curves["policy"]))
        print(f"  policy / target tracking at equal cost, second half, approximated: {shown}")
        x = features(demand)
        ahead = STARTUP_MINUTES + LAG_MINUTES
        X, y = x[: len(demand) - ahead], np.log1p(demand[ahead:])
        best = math.inf
        for q in QUANTILES:
            model = HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=200, random_state=0)
            model.fit(X[: half - ahead], y[: half - ahead])
            predicted = np.expm1(model.predict(X))
            points = []
            for k in MULTIPLIERS:
                n = np.ones(len(demand))
                n[ahead:] = np.clip(np.ceil(k * predicted / capacity), 1, MAX_INSTANCES)
                points.append((billed_hours(n[half:]), approx_delayed_share(second, n[half:], capacity)))
            r = ratios(points)
            best = min([best, *r])
            print(f"  learned quantile {q} / target tracking at equal cost: {' '.join(f'{v:.2f}' for v in r)}")
        print(f"  best learned ratio: {best:.2f}")


if __name__ == "__main__":
    main()
