"""Records the requests made with the IAM check's credentials, for the end-to-end tests' IAM check.

LocalStack's community edition does not enforce IAM. A test that runs a function as the template deploys it
(tests/src/iam.rs) gives the function's clients an access key id of their own, starting with "mwiam". Every
request signed with such a key is appended, once parsed, to MODELWATCH_TESTSTACK_CALLS_DIR/<key>.jsonl as
{"service", "operation", "params", "status"}: the parameters as the service parsed them, without object bodies or
metric values. The line is written before the response leaves, so a test reads its calls as soon as they return.
Requests with other keys (the tests' own set-up) are not recorded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading

LOG = logging.getLogger(__name__)

KEY_PREFIX = "mwiam"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_lock = threading.Lock()


def _access_key(context) -> str | None:
    request = context.request
    if request is None:
        return None
    match = _CREDENTIAL.search(request.headers.get("Authorization") or "")
    return match.group(1) if match else None


def _params(request: dict) -> dict:
    params = {}
    for name, value in (request or {}).items():
        if name == "Body":
            continue
        if name == "MetricData":
            value = len(value or [])
        params[name] = value
    return params


def record(chain, context, response) -> None:
    directory = os.environ.get("MODELWATCH_TESTSTACK_CALLS_DIR")
    if not directory or context.operation is None or context.service is None:
        return
    key = _access_key(context)
    if not key or not key.startswith(KEY_PREFIX) or not key.isalnum():
        return
    line = json.dumps(
        {
            "service": context.service.service_name,
            "operation": context.operation.name,
            "params": _params(context.service_request),
            "status": response.status_code,
        },
        default=str,
    )
    os.makedirs(directory, exist_ok=True)
    with _lock, open(os.path.join(directory, f"{key}.jsonl"), "a", encoding="utf-8") as out:
        out.write(line + "\n")


def install() -> None:
    from localstack.aws import handlers

    handlers.run_custom_response_handlers.append(record)
    LOG.info("modelwatch teststack: recording the IAM check's calls in %s", os.environ.get("MODELWATCH_TESTSTACK_CALLS_DIR"))
