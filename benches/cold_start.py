"""Cold start of each Lambda function's bootstrap: the time from starting the process to its first request for an
invocation (what Lambda reports as "Init Duration": runtime, logging, configuration and SDK clients), against a
local stand-in for the Lambda Runtime API, with the environment the SAM template gives each function.

Usage: python3 benches/cold_start.py [DIR] [RUNS]    (DIR: where the binaries are, default target/release; RUNS: 20)

The process is stopped at its first `GET .../invocation/next`; a function that fails to initialise (it would post
to `.../init/error`) is reported as such, not timed. Only the standard library is used.
"""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

BUCKET = "s3://modelwatch-data"
# The variables infra/template.yaml sets for each function (defaults of its parameters), and the Lambda service's.
ENVIRONMENT = {
    "evaluate-captures": {
        "ENDPOINTS": "churn/AllTraffic",
        "CAPTURE_S3_URI": f"{BUCKET}/datacapture",
        "BASELINE_S3_URI": f"{BUCKET}/baselines/{{endpoint}}/{{variant}}",
        "REPORT_S3_URI": f"{BUCKET}/reports",
        "STATE_S3_URI": f"{BUCKET}/state/monitor",
        "SCHEDULE_NAME": "hourly",
        "SETTLE_MINUTES": "10",
        "MAX_WINDOWS_PER_RUN": "24",
        "LEASE_MINUTES": "20",
    },
    "suggest-baseline": {},
    "scale-endpoint": {
        "ENDPOINTS": "churn/AllTraffic",
        "POLICY_S3_URI": f"{BUCKET}/scaling/policy.json",
        "STATE_S3_URI": f"{BUCKET}/state/scaling",
        "DRY_RUN": "false",
        "METRICS_NAMESPACE": "modelwatch/Scaling",
    },
    "launch-retraining": {
        "ENDPOINTS": "churn",
        "RETRAIN_SETTINGS_S3_URI": f"{BUCKET}/retraining/churn.json",
        "STATE_S3_URI": f"{BUCKET}/state/monitor",
        "REPORT_S3_URI": f"{BUCKET}/reports",
        "BASELINE_S3_URI": f"{BUCKET}/baselines/{{endpoint}}/{{variant}}",
        "TRAINING_ROLE_ARN": "arn:aws:iam::123456789012:role/training",
        "ROLLBACK_ALARMS": "churn-errors",
    },
}
LAMBDA = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "example",
    "AWS_SESSION_TOKEN": "example",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
}


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Records when the first invocation is asked for, or the initialisation error."""

    reached = None  # threading.Event, set per run
    outcome = None

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            RuntimeApi.outcome = ("next", time.perf_counter())
            RuntimeApi.reached.set()
            # Never answered: the process is stopped.
            time.sleep(5)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length).decode(errors="replace")
        if self.path.endswith("/init/error"):
            RuntimeApi.outcome = ("init error", body[:300])
            RuntimeApi.reached.set()
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target/release"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"127.0.0.1:{server.server_address[1]}"
    print(f"function            size MB   init ms (median, p90 of {runs}; process start to first /next)")
    for function, variables in ENVIRONMENT.items():
        binary = os.path.join(directory, function)
        if not os.path.exists(binary):
            print(f"{function:18}  absent from {directory}")
            continue
        size = os.path.getsize(binary) / 1e6
        env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_RUNTIME_API": api,
               "AWS_LAMBDA_FUNCTION_NAME": function, **LAMBDA, **variables}
        times, failure = [], None
        for _ in range(runs):
            RuntimeApi.reached, RuntimeApi.outcome = threading.Event(), None
            started = time.perf_counter()
            process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            reached = RuntimeApi.reached.wait(timeout=10)
            process.kill()
            _, stderr = process.communicate()
            if not reached or RuntimeApi.outcome[0] != "next":
                failure = RuntimeApi.outcome[1] if RuntimeApi.outcome else stderr.decode(errors="replace")[-300:]
                break
            times.append((RuntimeApi.outcome[1] - started) * 1000)
        if failure is not None:
            print(f"{function:18}  {size:7.1f}   did not initialise: {failure}")
            continue
        times.sort()
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
        print(f"{function:18}  {size:7.1f}   {statistics.median(times):6.1f}  {p90:6.1f}")
    server.shutdown()


if __name__ == "__main__":
    main()
