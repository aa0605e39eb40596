#!/usr/bin/env python3
"""The README's real-time / asynchronous / batch transform comparison on multi-day real traces, in one command.

Runs `modelwatch simulate --compare-serving TOLERANCE` on the traces of frontier.py (NAB Twitter volumes, the 2011
bike-sharing counts), with the same policy a user writes from the README, for each tolerance, and prints one line
per trace and tolerance: each way's cheapest setting that answers 99% of requests in time (cost in USD, or why
none does), and the cheapest way, read from serving.json.

Usage: python3 benches/serving.py [MODELWATCH] [REALDATA] [OUT] [TOLERANCES]
  defaults: target/release/modelwatch, ../shared/realdata, a temporary directory, 1s,1m,15m,1h,6h,1d
"""

import json
import os
import subprocess
import sys
import tempfile

from frontier import prepared


def main():
    args = sys.argv[1:]
    binary = args[0] if len(args) > 0 else "target/release/modelwatch"
    realdata = args[1] if len(args) > 1 else "../shared/realdata"
    out = args[2] if len(args) > 2 else tempfile.mkdtemp()
    tolerances = (args[3] if len(args) > 3 else "1s,1m,15m,1h,6h,1d").split(",")
    for name, path, policy_path, d in prepared(realdata, out, {}, ("aapl", "fb", "goog", "bikes-2011")):
        for tolerance in tolerances:
            run_dir = os.path.join(d, tolerance)
            cmd = [binary, "simulate", "--trace", path, "--policy", policy_path, "--compare-serving", tolerance]
            subprocess.run(cmd + ["--out", run_dir], check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(run_dir, "serving.json")) as f:
                serving = json.load(f)
            cells = []
            for way in ("real-time", "asynchronous", "batch-transform"):
                best = serving["modes"][way]["cheapest"]
                cells.append(f"{way} " + (f"${best['cost_usd']:,.0f}" if best else "-"))
            print(f"{name:11} {tolerance:>4}: {' | '.join(cells)} -> {serving['cheapest'] or 'none meets it'}")
    print(f"serving.json files under {out}")


if __name__ == "__main__":
    main()
