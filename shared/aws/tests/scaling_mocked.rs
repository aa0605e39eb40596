//! The scaling controller over the real SDK clients, with `aws-smithy-mocks`: an endpoint that is `Updating`
//! and then `InService`, throttling retried (and exhausted), and a type change's calls in order across
//! SageMaker and Application Auto Scaling with their arguments.

use std::sync::{Arc, Mutex};

use aws_sdk_applicationautoscaling::operation::delete_scaling_policy::DeleteScalingPolicyOutput;
use aws_sdk_applicationautoscaling::operation::deregister_scalable_target::DeregisterScalableTargetOutput;
use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
use aws_sdk_applicationautoscaling::operation::describe_scaling_policies::DescribeScalingPoliciesOutput;
use aws_sdk_applicationautoscaling::operation::describe_scheduled_actions::DescribeScheduledActionsOutput;
use aws_sdk_applicationautoscaling::operation::put_scaling_policy::PutScalingPolicyOutput;
use aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetOutput;
use aws_sdk_applicationautoscaling::types::{
    PolicyType, ScalableDimension, ScalableTarget, ScalingPolicy as AasPolicy,
};
use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_sagemaker::operation::create_endpoint_config::CreateEndpointConfigOutput;
use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
use aws_sdk_sagemaker::operation::update_endpoint::UpdateEndpointOutput;
use aws_sdk_sagemaker::operation::update_endpoint_weights_and_capacities::UpdateEndpointWeightsAndCapacitiesOutput;
use aws_sdk_sagemaker::types::{DataCaptureConfig, TrafficRoutingConfigType};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime as SmithyDateTime;
use aws_smithy_types::error::ErrorMetadata;
use chrono::{DateTime, Duration, TimeZone, Utc};
use modelwatch_aws::autoscaling::ApplicationAutoScaling;
use modelwatch_aws::cloudwatch::CloudWatchSink;
use modelwatch_aws::config::{MAX_ATTEMPTS, retry_config};
use modelwatch_aws::endpoint_metrics::CloudWatchEndpointMetrics;
use modelwatch_aws::sagemaker::SageMakerEndpoints;
use modelwatch_aws::testing::{
    SERVICE_LINKED_ROLE, data_capture, described_config, described_endpoint, invocations_tracking, runtime,
    scalable_target, tracking_policy,
};
use modelwatch_core::memory::MemoryState;
use modelwatch_core::ports::StateStore;
use modelwatch_core::scaling::controller::{
    ControllerOptions, ControllerPorts, Outcome, Plan, RunReport, ScalerState, new_config_name, run_variant, state_key,
};
use modelwatch_core::scaling::{Rule, VariantStatus};
use modelwatch_core::testing::{config_view, endpoint_view, ladder_policy};

const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
const RESOURCE: &str = "endpoint/ep/variant/AllTraffic";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 17, 12, 0, 20).unwrap()
}

/// `Invocations` of `per_minute` and some CPU for the 30 minutes before each of the first few runs.
fn metrics(per_minute: f64) -> GetMetricDataOutput {
    let end = t0().timestamp() / 60 * 60 + 5 * 60;
    let stamps: Vec<SmithyDateTime> = (1..=35).map(|i| SmithyDateTime::from_secs(end - i * 60)).collect();
    let result = |id: &str, value: f64| {
        MetricDataResult::builder()
            .id(id)
            .set_timestamps(Some(stamps.clone()))
            .set_values(Some(vec![value; stamps.len()]))
            .build()
    };
    GetMetricDataOutput::builder()
        .metric_data_results(result("invocations", per_minute))
        .metric_data_results(result("cpu", 40.0))
        .build()
}

fn describe(status: VariantStatus, config: &str, variants: &[(&str, u32)]) -> DescribeEndpointOutput {
    let variants: Vec<(&str, u32, f32)> = variants.iter().map(|&(name, count)| (name, count, 1.0)).collect();
    described_endpoint(&endpoint_view("ep", config, status, &variants))
}

