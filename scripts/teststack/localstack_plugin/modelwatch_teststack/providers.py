"""LocalStack service plugins for the modelwatch test stack.

LocalStack's community image does not include SageMaker or Application Auto Scaling (paid tier).
Its bundled moto (the ``moto-ext`` distribution) has backends for both, so these plugins put them behind
LocalStack's gateway: every request is parsed by LocalStack, then handed to moto in-process, and the
answer is re-serialised in the protocol the client used.  Everything is served on LocalStack's one port.

On top of moto, SageMaker gets operations moto lacks (see ``sagemaker_ext.py``): ``UpdateEndpoint``,
with the real API's Updating -> InService transition.
"""

from __future__ import annotations

import logging

from localstack.aws.api import RequestContext, ServiceRequest, ServiceResponse
from localstack.aws.forwarder import dispatch_to_backend
from localstack.aws.spec import load_service
from localstack.services.plugins import Service, aws_provider

LOG = logging.getLogger(__name__)


def moto_http_dispatcher(moto_service: str):
    """Like localstack.services.moto.dispatch_to_moto, but with an explicit moto backend name
    (botocore calls it ``application-autoscaling``, moto ``applicationautoscaling``)."""
    from localstack.aws.api import CommonServiceException
    from localstack.http import Response
    from localstack.http.request import get_full_raw_path, get_raw_current_url
    from localstack.services.moto import get_dispatcher
    from moto.core.exceptions import RESTError

    def _dispatch(context: RequestContext) -> Response:
        request = context.request
        full_raw_path = get_full_raw_path(request)
        dispatch = get_dispatcher(moto_service, full_raw_path.split("?")[0])
        raw_url = get_raw_current_url(request.scheme, request.host, request.root_path, full_raw_path)
        try:
            result = dispatch(request, raw_url, request.headers)
        except RESTError as e:
            raise CommonServiceException(e.error_type, e.message, status_code=e.code) from e
        if not result:
            raise NotImplementedError
        status, headers, content = result
        if isinstance(content, str) and not content:
            content = None
        return Response(content, status, headers)

    return _dispatch


def moto_fallback(moto_service: str):
    http_dispatch = moto_http_dispatcher(moto_service)

    def _call(context: RequestContext, request: ServiceRequest) -> ServiceResponse:
        # moto's answer is parsed against the botocore model, so LocalStack can serialise it in the
        # client's protocol (JSON, CBOR, ...) and errors come back as proper service exceptions.
        return dispatch_to_backend(context, http_dispatch)

    return _call


class MotoBackedProvider:
    """A provider whose every operation goes to moto unless ``overrides()`` says otherwise.
    Operations moto does not implement come back as LocalStack's usual 501 "not implemented"."""

    service: str
    moto_service: str

    def overrides(self) -> dict:
        return {}

    def dispatch_table(self) -> dict:
        fallback = moto_fallback(self.moto_service)
        table = {op: fallback for op in load_service(self.service).operation_names}
        table.update(self.overrides())
        return table

    def accept_state_visitor(self, visitor) -> None:
        # lets LocalStack's state machinery (persistence/reset, where present) see these moto backends
        from moto.backends import get_backend

        visitor.visit(get_backend(self.moto_service))


class SageMakerProvider(MotoBackedProvider):
    service = "sagemaker"
    moto_service = "sagemaker"

    def __init__(self) -> None:
        from modelwatch_teststack.sagemaker_ext import SageMakerExtensions

        self.ext = SageMakerExtensions(moto_fallback(self.moto_service))

    def overrides(self) -> dict:
        return self.ext.handlers()


class SageMakerRuntimeProvider(MotoBackedProvider):
    service = "sagemaker-runtime"
    moto_service = "sagemakerruntime"


class ApplicationAutoScalingProvider(MotoBackedProvider):
    """Application Auto Scaling, answering ConcurrentUpdateException as AWS does to a change of a target whose
    previous change is still pending: here, a change within MODELWATCH_TESTSTACK_AAS_PENDING_MS (default 150 ms) of
    the previous change of the same ResourceId (0 turns it off). Back-to-back calls meet it; callers must retry."""

    service = "application-autoscaling"
    moto_service = "applicationautoscaling"
    changes = (
        "RegisterScalableTarget",
        "DeregisterScalableTarget",
        "PutScalingPolicy",
        "DeleteScalingPolicy",
        "PutScheduledAction",
        "DeleteScheduledAction",
    )

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.last_change: dict[tuple[str, str, str], float] = {}

    def overrides(self) -> dict:
        fallback = moto_fallback(self.moto_service)
        return {op: self._pending_guard(fallback) for op in self.changes}

    def _pending_guard(self, fallback):
        import os
        import time

        from localstack.aws.api import CommonServiceException

        def _call(context: RequestContext, request: ServiceRequest) -> ServiceResponse:
            try:
                pending = max(0, int(os.environ.get("MODELWATCH_TESTSTACK_AAS_PENDING_MS", "150"))) / 1000
            except ValueError:
                pending = 0.15
            key = (context.account_id, context.region, request.get("ResourceId", ""))
            with self.lock:
                now = time.monotonic()
                last = self.last_change.get(key)
                if pending and last is not None and now - last < pending:
                    raise CommonServiceException(
                        "ConcurrentUpdateException",
                        f"There is an update in progress on {request.get('ResourceId')}; try again later.",
                        status_code=400,
                        sender_fault=True,
                    )
                self.last_change[key] = now
            return fallback(context, request)

        return _call


@aws_provider(api="sagemaker")
def sagemaker():
    provider = SageMakerProvider()
    return Service.for_provider(provider, dispatch_table_factory=lambda p: p.dispatch_table())


@aws_provider(api="sagemaker-runtime")
def sagemaker_runtime():
    provider = SageMakerRuntimeProvider()
    return Service.for_provider(provider, dispatch_table_factory=lambda p: p.dispatch_table())


@aws_provider(api="application-autoscaling")
def application_autoscaling():
    provider = ApplicationAutoScalingProvider()
    return Service.for_provider(provider, dispatch_table_factory=lambda p: p.dispatch_table())
