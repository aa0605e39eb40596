"""S3 conditional writes as AWS answers them when two overlap: 409 ConditionalRequestConflict.

LocalStack serialises writes, so of two conditional PutObject calls on one key the second always sees the first's
result (412 PreconditionFailed or success). On AWS a conditional write takes tens of milliseconds, and one that
arrives while another conditional write to the same key is in progress is refused: "If a concurrent operation
occurs during the upload S3 returns a 409 ConditionalRequestConflict response" (S3 API Reference, PutObject,
If-None-Match and If-Match). Here a conditional PutObject (If-None-Match or If-Match) holds its key for
MODELWATCH_TESTSTACK_CONDITIONAL_MS milliseconds (default 40) before it is carried out, and another conditional
PutObject on the same bucket and key in that time is answered 409. MODELWATCH_TESTSTACK_STRICT=0 turns it off.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time

LOG = logging.getLogger(__name__)

_lock = threading.Lock()
_in_progress: set[tuple[str, str]] = set()


def hold_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("MODELWATCH_TESTSTACK_CONDITIONAL_MS", "40")) / 1000.0)
    except ValueError:
        return 0.04


def install() -> None:
    """Wraps LocalStack's S3 PutObject (before the provider is loaded, as cloudwatch_strict does)."""
    from localstack.aws.api.s3 import ConditionalRequestConflict
    from localstack.services.s3 import provider as s3_provider

    from modelwatch_teststack.cloudwatch_strict import strict

    original = s3_provider.S3Provider.put_object
    if getattr(original, "_modelwatch_conditional", False):
        return

    # The provider's PutObject is a handler with `expand=False` (called with the whole request): wraps() keeps
    # that mark for LocalStack's dispatcher.
    @functools.wraps(original)
    def put_object(self, context, request, *args, **kwargs):
        conditional = request.get("IfNoneMatch") is not None or request.get("IfMatch") is not None
        if not conditional or not strict():
            return original(self, context, request, *args, **kwargs)
        key = (request["Bucket"], request["Key"])
        with _lock:
            if key in _in_progress:
                raise ConditionalRequestConflict(
                    "A conflicting conditional operation is currently in progress against this resource. "
                    "Please try again.",
                    Key=request["Key"],
                )
            _in_progress.add(key)
        try:
            time.sleep(hold_seconds())
            return original(self, context, request, *args, **kwargs)
        finally:
            with _lock:
                _in_progress.discard(key)

    put_object._modelwatch_conditional = True
    s3_provider.S3Provider.put_object = put_object
    LOG.info("modelwatch teststack: overlapping conditional PutObject answered 409 (hold %.0f ms)", hold_seconds() * 1000)
