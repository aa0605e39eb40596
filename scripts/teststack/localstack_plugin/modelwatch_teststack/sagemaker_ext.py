"""SageMaker operations that moto (moto-ext 5.1.x, bundled with LocalStack) lacks or gets too simple.

UpdateEndpoint (absent from moto), following the real API:
  * the endpoint must exist and be InService, else ValidationException
    ``Could not find endpoint "<arn>".`` / ``Cannot update in-progress endpoint "<arn>".``
  * the new EndpointConfigName must exist, else ValidationException
    ``Could not find endpoint configuration "<arn>".``
  * right after the call the endpoint is ``Updating``: DescribeEndpoint still shows the old
    EndpointConfigName and variants, plus a PendingDeploymentSummary naming the new config;
    the transition to ``InService`` with the new config happens on a later DescribeEndpoint, as on AWS
    where an update takes minutes: once MODELWATCH_TESTSTACK_UPDATE_SECONDS (default 4) have passed since the
    call and at least MODELWATCH_TESTSTACK_UPDATE_DESCRIBES DescribeEndpoint calls (default 1) have seen
    ``Updating`` (0 and 0: the first Describe already shows the finished update).
  * RetainAllVariantProperties keeps the current instance counts / weights of variants that keep
    their name (ExcludeRetainedVariantProperties: DesiredInstanceCount, DesiredWeight,
    DataCaptureConfig are taken from the new config instead); DeploymentConfig is accepted and
    shown as LastDeploymentConfig once the update is done (RetainDeploymentConfig keeps the old one).

  * a blue/green DeploymentConfig is checked as SageMaker documents it ("Blue/Green Deployments"): a canary of
    at least one instance and at most half of the new fleet, a linear step of 10-50 % of it, and a
    MaximumExecutionTimeoutInSeconds above the whole baking time (every step's wait, and the termination wait);
    else ValidationException.

UpdateEndpointWeightsAndCapacities (in moto): additionally rejected while an update is in progress,
as the real API does, and, as on AWS ("When it's called, the endpoint status is set to Updating"), the endpoint
is ``Updating`` afterwards for the same time and Describe calls as an update, with the new counts and weights
shown once it is done.  DeleteEndpoint: also forgets a pending update.

CreateTrainingJob / DescribeTrainingJob, for SageMaker's built-in algorithm images (the repositories of
modelwatch_core::retrain::clone::BUILT_IN_ALGORITHM_REPOSITORIES, and sagemaker-xgboost without a
sagemaker_program hyperparameter), as on AWS:
  * DescribeTrainingJob shows the algorithm's own MetricDefinitions (AWS fills them in);
  * CreateTrainingJob refuses MetricDefinitions: a clone that copies them from a description fails.
"""

from __future__ import annotations

import copy
import os
import threading
from datetime import datetime, timezone

from localstack.aws.api import CommonServiceException, RequestContext, ServiceRequest


class ValidationException(CommonServiceException):
    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message, status_code=400, sender_fault=True)