fn capture() -> DataCaptureConfig {
    data_capture("s3://bucket/datacapture", 20)
}

fn endpoint_config(name: &str, variants: &[(&str, &str, u32)]) -> DescribeEndpointConfigOutput {
    let mut out = described_config(&config_view(name, variants));
    out.data_capture_config = Some(capture());
    out
}

/// The state and the metric sink beside the mocked clients.
struct Run {
    state: MemoryState,
}

impl Run {
    fn once(
        &self,
        rt: &tokio::runtime::Runtime,
        sagemaker: &aws_sdk_sagemaker::Client,
        cloudwatch: &aws_sdk_cloudwatch::Client,
        aas: &aws_sdk_applicationautoscaling::Client,
        options: &ControllerOptions,
        now: DateTime<Utc>,
    ) -> RunReport {
        let h = rt.handle().clone();
        let endpoints = SageMakerEndpoints::new(sagemaker.clone(), h.clone());
        let metrics = CloudWatchEndpointMetrics::new(cloudwatch.clone(), h.clone());
        let autoscaling = ApplicationAutoScaling::new(aas.clone(), h.clone());
        let sink = CloudWatchSink::new(cloudwatch.clone(), h, None);
        let ports = ControllerPorts {
            endpoints: &endpoints,
            metrics: &metrics,
            autoscaling: &autoscaling,
            state: &self.state,
            sink: &sink,
        };
        run_variant(&ports, &ladder_policy(), options, now).expect("the run records its outcome")
    }

    fn stored(&self) -> ScalerState {
        let (bytes, _) = self.state.get(&state_key("ep", "AllTraffic")).unwrap().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}

#[test]
fn nothing_is_done_while_updating_and_the_count_changes_once_in_service() {
    let rt = runtime();
    let describe_rule = mock!(aws_sdk_sagemaker::Client::describe_endpoint)
        .sequence()
        .output(|| describe(VariantStatus::Updating, "ep-config", &[("AllTraffic", 2)]))
        .output(|| describe(VariantStatus::InService, "ep-config", &[("AllTraffic", 2)]))
        .build();
    let config_rule = mock!(aws_sdk_sagemaker::Client::describe_endpoint_config)
        .then_output(|| endpoint_config("ep-config", &[("AllTraffic", "ml.g5.xlarge", 1)]));
    let update_rule = mock!(aws_sdk_sagemaker::Client::update_endpoint_weights_and_capacities)
        .match_requests(|r| {
            r.endpoint_name() == Some("ep")
                && r.desired_weights_and_capacities().len() == 1
                && r.desired_weights_and_capacities()[0].variant_name() == Some("AllTraffic")
                && r.desired_weights_and_capacities()[0].desired_instance_count() == Some(3)
        })
        .then_output(|| {
            UpdateEndpointWeightsAndCapacitiesOutput::builder()
                .endpoint_arn("arn")
                .build()
        });
    let sagemaker = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&describe_rule, &config_rule, &update_rule]
    );
    let get_rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| r.metric_data_queries().len() == 7)
        .then_output(|| metrics(150.0));
    let put_rule = mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .match_requests(|r| {
            r.namespace() == Some("modelwatch/Scaling")
                && r.metric_data().iter().all(|d| {
                    d.dimensions()
                        .iter()
                        .map(|d| (d.name().unwrap(), d.value().unwrap()))
                        .eq([("EndpointName", "ep"), ("VariantName", "AllTraffic")])
                })
        })
        .then_output(|| PutMetricDataOutput::builder().build());
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&get_rule, &put_rule]);
    let targets_rule = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
        .match_requests(|r| r.resource_ids() == [RESOURCE])
        .then_output(|| DescribeScalableTargetsOutput::builder().build());
    let aas = mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[&targets_rule]);
    let run = Run {
        state: MemoryState::default(),
    };
    let options = ControllerOptions::default();

    let first = run.once(&rt, &sagemaker, &cloudwatch, &aas, &options, t0());
    assert_eq!(
        (first.decision.rule, &first.outcome),
        (Rule::NotInService, &Outcome::Held)
    );
    assert_eq!(first.status, "Updating");
    assert_eq!((update_rule.num_calls(), targets_rule.num_calls()), (0, 0));

    let second = run.once(
        &rt,
        &sagemaker,
        &cloudwatch,
        &aas,
        &options,
        t0() + Duration::minutes(1),
    );
    assert!(
        matches!(
            second.outcome,
            Outcome::Applied {
                plan: Plan::SetCount { count: 3, .. }
            }
        ),
        "{second:?}"
    );
    assert_eq!((update_rule.num_calls(), targets_rule.num_calls()), (1, 1));
    assert_eq!(get_rule.num_calls(), 2, "one GetMetricData call per run");
    assert_eq!(put_rule.num_calls(), 2, "both counts published in one request per run");
    assert_eq!(run.stored().history.last_scale_out, Some(t0() + Duration::minutes(1)));
}

