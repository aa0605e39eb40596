"""Helper of benches/evidently/compare.sh: generate the data, run Evidently, print the comparison.

    python compare.py gen N OUTDIR            training.csv + captures/ (SageMaker Data Capture, S3's layout)
    python compare.py evidently OUTDIR        Evidently's data drift report on the same data -> evidently.json
    python compare.py summary OUTDIR          both tools' verdicts and times side by side

Only `evidently` is timed (by compare.sh, as a whole process): importing Evidently, reading the training CSV and
the capture files into pandas, and the report. It also writes its own phase times to evidently.json.
"""

import json
import os
import sys
import time

ENDPOINT, VARIANT = "bench-endpoint", "AllTraffic"
DAY = (2026, 11, 26)
FIRST_HOUR = 8
NUMERIC = ["age", "income", "credit_score", "debt_ratio", "num_accounts"]
CATEGORICAL = ["region", "channel", "plan"]
FEATURES = NUMERIC + CATEGORICAL
SCORE = "score"  # training CSV column; modelwatch names it prediction_score (--prediction-column)
REGIONS, CHANNELS, PLANS = ["north", "south", "east", "west"], ["app", "web", "branch"], ["basic", "plus", "premium"]


def hours_for(n):
    # One capture file per hour, as Data Capture writes them: 6 hours, or fewer for tiny runs.
    return max(1, min(6, n // 1000))


def window(n):
    y, m, d = DAY
    h = hours_for(n)
    return f"{y:04d}-{m:02d}-{d:02d}T{FIRST_HOUR:02d}", f"{y:04d}-{m:02d}-{d:02d}T{FIRST_HOUR + h:02d}"


def draw(rng, n, drift):
    """The features and the model's score. With drift: income up 30%, region's shares moved, credit_score up 2
    points (a shift too small for either tool's default threshold); age, debt_ratio, num_accounts, channel and plan
    unchanged."""
    import numpy as np

    age = np.clip(rng.normal(42, 12, n).round(), 18, 90).astype(np.int64)
    income = rng.lognormal(11.0, 0.45, n) * (1.3 if drift else 1.0)
    credit = np.clip(rng.normal(680 + (2 if drift else 0), 60, n).round(), 300, 850).astype(np.int64)
    debt = rng.beta(2, 3, n)
    accounts = rng.poisson(4, n)
    region = rng.choice(REGIONS, n, p=[0.15, 0.25, 0.2, 0.4] if drift else [0.3, 0.3, 0.2, 0.2])
    channel = rng.choice(CHANNELS, n, p=[0.5, 0.35, 0.15])
    plan = rng.choice(PLANS, n, p=[0.6, 0.3, 0.1])
    z = -1.0 + 0.9 * (np.log(income) - 11.0) / 0.45 + (credit - 680) / 60 - 2.0 * debt + 0.1 * rng.normal(0, 1, n)
    score = 1.0 / (1.0 + np.exp(-z))
    # The same text for a value in both files: CSV fields as an endpoint would receive them.
    cols = [
        age.astype(str),
        np.char.mod("%.2f", income),
        credit.astype(str),
        np.char.mod("%.4f", debt),
        accounts.astype(str),
        region,
        channel,
        plan,
    ]
    rows = [",".join(t) for t in zip(*cols)]
    return rows, np.char.mod("%.6f", score)


def gen(n, out):
    import numpy as np

    rng = np.random.default_rng(20261126)
    chunk = 200_000
    with open(os.path.join(out, "training.csv"), "w") as f:
        f.write(",".join(FEATURES + [SCORE]) + "\n")
        for start in range(0, n, chunk):
            rows, scores = draw(rng, min(chunk, n - start), drift=False)
            f.write("".join(f"{r},{s}\n" for r, s in zip(rows, scores)))

    hours = hours_for(n)
    y, m, d = DAY
    per_hour = [n // hours + (1 if i < n % hours else 0) for i in range(hours)]
    seq = 0
    for i, count in enumerate(per_hour):
        hour = FIRST_HOUR + i
        folder = os.path.join(out, "captures", ENDPOINT, VARIANT, f"{y:04d}", f"{m:02d}", f"{d:02d}", f"{hour:02d}")
        os.makedirs(folder)
        with open(os.path.join(folder, f"00-00-000-{i:08x}-bench.jsonl"), "w") as f:
            for start in range(0, count, chunk):
                k = min(chunk, count - start)
                rows, scores = draw(rng, k, drift=True)
                lines = []
                for j, (r, s) in enumerate(zip(rows, scores)):
                    ms = (start + j) * 3_600_000 // count
                    t = f"{y:04d}-{m:02d}-{d:02d}T{hour:02d}:{ms // 60000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"
                    lines.append(
                        '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
                        f'"data":"{r}","encoding":"CSV"}},"endpointOutput":{{"observedContentType":"text/csv",'
                        f'"mode":"OUTPUT","data":"{s}","encoding":"CSV"}}}},"eventMetadata":{{"eventId":'
                        f'"{seq:08x}-0000-4000-8000-{seq:012x}","inferenceTime":"{t}"}},"eventVersion":"0"}}\n'
                    )
                    seq += 1
                f.write("".join(lines))
    print(f"generated {n} training rows and {n} captured records in {hours} hourly files")


def read_captures(folder, columns):
    """The capture files into a DataFrame, as a user of Evidently would have to: JSON per line, then the CSV
    bodies (one or several rows a record) through pandas' CSV parser; the output is the score."""
    import io

    import numpy as np
    import pandas as pd

    inputs, outputs = [], []
    paths = []
    for root, _dirs, files in os.walk(folder):
        paths += [os.path.join(root, f) for f in files if f.endswith(".jsonl")]
    for path in sorted(paths):
        with open(path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                cap = json.loads(line)["captureData"]
                i, o = cap["endpointInput"], cap["endpointOutput"]
                if i.get("encoding") != "CSV" or o.get("encoding") != "CSV":
                    raise SystemExit(f"{path}: only CSV-encoded captures are read here")
                inputs.append(i["data"])
                outputs.append(o["data"])
    df = pd.read_csv(io.StringIO("\n".join(inputs)), header=None, names=columns)
    score = np.array("\n".join(outputs).split("\n"), dtype=np.float64)
    if len(score) != len(df):
        raise SystemExit(f"{len(df)} input rows but {len(score)} outputs")
    df[SCORE] = score
    return df


def evidently(out):
    t0 = time.perf_counter()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently import __version__ as ev_version
    from evidently.presets import DataDriftPreset

    t1 = time.perf_counter()
    reference = pd.read_csv(os.path.join(out, "training.csv"))
    current = read_captures(os.path.join(out, "captures"), FEATURES)
    t2 = time.perf_counter()
    definition = DataDefinition(numerical_columns=NUMERIC + [SCORE], categorical_columns=CATEGORICAL)
    report = Report([DataDriftPreset()], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    t3 = time.perf_counter()

    features = {}
    for m in result["metrics"]:
        cfg = m["config"]
        if cfg.get("type") == "evidently:metric_v2:ValueDrift":
            features[cfg["column"]] = {"method": cfg["method"], "threshold": cfg["threshold"], "score": m["value"]}
    for t in result["tests"]:
        params = t["metric_config"]["params"]
        if params.get("type") == "evidently:metric_v2:ValueDrift":
            features[params["column"]]["drifted"] = t["status"] == "FAIL"
    with open(os.path.join(out, "evidently.json"), "w") as f:
        json.dump(
            {
                "version": ev_version,
                "pandas": pd.__version__,
                "rows": [len(reference), len(current)],
                "seconds": {"import": t1 - t0, "read": t2 - t1, "report": t3 - t2},
                "features": features,
            },
            f,
            indent=1,
        )


def summary(out):
    ev = json.load(open(os.path.join(out, "evidently.json")))
    mw = json.load(open(os.path.join(out, "reports", "drift.json")))
    times = {}
    for name in ("mw-baseline", "mw-evaluate", "evidently"):
        wall, cpu, rss = open(os.path.join(out, f"{name}.time")).read().split()
        times[name] = (float(wall), float(cpu), int(rss))

    def names(feature):  # modelwatch's name -> the column's name in the CSV and in Evidently
        return SCORE if feature == "prediction_score" else feature

    mw_features = {names(f["feature"]): f for f in mw["features"]}
    print()
    print(f"Evidently {ev['version']} (pandas {ev['pandas']}): reference {ev['rows'][0]} rows, current {ev['rows'][1]} rows")
    print(f"{'feature':<14} {'modelwatch method':<20} {'value':>8} {'drift':<6} | {'Evidently method':<32} {'value':>8} {'drift':<6} agree")
    agree = 0
    order = [c for c in FEATURES + [SCORE] if c in mw_features or c in ev["features"]]
    for c in order:
        m, e = mw_features.get(c), ev["features"].get(c)
        # A test's p-value (Evidently's value for tests), else the distance.
        mv = m["p_value"] if m and m.get("p_value") is not None else (m["statistic"] if m else None)
        ms = (m["method"], f"{mv:.4f}", "DRIFT" if m["drifted"] else "ok") if m else ("-", "-", "-")
        es = (e["method"], f"{e['score']:.4f}", "DRIFT" if e["drifted"] else "ok") if e else ("-", "-", "-")
        same = bool(m and e and m["drifted"] == e["drifted"])
        agree += same
        print(f"{c:<14} {ms[0]:<20} {ms[1]:>8} {ms[2]:<6} | {es[0]:<32} {es[1]:>8} {es[2]:<6} {'yes' if same else 'NO'}")
    flagged_mw = [c for c in order if mw_features.get(c, {}).get("drifted")]
    flagged_ev = [c for c in order if ev["features"].get(c, {}).get("drifted")]
    print(f"modelwatch flagged: {', '.join(flagged_mw) or 'none'}")
    print(f"Evidently flagged:  {', '.join(flagged_ev) or 'none'}")
    print(f"verdicts agree on {agree} of {len(order)} columns")
    print(
        "(Jensen-Shannon: modelwatch reports it in base 2, Evidently with scipy's default natural log, so modelwatch's\n"
        " value is Evidently's x 1/sqrt(ln 2) = 1.20 and the same 0.1 threshold is stricter in modelwatch: 0.083 in\n"
        " Evidently's units. Up to 1,000 values both use tests and show p-values: modelwatch's chi_square tests\n"
        " homogeneity, Evidently's chi-square goodness of fit (modelwatch's chi_square_goodness_of_fit). modelwatch\n"
        " compares against its baseline's sketches, Evidently against the raw reference.)"
    )

    b, e, v = times["mw-baseline"], times["mw-evaluate"], times["evidently"]
    mw_total = b[0] + e[0]
    s = ev["seconds"]
    print()
    print(f"{'':<44} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>13}")
    print(f"{'modelwatch baseline (training CSV)':<44} {b[0]:>8.2f} {b[1]:>8.2f} {b[2] / 1024:>13.0f}")
    print(f"{'modelwatch evaluate (captures)':<44} {e[0]:>8.2f} {e[1]:>8.2f} {e[2] / 1024:>13.0f}")
    print(f"{'modelwatch, both':<44} {mw_total:>8.2f} {b[1] + e[1]:>8.2f}")
    print(f"{'Evidently, whole process':<44} {v[0]:>8.2f} {v[1]:>8.2f} {v[2] / 1024:>13.0f}")
    print(
        f"  of which: import {s['import']:.2f} s, reading the CSV and the captures into pandas {s['read']:.2f} s, "
        f"report {s['report']:.2f} s"
    )
    print()
    print(f"ratio Evidently / modelwatch (baseline + evaluate), wall clock: {v[0] / mw_total:.1f}x")
    print(f"ratio Evidently / modelwatch evaluate alone (baseline made once), wall clock: {v[0] / e[0]:.1f}x")
    print(f"ratio Evidently report alone (data already in pandas) / modelwatch, both: {s['report'] / mw_total:.1f}x")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "gen":
        gen(int(sys.argv[2]), sys.argv[3])
    elif cmd == "window":
        print(*window(int(sys.argv[2])))
    elif cmd == "evidently":
        evidently(sys.argv[2])
    elif cmd == "summary":
        summary(sys.argv[2])
    else:
        raise SystemExit(__doc__)
