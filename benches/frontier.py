#!/usr/bin/env python3
"""The README's cost-against-delay comparison on multi-day real traces, reproducible in one command.

Runs `modelwatch simulate --sweep` on the NAB Twitter volumes (5-minute counts, about 55 days each) and on the UCI
bike-sharing hourly counts of 2011 and of 2012 (`dteday` and `hr` joined into a timestamp, `cnt` the count; a
year each because the simulator takes a year at most), with the policy a user writes from the README (the required
fields plus the capacity per instance), each field of POLICY_JSON (a JSON object, optional) overriding it. Prints,
for each trace and baseline, the policy's delayed share over the baseline's at equal cost (below 1: the policy
delays fewer requests for the same money), read from frontier.json's `policy_at_equal_cost`, and the policy's
flaps.

Usage: python3 benches/frontier.py [MODELWATCH] [REALDATA] [OUT] [POLICY_JSON]
  defaults: target/release/modelwatch, ../shared/realdata, a temporary directory, {}
"""

import csv
import json
import os
import subprocess
import sys
import tempfile

# (trace, or the bike counts' year; capacity per instance in requests a minute): AAPL's median is 9.4 a minute, the
# others' 2 to 3. The first three tuning rounds saw the first four; 2012's bike counts were held out until the fourth.
TRACES = {
    "aapl": ("traces/nab/Twitter_volume_AAPL.csv", 6),
    "fb": ("traces/nab/Twitter_volume_FB.csv", 2),
    "goog": ("traces/nab/Twitter_volume_GOOG.csv", 2),
    "bikes-2011": (2011, 2),
    "bikes-2012": (2012, 2),
}


def bikes(realdata, out, year):
    path = os.path.join(out, f"bikes_{year}.csv")
    with open(os.path.join(realdata, "datasets/bike_sharing/hour.csv")) as f, open(path, "w") as w:
        w.write("timestamp,value\n")
        for r in csv.DictReader(f):
            if r["dteday"].startswith(str(year)):
                w.write(f"{r['dteday']} {int(r['hr']):02d}:00:00,{r['cnt']}\n")
    return path


def prepared(realdata, out, overrides, names=None):
    """Each trace's name, CSV path, policy file (the README's, with `overrides`) and output directory; all of
    TRACES, or those in `names`."""
    for name, (trace, capacity) in TRACES.items():
        if names is not None and name not in names:
            continue
        path = bikes(realdata, out, trace) if isinstance(trace, int) else os.path.join(realdata, trace)
        policy = {
            "endpoint": "e",
            "variant": "AllTraffic",
            "instance_type": "ml.g5.xlarge",
            "min_instances": 1,
            "max_instances": 100,
            "target_invocations_per_instance": capacity / 2,
            "capacity_invocations_per_instance": capacity,
        }
        policy.update(overrides)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        policy_path = os.path.join(d, "policy.json")
        with open(policy_path, "w") as f:
            json.dump(policy, f)
        yield name, path, policy_path, d


def main():
    args = sys.argv[1:]
    binary = args[0] if len(args) > 0 else "target/release/modelwatch"
    realdata = args[1] if len(args) > 1 else "../shared/realdata"
    out = args[2] if len(args) > 2 else tempfile.mkdtemp()
    overrides = json.loads(args[3]) if len(args) > 3 else {}
    for name, path, policy_path, d in prepared(realdata, out, overrides):
        cmd = [binary, "simulate", "--trace", path, "--policy", policy_path, "--sweep", "--out", d]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "frontier.json")) as f:
            frontier = json.load(f)
        for base in ("target-tracking", "target-tracking-scheduled"):
            ratios = [
                e["policy_delayed_share"] / e["baseline_delayed_share"]
                for e in frontier["policy_at_equal_cost"]
                if e["baseline"] == base and e["policy_delayed_share"] is not None and e["baseline_delayed_share"] > 0
            ]
            shown = " ".join(f"{r:.2f}" for r in ratios) or "none comparable"
            print(f"{name:11} policy / {base:26} at equal cost: {shown}")
        flaps = [p["flaps"] for p in frontier["controllers"]["policy"]]
        print(f"{name:11} policy flaps over the targets: {flaps}")
    print(f"frontier.json files under {out}")


if __name__ == "__main__":
    main()