#[test]
fn throttling_is_retried_and_an_exhausted_retry_fails_the_action_not_the_record() {
    let rt = runtime();
    let describe_rule = mock!(aws_sdk_sagemaker::Client::describe_endpoint)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .output(|| describe(VariantStatus::InService, "ep-config", &[("AllTraffic", 2)]))
        .repeatedly()
        .build();
    let config_rule = mock!(aws_sdk_sagemaker::Client::describe_endpoint_config)
        .then_output(|| endpoint_config("ep-config", &[("AllTraffic", "ml.g5.xlarge", 1)]));
    // First run: throttled twice, then accepted. Second run: throttled on every attempt.
    let update_rule = mock!(aws_sdk_sagemaker::Client::update_endpoint_weights_and_capacities)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .times(2)
        .output(|| {
            UpdateEndpointWeightsAndCapacitiesOutput::builder()
                .endpoint_arn("arn")
                .build()
        })
        .http_status(400, Some(THROTTLED.to_owned()))
        .times(MAX_ATTEMPTS as usize)
        .build();
    let sagemaker = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&describe_rule, &config_rule, &update_rule],
        |c| c.retry_config(retry_config())
    );
    // CloudWatch speaks CBOR: its throttling error is given as the modeled error the SDK would parse.
    let get_rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .sequence()
        .error(|| {
            GetMetricDataError::generic(
                ErrorMetadata::builder()
                    .code("Throttling")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .output(|| metrics(150.0))
        .repeatedly()
        .build();
    let put_rule =
        mock!(aws_sdk_cloudwatch::Client::put_metric_data).then_output(|| PutMetricDataOutput::builder().build());
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&get_rule, &put_rule], |c| c
        .retry_config(retry_config()));
    let targets_rule = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
        .then_output(|| DescribeScalableTargetsOutput::builder().build());
    let aas = mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[&targets_rule]);
    let run = Run {
        state: MemoryState::default(),
    };
    let options = ControllerOptions::default();

    let first = run.once(&rt, &sagemaker, &cloudwatch, &aas, &options, t0());
    assert!(first.outcome.acted(), "{first:?}");
    assert_eq!(first.metrics_error, None, "the throttled GetMetricData was retried");
    assert_eq!(
        (describe_rule.num_calls(), get_rule.num_calls(), update_rule.num_calls()),
        (2, 2, 3)
    );

    // Five minutes on, past the scale-out cooldown, the (mocked) endpoint still reports 2 instances at 150 per
    // minute: the controller asks for 3 again and is throttled on every attempt.
    let later = t0() + Duration::minutes(5);
    let second = run.once(&rt, &sagemaker, &cloudwatch, &aas, &options, later);
    let Outcome::Failed { error, undo_errors, .. } = &second.outcome else {
        panic!("{second:?}")
    };
    assert!(
        error.starts_with("UpdateEndpointWeightsAndCapacities: ") && error.contains("ThrottlingException"),
        "{error}"
    );
    assert!(undo_errors.is_empty());
    assert_eq!(update_rule.num_calls(), 3 + MAX_ATTEMPTS as usize);
    // The failed action is not recorded as taken: the scale-out time stays the first run's.
    let stored = run.stored();
    assert_eq!(stored.history.last_scale_out, Some(t0()));
    assert!(matches!(stored.last_run.unwrap().outcome, Outcome::Failed { .. }));
    assert_eq!(
        second.desired_count, 2,
        "the published desired count is what the endpoint has"
    );
}

