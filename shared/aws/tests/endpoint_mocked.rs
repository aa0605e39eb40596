//! The one SageMaker endpoint adapter, with `aws-smithy-mocks`, under both of its users: an endpoint SageMaker
//! says it "Could not find" is [`PortErrorKind::NotFound`] for the scaler's run and for the retraining loop's
//! rollback alike.

use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chrono::{TimeZone, Utc};
use modelwatch_aws::retrain::SageMakerRetrain;
use modelwatch_aws::sagemaker::SageMakerEndpoints;
use modelwatch_aws::testing::runtime;
use modelwatch_core::memory::{MemoryMetrics, MemoryState};
use modelwatch_core::ports::{PortError, PortErrorKind};
use modelwatch_core::retrain::lifecycle::{self, LifecycleError, RetrainPorts};
use modelwatch_core::scaling::autoscaling::Registration;
use modelwatch_core::scaling::controller::{
    Autoscaling, ControllerError, ControllerOptions, ControllerPorts, EndpointMetrics, run_variant,
};
use modelwatch_core::scaling::endpoint::{MetricsRequest, Series};
use modelwatch_core::testing::ladder_policy;

/// What SageMaker answers `DescribeEndpoint` for an endpoint that is not there (not its modeled
/// `ResourceNotFound`).
const MISSING_ENDPOINT: &str = r#"{"__type":"ValidationException","message":"Could not find endpoint \"arn:aws:sagemaker:eu-west-1:000000000000:endpoint/ep\"."}"#;

/// The scaler describes the endpoint before anything else: its metrics and autoscaling are never reached.
struct Unreached;

impl EndpointMetrics for Unreached {
    fn fetch(&self, _request: &MetricsRequest) -> Result<Vec<Series>, PortError> {
        unreachable!("no metrics are fetched for an endpoint that is not there")
    }
}

impl Autoscaling for Unreached {
    fn describe(&self, _resource_id: &str) -> Result<Option<Registration>, PortError> {
        unreachable!("no autoscaling is described for an endpoint that is not there")
    }

    fn deregister(&self, _registration: &Registration) -> Result<(), PortError> {
        unreachable!()
    }

    fn register(&self, _registration: &Registration) -> Result<(), PortError> {
        unreachable!()
    }
}

#[test]
fn a_missing_endpoint_is_not_found_for_the_scaler_and_the_retraining_loop_alike() {
    let rt = runtime();
    let describe_rule = mock!(aws_sdk_sagemaker::Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("ep"))
        .sequence()
        .http_status(400, Some(MISSING_ENDPOINT.to_owned()))
        .times(2)
        .build();
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, &[&describe_rule]);
    let endpoints = SageMakerEndpoints::new(client.clone(), rt.handle().clone());
    let now = Utc.with_ymd_and_hms(2024, 1, 17, 12, 0, 0).unwrap();

    // The scaler's run.
    let policy = ladder_policy();
    let (scaler_state, sink) = (MemoryState::default(), MemoryMetrics::default());
    let scaler = ControllerPorts {
        endpoints: &endpoints,
        metrics: &Unreached,
        autoscaling: &Unreached,
        state: &scaler_state,
        sink: &sink,
    };
    let scaled = run_variant(&scaler, &policy, &ControllerOptions::default(), now);
    let Err(ControllerError::Port(scaler_error)) = scaled else {
        panic!("the scaler's run should fail on the endpoint: {scaled:?}");
    };

    // The retraining loop's rollback (its version history is empty, so the endpoint is the first call).
    let (state, unused) = (MemoryState::default(), MemoryState::default());
    let sagemaker = SageMakerRetrain::new(client.clone(), rt.handle().clone());
    let retrain = RetrainPorts {
        state: &state,
        reports: &unused,
        baseline: &unused,
        baseline_name: "(none)",
        training: &sagemaker,
        registry: &sagemaker,
        endpoints: &endpoints,
        models: &sagemaker,
        labelled: None,
    };
    let rolled = lifecycle::rollback(&retrain, "ep", None, "test", now);
    let Err(LifecycleError::Port(retrain_error)) = rolled else {
        panic!("the rollback should fail on the endpoint: {rolled:?}");
    };

    for e in [&scaler_error, &retrain_error] {
        assert_eq!(
            (e.kind, e.operation, e.resource.as_str()),
            (PortErrorKind::NotFound, "describing endpoint", "ep")
        );
    }
    assert_eq!(describe_rule.num_calls(), 2);
}
