#!/usr/bin/env python3
"""Smoke test of the modelwatch test stack: every AWS service the product uses, through boto3.

Run with the stack's venv, after `scripts/teststack/stack.sh start`:

    .local/venv-localstack/bin/python scripts/teststack/smoke.py [path/to/teststack.env]

Endpoints come only from the env file (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SAGEMAKER,
AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING ...), which boto3 reads like the Rust SDK does.
One line per check; exits non-zero on the first failure. Safe to run repeatedly on one stack
(names carry a per-run suffix).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".local" / "teststack.env"
ALARM_TIMEOUT = float(os.environ.get("SMOKE_ALARM_TIMEOUT", "120"))


def load_env(path: Path) -> None:
    if not path.is_file():
        sys.exit(f"FAIL env file {path} not found: run scripts/teststack/stack.sh start")
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ")
        key, _, value = line.partition("=")
        os.environ[key.strip()] = value.strip().strip('"').strip("'")


load_env(ENV_FILE)
for var in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(var, None)  # nothing from a real account leaks in

import boto3  # noqa: E402  (after the env is set)
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

RUN = uuid.uuid4().hex[:8]
ACCOUNT = os.environ.get("TESTSTACK_ACCOUNT_ID", "000000000000")
session = boto3.session.Session()
cfg = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)
clients: dict[str, object] = {}


def client(name: str):
    if name not in clients:
        clients[name] = session.client(name, config=cfg)
    return clients[name]


results: list[str] = []


def check(name: str):
    def deco(fn):
        t0 = time.monotonic()
        try:
            detail = fn()
        except Exception as e:  # noqa: BLE001
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc()
            sys.exit(1)
        dt = time.monotonic() - t0
        print(f"ok   {name} ({dt:.2f}s){': ' + detail if detail else ''}", flush=True)
        results.append(name)
        return fn

    return deco


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


def in_service(endpoint: str, seen: list | None = None) -> dict:
    """DescribeEndpoint every 250 ms until InService (the stack keeps a change Updating ~4 s, as AWS does for minutes)."""
    deadline = time.monotonic() + 30
    while True:
        d = sm.describe_endpoint(EndpointName=endpoint)
        if seen is not None:
            seen.append(d["EndpointStatus"])
        if d["EndpointStatus"] == "InService" or time.monotonic() > deadline:
            return d
        time.sleep(0.25)


def expect_client_error(code: str, fn, *args, **kwargs) -> str:
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        expect(got == code, f"expected {code}, got {got}: {e}")
        return e.response["Error"].get("Message", "")
    raise AssertionError(f"expected {code}, call succeeded")


print(f"stack: {os.environ.get('AWS_ENDPOINT_URL')}  sagemaker: {os.environ.get('AWS_ENDPOINT_URL_SAGEMAKER')}  "
      f"sagemaker-runtime: {os.environ.get('AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME')}  "
      f"application-autoscaling: {os.environ.get('AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING')}  run {RUN}", flush=True)


@check("endpoints come from the env file")
def _():
    for svc, var in (("s3", "AWS_ENDPOINT_URL"), ("sagemaker", "AWS_ENDPOINT_URL_SAGEMAKER"),
                     ("sagemaker-runtime", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"),
                     ("application-autoscaling", "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING")):
        url = client(svc).meta.endpoint_url
        expect(url.rstrip("/") == os.environ[var].rstrip("/"), f"{svc} resolves to {url}, not ${var}")
    return "s3, sagemaker, sagemaker-runtime, application-autoscaling"


@check("sts get_caller_identity")
def _():
    ident = client("sts").get_caller_identity()
    expect(ident["Account"] == ACCOUNT, f"account {ident['Account']}")
    return ident["Arn"]


# ---------------------------------------------------------------------------------------- S3
bucket = f"modelwatch-smoke-{RUN}"


@check("s3 create_bucket / put_object / list_objects_v2 with prefix / get_object")
def _():
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    keys = [f"datacapture/ep/AllTraffic/2026/01/0{i}/capture-{i}.jsonl" for i in range(3)]
    for i, k in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=k, Body=json.dumps({"i": i}).encode() + b"\n")
    s3.put_object(Bucket=bucket, Key="other/x.json", Body=b"{}")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="datacapture/ep/")
    got = sorted(o["Key"] for o in listed.get("Contents", []))
    expect(got == sorted(keys), f"listed {got}")
    body = s3.get_object(Bucket=bucket, Key=keys[1])["Body"].read()
    expect(json.loads(body) == {"i": 1}, f"body {body!r}")
    return f"{len(got)} keys under prefix, protocol {s3.meta.service_model.protocol}"


# -------------------------------------------------------------------------------- CloudWatch
namespace = f"Modelwatch/Smoke/{RUN}"


@check("cloudwatch put_metric_data / get_metric_data")
def _():
    cw = client("cloudwatch")
    now = datetime.now(timezone.utc)
    dims = [{"Name": "EndpointName", "Value": "smoke-ep"}]
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "FeatureDrift", "Dimensions": dims, "Timestamp": now, "Value": 0.42, "Unit": "None"}])
    deadline = time.monotonic() + 10
    while True:
        r = cw.get_metric_data(
            MetricDataQueries=[{"Id": "drift", "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": "FeatureDrift", "Dimensions": dims},
                "Period": 60, "Stat": "Average"}}],
            StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1))
        values = r["MetricDataResults"][0]["Values"]
        if values or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(values and abs(values[0] - 0.42) < 1e-9, f"values {values}")
    return f"values {values}, protocol {cw.meta.service_model.protocol}"


# -------------------------------------------- CloudWatch alarm -> SNS -> SQS (alarm evaluation)
@check("cloudwatch alarm -> ALARM -> SNS topic -> SQS queue")
def _():
    cw, sns, sqs = client("cloudwatch"), client("sns"), client("sqs")
    topic_arn = sns.create_topic(Name=f"modelwatch-alarms-{RUN}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"modelwatch-alarms-{RUN}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": queue_arn,
                       "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]})})
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    alarm = f"modelwatch-drift-{RUN}"
    dims = [{"Name": "EndpointName", "Value": "smoke-ep"}]
    cw.put_metric_alarm(
        AlarmName=alarm, Namespace=namespace, MetricName="AlarmDrift", Dimensions=dims,
        Statistic="Maximum", Period=10, EvaluationPeriods=1, Threshold=0.5,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
        AlarmActions=[topic_arn], ActionsEnabled=True)
    t0 = time.monotonic()
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "AlarmDrift", "Dimensions": dims, "Timestamp": datetime.now(timezone.utc), "Value": 0.9}])

    t_alarm = t_msg = None
    message = None
    pushes = 1
    last_push = t0
    while time.monotonic() - t0 < ALARM_TIMEOUT:
        if t_alarm is None:
            state = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
            if state == "ALARM":
                t_alarm = time.monotonic() - t0
        msgs = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])
        for m in msgs:
            body = json.loads(m["Body"])
            inner = json.loads(body.get("Message", "{}"))
            if inner.get("AlarmName") == alarm and inner.get("NewStateValue") == "ALARM":
                message, t_msg = inner, time.monotonic() - t0
        if message:
            break
        # keep the metric above threshold in every 10 s period, as a live metric would be
        if time.monotonic() - last_push > 5:
            cw.put_metric_data(Namespace=namespace, MetricData=[
                {"MetricName": "AlarmDrift", "Dimensions": dims, "Timestamp": datetime.now(timezone.utc), "Value": 0.9}])
            pushes += 1
            last_push = time.monotonic()
    expect(message is not None,
           f"no ALARM notification in SQS after {ALARM_TIMEOUT:.0f}s (alarm state reached: {t_alarm is not None})")
    if t_alarm is None:
        t_alarm = t_msg
    return (f"ALARM after {t_alarm:.1f}s, SNS->SQS message after {t_msg:.1f}s "
            f"(Period=10 EvaluationPeriods=1, {pushes} datapoint push(es))")


# ------------------------------------------------------------------------------- EventBridge
@check("events put_rule (schedule) / put_targets / describe_rule")
def _():
    ev, sqs = client("events"), client("sqs")
    rule = f"modelwatch-monitor-{RUN}"
    arn = ev.put_rule(Name=rule, ScheduleExpression="rate(5 minutes)", State="ENABLED")["RuleArn"]
    q = sqs.create_queue(QueueName=f"modelwatch-sched-{RUN}")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    r = ev.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": qarn}])
    expect(r["FailedEntryCount"] == 0, f"put_targets {r}")
    d = ev.describe_rule(Name=rule)
    expect(d["ScheduleExpression"] == "rate(5 minutes)" and d["State"] == "ENABLED", f"rule {d}")
    expect([t["Id"] for t in ev.list_targets_by_rule(Rule=rule)["Targets"]] == ["q"], "targets")
    ev.remove_targets(Rule=rule, Ids=["q"])
    ev.delete_rule(Name=rule)
    return arn


# ---------------------------------------------------------------------------- CloudWatch Logs
@check("logs create_log_group / put_log_events / get_log_events")
def _():
    logs = client("logs")
    group, stream = f"/aws/lambda/modelwatch-smoke-{RUN}", "s1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello"}])
    ev = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    expect([e["message"] for e in ev] == ["hello"], f"events {ev}")
    logs.delete_log_group(logGroupName=group)


# ---------------------------------------------------------------------------- CloudFormation
TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "CaptureBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": f"modelwatch-cfn-{RUN}"}},
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"modelwatch-cfn-{RUN}"}},
    },
    "Outputs": {"TopicArn": {"Value": {"Ref": "AlarmTopic"}}},
}


@check("cloudformation create_stack (S3 bucket + SNS topic) -> CREATE_COMPLETE")
def _():
    cfn = client("cloudformation")
    name = f"modelwatch-smoke-{RUN}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(TEMPLATE))
    deadline = time.monotonic() + 90
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(status == "CREATE_COMPLETE", f"status {status}: {stack.get('StackStatusReason')}")
    types = sorted(r["ResourceType"] for r in cfn.describe_stack_resources(StackName=name)["StackResources"])
    expect(types == ["AWS::S3::Bucket", "AWS::SNS::Topic"], f"resources {types}")
    client("s3").head_bucket(Bucket=f"modelwatch-cfn-{RUN}")
    topic = stack["Outputs"][0]["OutputValue"]
    expect(topic.endswith(f":modelwatch-cfn-{RUN}"), f"output {topic}")
    cfn.delete_stack(StackName=name)
    return "bucket and topic exist"


# -------------------------------------------------------------------------- SageMaker (moto)
sm = client("sagemaker")
role = f"arn:aws:iam::{ACCOUNT}:role/modelwatch-sagemaker"
model, cfg1, cfg2, endpoint = f"mw-model-{RUN}", f"mw-cfg1-{RUN}", f"mw-cfg2-{RUN}", f"mw-ep-{RUN}"


@check("sagemaker create_model / create_endpoint_config x2 / describe_endpoint_config")
def _():
    sm.create_model(ModelName=model, ExecutionRoleArn=role,
                    PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/mw:latest",
                                      "ModelDataUrl": f"s3://{bucket}/model.tar.gz"})
    for cfg_name, count, weight in ((cfg1, 1, 1.0), (cfg2, 2, 1.0)):
        sm.create_endpoint_config(EndpointConfigName=cfg_name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": count,
            "InstanceType": "ml.m5.large", "InitialVariantWeight": weight}],
            DataCaptureConfig={"EnableCapture": True, "InitialSamplingPercentage": 100,
                               "DestinationS3Uri": f"s3://{bucket}/datacapture",
                               "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]})
    d = sm.describe_endpoint_config(EndpointConfigName=cfg2)
    v = d["ProductionVariants"][0]
    expect(v["InitialInstanceCount"] == 2 and v["InstanceType"] == "ml.m5.large", f"variant {v}")
    expect(d["DataCaptureConfig"]["DestinationS3Uri"].endswith("/datacapture"), f"capture {d.get('DataCaptureConfig')}")
    return f"{cfg2}: variant AllTraffic x{v['InitialInstanceCount']} {v['InstanceType']}, data capture on"


@check("sagemaker create_endpoint / describe_endpoint InService")
def _():
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=cfg1)
    d = sm.describe_endpoint(EndpointName=endpoint)
    expect(d["EndpointStatus"] == "InService", f"status {d['EndpointStatus']}")
    expect(d["EndpointConfigName"] == cfg1, f"config {d['EndpointConfigName']}")
    return f"{d['EndpointStatus']}, {d['EndpointConfigName']}"


@check("sagemaker-runtime invoke_endpoint (moto's canned answer)")
def _():
    r = client("sagemaker-runtime").invoke_endpoint(EndpointName=endpoint, Body=b'{"x": 1}',
                                                    ContentType="application/json")
    body = r["Body"].read()
    expect(len(body) > 0, "empty body")
    return f"body {body!r}"


@check("sagemaker update_endpoint (teststack addition): Updating, then InService with the new config")
def _():
    arn = sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=cfg2,
                             RetainAllVariantProperties=False,
                             DeploymentConfig={"BlueGreenUpdatePolicy": {
                                 "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                                 "TerminationWaitInSeconds": 0}})["EndpointArn"]
    expect(arn.endswith(f":endpoint/{endpoint}"), f"arn {arn}")
    seen = []
    d = sm.describe_endpoint(EndpointName=endpoint)
    seen.append(d["EndpointStatus"])
    expect(d["EndpointStatus"] == "Updating", f"right after the update: {d['EndpointStatus']}")
    expect(d["PendingDeploymentSummary"]["EndpointConfigName"] == cfg2, "pending summary")
    msg = expect_client_error("ValidationException", sm.update_endpoint,
                              EndpointName=endpoint, EndpointConfigName=cfg1)
    expect("in-progress" in msg, msg)
    d = in_service(endpoint, seen)
    expect(d["EndpointStatus"] == "InService" and d["EndpointConfigName"] == cfg2,
           f"after update: {d['EndpointStatus']} {d['EndpointConfigName']}")
    expect(d["ProductionVariants"][0].get("CurrentInstanceCount") == 2, f"variants {d['ProductionVariants']}")
    expect("BlueGreenUpdatePolicy" in d.get("LastDeploymentConfig", {}), "LastDeploymentConfig")
    return f"statuses {' -> '.join(seen)}, config {d['EndpointConfigName']}, instances 2"


@check("sagemaker update_endpoint errors like the real API")
def _():
    m1 = expect_client_error("ValidationException", sm.update_endpoint,
                             EndpointName=endpoint, EndpointConfigName=f"missing-{RUN}")
    expect("Could not find endpoint configuration" in m1, m1)
    m2 = expect_client_error("ValidationException", sm.update_endpoint,
                             EndpointName=f"missing-{RUN}", EndpointConfigName=cfg1)
    expect("Could not find endpoint" in m2, m2)
    return f"'{m1}' / '{m2}'"


@check("sagemaker update_endpoint RetainAllVariantProperties keeps the current instance count")
def _():
    sm.update_endpoint_weights_and_capacities(EndpointName=endpoint, DesiredWeightsAndCapacities=[
        {"VariantName": "AllTraffic", "DesiredInstanceCount": 3}])
    in_service(endpoint)
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=cfg1, RetainAllVariantProperties=True)
    d = in_service(endpoint)
    v = d["ProductionVariants"][0]
    expect(d["EndpointConfigName"] == cfg1 and v.get("DesiredInstanceCount") == 3, f"{d['EndpointConfigName']} {v}")
    return f"config {cfg1}, DesiredInstanceCount {v['DesiredInstanceCount']} retained"


@check("sagemaker update_endpoint_weights_and_capacities")
def _():
    sm.update_endpoint_weights_and_capacities(EndpointName=endpoint, DesiredWeightsAndCapacities=[
        {"VariantName": "AllTraffic", "DesiredWeight": 0.5, "DesiredInstanceCount": 4}])
    d = sm.describe_endpoint(EndpointName=endpoint)
    v = d["ProductionVariants"][0]
    expect(d["EndpointStatus"] == "Updating", f"right after the change: {d['EndpointStatus']}")
    expect(v.get("DesiredInstanceCount") == 4 and v.get("DesiredWeight") == 0.5, f"variant {v}")
    d = in_service(endpoint)
    v = d["ProductionVariants"][0]
    expect(v.get("CurrentInstanceCount") == 4 and v.get("CurrentWeight") == 0.5, f"variant {v}")
    return f"weight {v['DesiredWeight']}, instances {v['DesiredInstanceCount']}"


@check("sagemaker create_model_package_group / create_model_package / list_model_packages")
def _():
    group = f"mw-group-{RUN}"
    sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription="smoke")
    sm.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                            InferenceSpecification={
                                "Containers": [{"Image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/mw:latest",
                                                "ModelDataUrl": f"s3://{bucket}/model.tar.gz"}],
                                "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]})
    pkgs = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    expect(len(pkgs) == 1 and pkgs[0]["ModelApprovalStatus"] == "Approved", f"packages {pkgs}")
    groups = sm.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
    expect([g["ModelPackageGroupName"] for g in groups] == [group], f"groups {groups}")
    return pkgs[0]["ModelPackageArn"]


@check("sagemaker create_training_job / describe_training_job")
def _():
    job = f"mw-train-{RUN}"
    sm.create_training_job(
        TrainingJobName=job, RoleArn=role,
        AlgorithmSpecification={"TrainingImage": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/train:latest",
                                "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})
    d = sm.describe_training_job(TrainingJobName=job)
    expect(d["TrainingJobName"] == job, f"describe {d.get('TrainingJobName')}")
    return f"status {d['TrainingJobStatus']}"


# ------------------------------------------------------------ Application Auto Scaling (moto)
@check("application-autoscaling register / describe / put_scaling_policy / deregister on a SageMaker variant")
def _():
    aas = client("application-autoscaling")
    rid = f"endpoint/{endpoint}/variant/AllTraffic"
    dim = "sagemaker:variant:DesiredInstanceCount"
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim,
                                 MinCapacity=1, MaxCapacity=4)
    # The stack answers ConcurrentUpdateException to a change of the same target within 150 ms of the last one.
    settle = 0.2
    time.sleep(settle)
    t = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"]
    expect(len(t) == 1 and (t[0]["MinCapacity"], t[0]["MaxCapacity"]) == (1, 4), f"targets {t}")
    p = aas.put_scaling_policy(
        PolicyName=f"mw-invocations-{RUN}", ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": 300, "ScaleOutCooldown": 60})
    pols = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"]
    expect([x["PolicyName"] for x in pols] == [f"mw-invocations-{RUN}"], f"policies {pols}")
    time.sleep(settle)
    aas.delete_scaling_policy(PolicyName=f"mw-invocations-{RUN}", ServiceNamespace="sagemaker",
                              ResourceId=rid, ScalableDimension=dim)
    time.sleep(settle)
    aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim)
    t = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"]
    expect(t == [], f"still registered {t}")
    return f"policy {p['PolicyARN'].split(':')[-1][:40]}..., deregistered"


@check("sagemaker delete_endpoint / endpoint_config / model")
def _():
    sm.delete_endpoint(EndpointName=endpoint)
    expect_client_error("ValidationException", sm.describe_endpoint, EndpointName=endpoint)
    sm.delete_endpoint_config(EndpointConfigName=cfg1)
    sm.delete_endpoint_config(EndpointConfigName=cfg2)
    sm.delete_model(ModelName=model)


print(f"{len(results)} passed, 0 failed")