fn target() -> ScalableTarget {
    scalable_target(RESOURCE, 1, 4, SERVICE_LINKED_ROLE)
}

fn tt_policy() -> AasPolicy {
    tracking_policy(RESOURCE, "invocations", invocations_tracking(70.0))
}

#[test]
fn a_type_change_deletes_deregisters_updates_blue_green_and_restores_autoscaling_once_in_service() {
    let rt = runtime();
    let calls: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let log = |name: &'static str| {
        let calls = calls.clone();
        move || calls.lock().unwrap().push(name)
    };
    let new_name = new_config_name("ep", t0());

    let describe_rule = {
        let new_name = new_name.clone();
        mock!(aws_sdk_sagemaker::Client::describe_endpoint)
            .sequence()
            .output(|| {
                describe(
                    VariantStatus::InService,
                    "ep-config",
                    &[("AllTraffic", 4), ("Canary", 1)],
                )
            })
            .output(|| {
                describe(
                    VariantStatus::Updating,
                    "ep-config",
                    &[("AllTraffic", 4), ("Canary", 1)],
                )
            })
            .output(move || describe(VariantStatus::InService, &new_name, &[("AllTraffic", 3), ("Canary", 1)]))
            .build()
    };
    let old_config = mock!(aws_sdk_sagemaker::Client::describe_endpoint_config)
        .match_requests(|r| r.endpoint_config_name() == Some("ep-config"))
        .then_output(|| {
            endpoint_config(
                "ep-config",
                &[("AllTraffic", "ml.g5.xlarge", 1), ("Canary", "ml.g5.xlarge", 1)],
            )
        });
    let new_config = {
        let (a, b) = (new_name.clone(), new_name.clone());
        mock!(aws_sdk_sagemaker::Client::describe_endpoint_config)
            .match_requests(move |r| r.endpoint_config_name() == Some(a.as_str()))
            .then_output(move || {
                endpoint_config(&b, &[("AllTraffic", "ml.g5.2xlarge", 3), ("Canary", "ml.g5.xlarge", 1)])
            })
    };
    let create_rule = {
        let (name, log) = (new_name.clone(), log("CreateEndpointConfig"));
        mock!(aws_sdk_sagemaker::Client::create_endpoint_config)
            .match_requests(move |r| {
                let v = r.production_variants();
                r.endpoint_config_name() == Some(name.as_str())
                    && v.len() == 2
                    && v[0].instance_type().map(|t| t.as_str()) == Some("ml.g5.2xlarge")
                    && v[0].initial_instance_count() == Some(3)
                    && v[0].model_name() == Some("model")
                    && v[1].instance_type().map(|t| t.as_str()) == Some("ml.g5.xlarge")
                    && v[1].initial_instance_count() == Some(1)
                    && r.data_capture_config() == Some(&capture())
            })
            .then_compute_output(move |_| {
                log();
                CreateEndpointConfigOutput::builder().endpoint_config_arn("arn").build()
            })
    };
    let update_rule = {
        let (name, log) = (new_name.clone(), log("UpdateEndpoint"));
        mock!(aws_sdk_sagemaker::Client::update_endpoint)
            .match_requests(move |r| {
                let d = r.deployment_config().unwrap();
                let bg = d.blue_green_update_policy().unwrap();
                let routing = bg.traffic_routing_configuration().unwrap();
                let alarms: Vec<&str> = d
                    .auto_rollback_configuration()
                    .map(|a| a.alarms().iter().filter_map(|a| a.alarm_name()).collect())
                    .unwrap_or_default();
                r.endpoint_name() == Some("ep")
                    && r.endpoint_config_name() == Some(name.as_str())
                    && r.retain_all_variant_properties() == Some(false)
                    && routing.r#type() == Some(&TrafficRoutingConfigType::AllAtOnce)
                    && routing.wait_interval_in_seconds() == Some(600)
                    && alarms == ["ep-5xx", "ep-p99"]
            })
            .then_compute_output(move |_| {
                log();
                UpdateEndpointOutput::builder().endpoint_arn("arn").build()
            })
    };
    let sagemaker = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&describe_rule, &old_config, &new_config, &create_rule, &update_rule]
    );
    let get_rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| metrics(300.0));
    let put_rule =
        mock!(aws_sdk_cloudwatch::Client::put_metric_data).then_output(|| PutMetricDataOutput::builder().build());
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&get_rule, &put_rule]);

    let targets_rule = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets).then_output(|| {
        DescribeScalableTargetsOutput::builder()
            .scalable_targets(target())
            .build()
    });
    let policies_rule = mock!(aws_sdk_applicationautoscaling::Client::describe_scaling_policies)
        .match_requests(|r| r.resource_id() == Some(RESOURCE))
        .then_output(|| {
            DescribeScalingPoliciesOutput::builder()
                .scaling_policies(tt_policy())
                .build()
        });
    let actions_rule = mock!(aws_sdk_applicationautoscaling::Client::describe_scheduled_actions)
        .then_output(|| DescribeScheduledActionsOutput::builder().build());
    let delete_rule = {
        let log = log("DeleteScalingPolicy");
        mock!(aws_sdk_applicationautoscaling::Client::delete_scaling_policy)
            .match_requests(|r| r.policy_name() == Some("invocations") && r.resource_id() == Some(RESOURCE))
            .then_compute_output(move |_| {
                log();
                DeleteScalingPolicyOutput::builder().build()
            })
    };
    let deregister_rule = {
        let log = log("DeregisterScalableTarget");
        mock!(aws_sdk_applicationautoscaling::Client::deregister_scalable_target)
            .match_requests(|r| {
                r.resource_id() == Some(RESOURCE)
                    && r.scalable_dimension() == Some(&ScalableDimension::SageMakerVariantDesiredInstanceCount)
            })
            .then_compute_output(move |_| {
                log();
                DeregisterScalableTargetOutput::builder().build()
            })
    };
    let register_rule = {
        let log = log("RegisterScalableTarget");
        mock!(aws_sdk_applicationautoscaling::Client::register_scalable_target)
            .match_requests(|r| {
                r.resource_id() == Some(RESOURCE)
                    && (r.min_capacity(), r.max_capacity()) == (Some(1), Some(4))
                    && r.role_arn().is_none()
            })
            .then_compute_output(move |_| {
                log();
                RegisterScalableTargetOutput::builder().build()
            })
    };
    let put_policy_rule = {
        let log = log("PutScalingPolicy");
        mock!(aws_sdk_applicationautoscaling::Client::put_scaling_policy)
            .match_requests(|r| {
                r.policy_name() == Some("invocations")
                    && r.policy_type() == Some(&PolicyType::TargetTrackingScaling)
                    && r.target_tracking_scaling_policy_configuration()
                        == tt_policy().target_tracking_scaling_policy_configuration()
            })
            .then_compute_output(move |_| {
                log();
                PutScalingPolicyOutput::builder()
                    .policy_arn("arn:policy-2")
                    .build()
                    .unwrap()
            })
    };
    let aas = mock_client!(
        aws_sdk_applicationautoscaling,
        RuleMode::MatchAny,
        &[
            &targets_rule,
            &policies_rule,
            &actions_rule,
            &delete_rule,
            &deregister_rule,
            &register_rule,
            &put_policy_rule
        ]
    );
    let run = Run {
        state: MemoryState::default(),
    };
    let options = ControllerOptions {
        rollback_alarms: vec!["ep-5xx".into(), "ep-p99".into()],
        ..ControllerOptions::default()
    };

    // At the maximum (4) with 300 per minute: up the ladder, around Application Auto Scaling.
    let first = run.once(&rt, &sagemaker, &cloudwatch, &aas, &options, t0());
    assert_eq!(first.decision.rule, Rule::VerticalUp, "{first:?}");
    assert!(first.outcome.acted(), "{first:?}");
    assert_eq!(
        *calls.lock().unwrap(),
        [
            "CreateEndpointConfig",
            "DeleteScalingPolicy",
            "DeregisterScalableTarget",
            "UpdateEndpoint"
        ]
    );
    assert_eq!(run.stored().pending_registration.unwrap().config_name, new_name);

    // Updating: nothing is registered while the blue/green deployment runs.
    let second = run.once(
        &rt,
        &sagemaker,
        &cloudwatch,
        &aas,
        &options,
        t0() + Duration::minutes(1),
    );
    assert_eq!(second.outcome, Outcome::Held);
    assert_eq!(calls.lock().unwrap().len(), 4);

    // In service on the new type: the target and its policy come back, and nothing else is done.
    let third = run.once(
        &rt,
        &sagemaker,
        &cloudwatch,
        &aas,
        &options,
        t0() + Duration::minutes(2),
    );
    assert!(
        matches!(
            third.outcome,
            Outcome::Applied {
                plan: Plan::Reregister { .. }
            }
        ),
        "{third:?}"
    );
    assert_eq!(third.instance_type, "ml.g5.2xlarge");
    assert_eq!(
        calls.lock().unwrap()[4..],
        ["RegisterScalableTarget", "PutScalingPolicy"]
    );
    assert!(run.stored().pending_registration.is_none());
    assert_eq!(
        targets_rule.num_calls(),
        1,
        "autoscaling is described only when an action is due"
    );
}