def _now() -> str:
    # moto keeps SageMaker timestamps as "YYYY-mm-dd HH:MM:SS" strings
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class SageMakerExtensions:
    def __init__(self, fallback) -> None:
        self.fallback = fallback  # context, request -> moto's parsed response
        self.lock = threading.RLock()
        # (account, region, endpoint name) -> pending update
        self.pending: dict[tuple[str, str, str], dict] = {}

    def handlers(self) -> dict:
        return {
            "UpdateEndpoint": self.update_endpoint,
            "DescribeEndpoint": self.describe_endpoint,
            "DeleteEndpoint": self.delete_endpoint,
            "UpdateEndpointWeightsAndCapacities": self.update_endpoint_weights_and_capacities,
            "CreateTrainingJob": self.create_training_job,
            "DescribeTrainingJob": self.describe_training_job,
        }

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _backend(context: RequestContext):
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[context.account_id][context.region]

    @staticmethod
    def _arn(kind: str, name: str, context: RequestContext) -> str:
        return f"arn:aws:sagemaker:{context.region}:{context.account_id}:{kind}/{name.lower()}"

    def _endpoint(self, context: RequestContext, name: str):
        endpoint = self._backend(context).endpoints.get(name)
        if endpoint is None:
            raise ValidationException(f'Could not find endpoint "{self._arn("endpoint", name, context)}".')
        return endpoint

    @staticmethod
    def _setting(name: str, default: float) -> float:
        """A non-negative number from LocalStack's environment, `default` when absent or not a number."""
        try:
            return max(0.0, float(os.environ.get(name, default)))
        except ValueError:
            return default

    def _updating(self, key, **state) -> None:
        """Records a pending change of the endpoint `key`, finished by a later DescribeEndpoint."""
        self.pending[key] = {
            **state,
            "start": datetime.now(timezone.utc),
            "describes_left": int(self._setting("MODELWATCH_TESTSTACK_UPDATE_DESCRIBES", 1)),
            "seconds": self._setting("MODELWATCH_TESTSTACK_UPDATE_SECONDS", 4),
        }

    # -- handlers ----------------------------------------------------------------------------

    def update_endpoint(self, context: RequestContext, request: ServiceRequest):
        name = request["EndpointName"]
        config_name = request["EndpointConfigName"]
        with self.lock:
            backend = self._backend(context)
            endpoint = self._endpoint(context, name)
            key = (context.account_id, context.region, name)
            if key in self.pending or endpoint.endpoint_status != "InService":
                raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            config = backend.endpoint_configs.get(config_name)
            if config is None:
                raise ValidationException(
                    f'Could not find endpoint configuration "{self._arn("endpoint-config", config_name, context)}".'
                )

            _check_deployment_config(request.get("DeploymentConfig"), config.production_variants)
            retain = bool(request.get("RetainAllVariantProperties"))
            excluded = {
                p.get("VariantPropertyType") for p in request.get("ExcludeRetainedVariantProperties") or []
            }
            variants = endpoint._process_production_variants(copy.deepcopy(config.production_variants))
            data_capture = copy.deepcopy(config.data_capture_config)
            if retain:
                current = {v["VariantName"]: v for v in endpoint.production_variants}
                for variant in variants:
                    old = current.get(variant["VariantName"])
                    if not old:
                        continue
                    if "DesiredInstanceCount" not in excluded:
                        for k in ("CurrentInstanceCount", "DesiredInstanceCount"):
                            if k in old:
                                variant[k] = old[k]
                    if "DesiredWeight" not in excluded:
                        for k in ("CurrentWeight", "DesiredWeight"):
                            if k in old:
                                variant[k] = old[k]
                if "DataCaptureConfig" not in excluded:
                    data_capture = endpoint.data_capture_config

            deployment_config = request.get("DeploymentConfig")
            if deployment_config is None and request.get("RetainDeploymentConfig"):
                deployment_config = getattr(endpoint, "last_deployment_config", None)

            endpoint.endpoint_status = "Updating"
            endpoint.last_modified_time = _now()
            self._updating(
                key,
                config_name=config_name,
                variants=variants,
                data_capture=data_capture,
                deployment_config=deployment_config,
            )
            return {"EndpointArn": endpoint.arn}

    def _finish(self, context: RequestContext, key) -> None:
        state = self.pending.pop(key)
        endpoint = self._backend(context).endpoints.get(key[2])
        if endpoint is None:
            return
        endpoint.endpoint_config_name = state["config_name"]
        endpoint.production_variants = state["variants"]
        endpoint.data_capture_config = state["data_capture"]
        if state["deployment_config"] is not None:
            endpoint.last_deployment_config = state["deployment_config"]
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = _now()

    def describe_endpoint(self, context: RequestContext, request: ServiceRequest):
        key = (context.account_id, context.region, request["EndpointName"])
        with self.lock:
            state = self.pending.get(key)
            if state is not None:
                elapsed = (datetime.now(timezone.utc) - state["start"]).total_seconds()
                if state["describes_left"] <= 0 and elapsed >= state["seconds"]:
                    self._finish(context, key)
                    state = None
                else:
                    state["describes_left"] -= 1
            response = self.fallback(context, request)
            if state is not None and state.get("summary", True):
                response["PendingDeploymentSummary"] = {
                    "EndpointConfigName": state["config_name"],
                    "ProductionVariants": [
                        {k: v for k, v in variant.items() if k in ("VariantName", "DesiredWeight", "DesiredInstanceCount")}
                        for variant in state["variants"]
                    ],
                    "StartTime": state["start"],
                }
            return response

    def delete_endpoint(self, context: RequestContext, request: ServiceRequest):
        with self.lock:
            self.pending.pop((context.account_id, context.region, request["EndpointName"]), None)
            return self.fallback(context, request)

    def update_endpoint_weights_and_capacities(self, context: RequestContext, request: ServiceRequest):
        with self.lock:
            endpoint = self._endpoint(context, request["EndpointName"])
            key = (context.account_id, context.region, request["EndpointName"])
            if key in self.pending or endpoint.endpoint_status != "InService":
                raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            before = copy.deepcopy(endpoint.production_variants)
            response = self.fallback(context, request)
            after = copy.deepcopy(endpoint.production_variants)
            # While Updating, the desired counts and weights are the new ones, the current ones still the old.
            showing = copy.deepcopy(after)
            current = {v["VariantName"]: v for v in before}
            for variant in showing:
                old = current.get(variant["VariantName"], {})
                for k in ("CurrentInstanceCount", "CurrentWeight"):
                    if k in old:
                        variant[k] = old[k]
            endpoint.production_variants = showing
            endpoint.endpoint_status = "Updating"
            self._updating(
                key,
                config_name=endpoint.endpoint_config_name,
                variants=after,
                data_capture=endpoint.data_capture_config,
                deployment_config=None,
                summary=False,
            )
            return response

    # -- training jobs of built-in algorithms ------------------------------------------------------

    def create_training_job(self, context: RequestContext, request: ServiceRequest):
        algorithm = request.get("AlgorithmSpecification") or {}
        if algorithm.get("MetricDefinitions") and _is_built_in_algorithm(
            algorithm.get("TrainingImage", ""), request.get("HyperParameters") or {}
        ):
            raise ValidationException(
                "MetricDefinitions are not supported for built-in algorithm "
                f"{_image_repository(algorithm.get('TrainingImage', ''))}: it emits its own metrics."
            )
        return self.fallback(context, request)

    def describe_training_job(self, context: RequestContext, request: ServiceRequest):
        response = self.fallback(context, request)
        algorithm = response.get("AlgorithmSpecification") or {}
        if not algorithm.get("MetricDefinitions") and _is_built_in_algorithm(
            algorithm.get("TrainingImage", ""), response.get("HyperParameters") or {}
        ):
            algorithm["MetricDefinitions"] = [
                {"Name": "validation:auc", "Regex": ".*\\[[0-9]+\\].*#011validation-auc:([-+]?[0-9]*\\.?[0-9]+).*"},
                {"Name": "train:auc", "Regex": ".*\\[[0-9]+\\]#011train-auc:([-+]?[0-9]*\\.?[0-9]+).*"},
            ]
            response["AlgorithmSpecification"] = algorithm
        return response


