"""PutMetricData as strict as CloudWatch's documented limits, which LocalStack does not enforce.

From the CloudWatch API reference (PutMetricData, MetricDatum, Dimension) and "CloudWatch service quotas":
  * at most 1,000 MetricDatum per request (InvalidParameterValue);
  * MetricName 1-255 characters; at most 30 dimensions per datum (InvalidParameterValue);
  * a timestamp at most two hours in the future and at most two weeks in the past (InvalidParameterValue);
  * a request body of at most 1 MB (HTTP 413, RequestEntityTooLarge).

The end-to-end tests therefore put the demo's hours just before the current one (tests/src/lib.rs, DemoBucket).

Set MODELWATCH_TESTSTACK_STRICT=0 to turn the checks off.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone

LOG = logging.getLogger(__name__)

MAX_DATA_PER_REQUEST = 1000
MAX_METRIC_NAME = 255
MAX_DIMENSIONS = 30
MAX_AHEAD = timedelta(hours=2)
MAX_BEHIND = timedelta(days=14)
MAX_REQUEST_BYTES = 1_000_000


def strict() -> bool:
    return os.environ.get("MODELWATCH_TESTSTACK_STRICT", "1") != "0"


def check_put_metric_data(metric_data, body_bytes: int) -> None:
    from localstack.aws.api import CommonServiceException
    from localstack.aws.api.cloudwatch import InvalidParameterValueException

    if body_bytes > MAX_REQUEST_BYTES:
        raise CommonServiceException(
            "RequestEntityTooLarge",
            f"Request size {body_bytes} exceeded {MAX_REQUEST_BYTES} bytes",
            status_code=413,
        )
    data = metric_data or []
    if len(data) > MAX_DATA_PER_REQUEST:
        raise InvalidParameterValueException(
            f"The collection MetricData must not have a size greater than {MAX_DATA_PER_REQUEST}."
        )
    now = datetime.now(timezone.utc)
    latest, earliest = now + MAX_AHEAD, now - MAX_BEHIND
    for i, datum in enumerate(data, start=1):
        name = datum.get("MetricName") or ""
        if not 1 <= len(name) <= MAX_METRIC_NAME:
            raise InvalidParameterValueException(
                f"The parameter MetricData.member.{i}.MetricName must be between 1 and {MAX_METRIC_NAME} characters."
            )
        if len(datum.get("Dimensions") or []) > MAX_DIMENSIONS:
            raise InvalidParameterValueException(
                f"The collection MetricData.member.{i}.Dimensions must not have a size greater than {MAX_DIMENSIONS}."
            )
        stamp = datum.get("Timestamp")
        if isinstance(stamp, datetime):
            aware = stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
            if aware > latest:
                raise InvalidParameterValueException(
                    f"The parameter MetricData.member.{i}.Timestamp must specify a time no more than two hours in "
                    "the future."
                )
            if aware < earliest:
                raise InvalidParameterValueException(
                    f"The parameter MetricData.member.{i}.Timestamp must specify a time within the past two weeks."
                )


def install() -> None:
    """Wraps LocalStack's CloudWatch PutMetricData (provider v2, the default) with the checks above."""
    from localstack.services.cloudwatch import provider_v2

    original = provider_v2.CloudwatchProvider.put_metric_data
    if getattr(original, "_modelwatch_strict", False):
        return

    def put_metric_data(self, context, namespace, metric_data=None, *args, **kwargs):
        if strict():
            body = context.request.get_data() if context.request is not None else b""
            check_put_metric_data(metric_data, len(body or b""))
        return original(self, context, namespace, metric_data, *args, **kwargs)

    put_metric_data._modelwatch_strict = True
    # LocalStack's dispatch table finds the operation on the API class (@handler) and resolves the provider's
    # method by name when the service loads: replaced before that (an on_infra_start hook), it is this one.
    provider_v2.CloudwatchProvider.put_metric_data = put_metric_data
    LOG.info("modelwatch teststack: strict PutMetricData (MODELWATCH_TESTSTACK_STRICT=%s)", os.environ.get("MODELWATCH_TESTSTACK_STRICT", "1"))
