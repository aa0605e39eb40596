"""Lambda Invoke forwarded to a function binary running under cargo-lambda's emulator.

LocalStack runs Lambda functions in Docker, which this machine does not have. Step Functions' `lambda:invoke`
integration calls LocalStack's Lambda `Invoke` through LocalStack's own gateway, so the state machine's tasks reach
this wrapper: a function named `mw-forward-<port>` (in a name or an ARN) is invoked by posting the payload to
`cargo lambda watch` listening on 127.0.0.1:<port> (its Invoke API, function `_`), and its answer comes back as
Lambda's: the payload, and `FunctionError` when the function failed (Step Functions then takes the payload's
`errorType` as the error's name, as on AWS). Every other function is LocalStack's.
"""

from __future__ import annotations

import logging
import re
import urllib.error
import urllib.request

LOG = logging.getLogger(__name__)

FORWARDED = re.compile(r"(?:^|:function:)mw-forward-(\d+)(?::|$)")


def forward(port: str, payload: bytes) -> dict:
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/_/invocations"
    request = urllib.request.Request(url, data=payload, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=900) as answer:
            body, error = answer.read(), answer.headers.get("X-Amz-Function-Error")
    except urllib.error.HTTPError as failed:
        body, error = failed.read(), failed.headers.get("X-Amz-Function-Error") or "Unhandled"
    response = {"StatusCode": 200, "Payload": body, "ExecutedVersion": "$LATEST"}
    if error:
        response["FunctionError"] = error
    return response


def install() -> None:
    """Wraps LocalStack's Lambda Invoke (replaced before the service loads: see cloudwatch_strict.install)."""
    from localstack.services.lambda_ import provider

    original = provider.LambdaProvider.invoke
    if getattr(original, "_modelwatch_forward", False):
        return

    def invoke(self, context, function_name, *args, **kwargs):
        match = FORWARDED.search(function_name or "")
        if match is None:
            return original(self, context, function_name, *args, **kwargs)
        payload = kwargs.get("payload")
        body = payload.read() if hasattr(payload, "read") else (payload or b"{}")
        return forward(match.group(1), body)

    invoke._modelwatch_forward = True
    provider.LambdaProvider.invoke = invoke
    LOG.info("modelwatch teststack: Lambda Invoke of mw-forward-<port> forwarded to cargo lambda watch")