# "Docker Registry Paths and Example Code", Amazon SageMaker developer guide; the same list as the Rust rule.
BUILT_IN_ALGORITHM_REPOSITORIES = {
    "blazingtext", "factorization-machines", "forecasting-deepar", "image-classification", "ipinsights",
    "kmeans", "knn", "lda", "linear-learner", "ntm", "object-detection", "object2vec", "pca",
    "randomcutforest", "semantic-segmentation", "seq2seq", "xgboost",
}


def _image_repository(image: str) -> str:
    path = image.split("/", 1)[1] if "/" in image else image
    for sep in ("@", ":"):
        path = path.split(sep, 1)[0]
    return path


def _is_built_in_algorithm(image: str, hyperparameters: dict) -> bool:
    repository = _image_repository(image)
    return repository in BUILT_IN_ALGORITHM_REPOSITORIES or (
        repository == "sagemaker-xgboost" and "sagemaker_program" not in hyperparameters
    )


def _check_deployment_config(deployment: dict | None, variants: list) -> None:
    """Refuses a blue/green deployment configuration SageMaker refuses, for the new configuration's fleet."""
    if not deployment:
        return
    policy = deployment.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {}
    kind = routing.get("Type", "ALL_AT_ONCE")
    fleet = sum(int(v.get("InitialInstanceCount") or 0) for v in variants) or 1
    wait = int(routing.get("WaitIntervalInSeconds") or 0)
    termination = int(policy.get("TerminationWaitInSeconds") or 0)
    timeout = int(policy.get("MaximumExecutionTimeoutInSeconds") or 28800)

    def instances(size: dict) -> float:
        value = float(size.get("Value") or 0)
        return value if size.get("Type") == "INSTANCE_COUNT" else fleet * value / 100.0

    steps = 0
    if kind == "CANARY":
        canary = instances(routing.get("CanarySize") or {})
        if canary < 1 or canary > fleet / 2:
            raise ValidationException(
                f"CanarySize must be at least one instance and at most 50% of the {fleet} instance(s) of the new "
                f"fleet ({canary:g} instances)."
            )
        steps = 1
    elif kind == "LINEAR":
        step = instances(routing.get("LinearStepSize") or {})
        share = step / fleet
        if step < 1 or share < 0.1 or share > 0.5:
            raise ValidationException(
                f"LinearStepSize must be between 10% and 50% of the {fleet} instance(s) of the new fleet "
                f"({share:.0%})."
            )
        steps = -(-fleet // int(step))
    baking = steps * wait + termination
    if timeout <= baking:
        raise ValidationException(
            f"MaximumExecutionTimeoutInSeconds {timeout} must be greater than the deployment's total waiting time "
            f"{baking} s."
        )