/// A change answered `ConcurrentUpdateException` (the previous change of the target still pending) is tried again
/// after a pause, not failed; a change that keeps being refused fails after the attempts.
#[test]
fn a_concurrent_update_is_tried_again() {
    use aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetError;
    use modelwatch_aws::autoscaling::CONCURRENT_UPDATE_ATTEMPTS;
    use modelwatch_core::scaling::autoscaling::Registration;
    use modelwatch_core::scaling::controller::Autoscaling;

    let rt = runtime();
    let concurrent = || {
        RegisterScalableTargetError::generic(
            ErrorMetadata::builder()
                .code("ConcurrentUpdateException")
                .message("Concurrent update on the scalable target")
                .build(),
        )
    };
    let registration = Registration {
        resource_id: RESOURCE.to_owned(),
        min_capacity: 1,
        max_capacity: 4,
        role_arn: None,
        suspended: Default::default(),
        policies: Vec::new(),
        scheduled_actions: Vec::new(),
    };
    let busy_then_done = mock!(aws_sdk_applicationautoscaling::Client::register_scalable_target)
        .sequence()
        .error(concurrent)
        .times(2)
        .output(|| RegisterScalableTargetOutput::builder().build())
        .build();
    let aas = mock_client!(aws_sdk_applicationautoscaling, RuleMode::Sequential, &[&busy_then_done]);
    let adapter = ApplicationAutoScaling::new(aas, rt.handle().clone());
    // The adapter blocks on the runtime's handle, as the function calls it from a blocking task.
    adapter
        .register(&registration)
        .expect("registered on the third attempt");
    assert_eq!(busy_then_done.num_calls(), 3);

    let always_busy = mock!(aws_sdk_applicationautoscaling::Client::register_scalable_target).then_error(concurrent);
    let aas = mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[&always_busy]);
    let adapter = ApplicationAutoScaling::new(aas, rt.handle().clone());
    let e = adapter.register(&registration).unwrap_err();
    assert!(e.to_string().starts_with("registering scalable target"), "{e}");
    assert_eq!(always_busy.num_calls(), CONCURRENT_UPDATE_ATTEMPTS as usize);
}
