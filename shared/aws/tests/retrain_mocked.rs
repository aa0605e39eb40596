//! The retraining adapter over the real SageMaker client, with `aws-smithy-mocks`: a training job followed to
//! its failure, a missing job, the cloned `CreateTrainingJob` request, a blue/green deployment rolled back and
//! judged, and the model registry's calls.

use aws_sdk_sagemaker::operation::create_model::CreateModelOutput;
use aws_sdk_sagemaker::operation::create_model_package::CreateModelPackageOutput;
use aws_sdk_sagemaker::operation::create_training_job::CreateTrainingJobOutput;
use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
use aws_sdk_sagemaker::operation::describe_model::DescribeModelOutput;
use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::operation::list_model_packages::ListModelPackagesOutput;
use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
use aws_sdk_sagemaker::operation::update_endpoint::UpdateEndpointOutput;
use aws_sdk_sagemaker::types::{
    CapacitySizeType, ContainerDefinition, ModelApprovalStatus, ModelPackageSortBy, ProductionVariant, ResourceConfig,
    SortOrder, Tag as SdkTag, TrafficRoutingConfigType, TrainingInstanceType, TrainingJobStatus,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chrono::{DateTime, Duration, TimeZone, Utc};
use modelwatch_aws::retrain::SageMakerRetrain;
use modelwatch_aws::sagemaker::SageMakerEndpoints;
use modelwatch_aws::testing::{TRAINING_IMAGE, described_endpoint, runtime, template_job};
use modelwatch_core::ports::PortErrorKind;
use modelwatch_core::retrain::history::JobStatus;
use modelwatch_core::retrain::lifecycle::{
    Approval, DEPLOY_GRACE_MINUTES, EndpointPort, ModelPort, NewModel, RegisterRequest, RegistryPort, TrainingPort,
    TrainingRequest, judge_deployment, variant_model,
};
use modelwatch_core::retrain::naming::Tag;
use modelwatch_core::retrain::versions::Outcome;
use modelwatch_core::scaling::controller::{CapacityStep, CapacityUnit, Deployment};
use modelwatch_core::scaling::observed::VariantStatus;
use modelwatch_core::testing::endpoint_view;

const JOB_ARN: &str = "arn:aws:sagemaker:eu-west-1:000000000000:training-job/churn-rt-1";
const NOT_FOUND: &str = r#"{"__type":"ValidationException","message":"Requested resource not found."}"#;

fn adapter(rt: &tokio::runtime::Runtime, client: &aws_sdk_sagemaker::Client) -> SageMakerRetrain {
    SageMakerRetrain::new(client.clone(), rt.handle().clone())
}

/// The endpoint adapter the retraining loop shares with the scaler.
fn endpoints(rt: &tokio::runtime::Runtime, client: &aws_sdk_sagemaker::Client) -> SageMakerEndpoints {
    SageMakerEndpoints::new(client.clone(), rt.handle().clone())
}

fn job(status: TrainingJobStatus) -> DescribeTrainingJobOutput {
    DescribeTrainingJobOutput::builder()
        .training_job_name("churn-rt-1")
        .training_job_arn(JOB_ARN)
        .training_job_status(status)
        .resource_config(
            ResourceConfig::builder()
                .instance_type(TrainingInstanceType::MlM5Xlarge)
                .instance_count(3)
                .volume_size_in_gb(30)
                .build(),
        )
        .build()
}

fn tags_page(tags: &[(&str, &str)], next: Option<&str>) -> ListTagsOutput {
    let mut b = ListTagsOutput::builder().set_next_token(next.map(str::to_owned));
    for (k, v) in tags {
        b = b.tags(SdkTag::builder().key(*k).value(*v).build());
    }
    b.build()
}

#[test]
fn a_training_job_in_progress_then_failed_with_its_hours() {
    let rt = runtime();
    let describe_rule = mock!(aws_sdk_sagemaker::Client::describe_training_job)
        .match_requests(|r| r.training_job_name() == Some("churn-rt-1"))
        .sequence()
        .output(|| job(TrainingJobStatus::InProgress))
        .output(|| {
            let mut failed = job(TrainingJobStatus::Failed);
            failed.failure_reason = Some("AlgorithmError: out of memory".into());
            // Billable time wins over training time (managed spot bills less than it runs).
            failed.billable_time_in_seconds = Some(1200);
            failed.training_time_in_seconds = Some(2400);
            failed
        })
        .build();
    // The tags come in two pages (the second asked for with the first's token), on every describe.
    let first_page = mock!(aws_sdk_sagemaker::Client::list_tags)
        .match_requests(|r| r.resource_arn() == Some(JOB_ARN) && r.next_token().is_none())
        .then_output(|| tags_page(&[("modelwatch:model", "churn")], Some("page-2")));
    let second_page = mock!(aws_sdk_sagemaker::Client::list_tags)
        .match_requests(|r| r.resource_arn() == Some(JOB_ARN) && r.next_token() == Some("page-2"))
        .then_output(|| tags_page(&[("team", "ml")], None));
    let client = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&describe_rule, &first_page, &second_page]
    );
    let training = adapter(&rt, &client);

    let running = training.describe_job("churn-rt-1").unwrap().unwrap();
    assert_eq!(running.status, JobStatus::InProgress);
    assert_eq!((running.hours, running.failure_reason.as_deref()), (None, None));
    assert_eq!(
        running.tags,
        vec![
            Tag {
                key: "modelwatch:model".into(),
                value: "churn".into()
            },
            Tag {
                key: "team".into(),
                value: "ml".into()
            },
        ]
    );

    let failed = training.describe_job("churn-rt-1").unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("AlgorithmError: out of memory"));
    // 1,200 billable seconds on 3 instances: one instance hour.
    assert_eq!(failed.hours, Some(1.0));
    assert_eq!(describe_rule.num_calls(), 2);
    assert_eq!((first_page.num_calls(), second_page.num_calls()), (2, 2));
}

#[test]
fn a_missing_job_is_none_and_other_errors_are_errors() {
    let rt = runtime();
    let describe_rule = mock!(aws_sdk_sagemaker::Client::describe_training_job)
        .sequence()
        .http_status(400, Some(NOT_FOUND.to_owned()))
        .http_status(
            400,
            Some(r#"{"__type":"AccessDeniedException","message":"not authorized"}"#.to_owned()),
        )
        .build();
    let tags_rule = mock!(aws_sdk_sagemaker::Client::list_tags).then_output(|| tags_page(&[], None));
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, &[&describe_rule, &tags_rule]);
    let training = adapter(&rt, &client);

    assert_eq!(training.describe_job("churn-rt-0").unwrap(), None);
    let e = training.describe_job("churn-rt-0").unwrap_err();
    assert_eq!((e.kind, e.resource.as_str()), (PortErrorKind::Other, "churn-rt-0"));
    assert_eq!(
        tags_rule.num_calls(),
        0,
        "no tags are listed for a job that is not there"
    );
}

/// The template the retraining jobs are cloned from.
fn template() -> DescribeTrainingJobOutput {
    template_job("churn-template", "s3://data/churn", "s3://models/churn/")
}

#[test]
fn create_job_sends_the_template_cloned_with_the_request() {
    let rt = runtime();
    let describe_rule = mock!(aws_sdk_sagemaker::Client::describe_training_job)
        .match_requests(|r| r.training_job_name() == Some("churn-template"))
        .then_output(template);
    let create_rule = mock!(aws_sdk_sagemaker::Client::create_training_job)
        .match_requests(|r| {
            let uri = |name: &str| {
                r.input_data_config()
                    .iter()
                    .find(|c| c.channel_name() == Some(name))
                    .and_then(|c| c.data_source())
                    .and_then(|d| d.s3_data_source())
                    .and_then(|s| s.s3_uri())
            };
            let tags: Vec<(Option<&str>, Option<&str>)> = r.tags().iter().map(|t| (t.key(), t.value())).collect();
            r.training_job_name() == Some("churn-rt-20240117-120000")
                && r.role_arn() == Some("arn:aws:iam::000000000000:role/training")
                && r.input_data_config().len() == 2
                && uri("train") == Some("s3://data/churn/2024-01-17/")
                && uri("validation") == Some("s3://data/churn/validation/")
                && r.output_data_config().and_then(|o| o.s3_output_path()) == Some("s3://models/churn/")
                && r.hyper_parameters().is_some_and(|h| h["num_round"] == "100")
                && r.algorithm_specification().and_then(|a| a.training_image()) == Some(TRAINING_IMAGE)
                && r.resource_config().and_then(|c| c.instance_count()) == Some(1)
                && tags
                    == [
                        (Some("modelwatch:model"), Some("churn")),
                        (Some("modelwatch:trigger"), Some("quality")),
                    ]
        })
        .then_output(|| {
            CreateTrainingJobOutput::builder()
                .training_job_arn("arn:aws:sagemaker:eu-west-1:000000000000:training-job/churn-rt-20240117-120000")
                .build()
        });
    // Sequential: the template is described first, then the job created; anything else panics.
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, &[&describe_rule, &create_rule]);
    let training = adapter(&rt, &client);
    let request = TrainingRequest {
        job_name: "churn-rt-20240117-120000".into(),
        template_job: "churn-template".into(),
        channel: "train".into(),
        data_s3_uri: "s3://data/churn/2024-01-17/".into(),
        role_arn: "arn:aws:iam::000000000000:role/training".into(),
        output_s3_uri: None,
        tags: vec![
            Tag {
                key: "modelwatch:model".into(),
                value: "churn".into(),
            },
            Tag {
                key: "modelwatch:trigger".into(),
                value: "quality".into(),
            },
        ],
        manifest_channel: None,
        drop_channels: Vec::new(),
    };
    training.create_job(&request).unwrap();
    assert_eq!((describe_rule.num_calls(), create_rule.num_calls()), (1, 1));
}

#[test]
fn create_job_with_an_unknown_channel_creates_nothing() {
    let rt = runtime();
    let describe_rule = mock!(aws_sdk_sagemaker::Client::describe_training_job).then_output(template);
    let create_rule = mock!(aws_sdk_sagemaker::Client::create_training_job)
        .then_output(|| CreateTrainingJobOutput::builder().build());
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, &[&describe_rule, &create_rule]);
    let request = TrainingRequest {
        job_name: "churn-rt-2".into(),
        template_job: "churn-template".into(),
        channel: "training".into(),
        data_s3_uri: "s3://data/churn/2024-01-17/".into(),
        role_arn: "arn:aws:iam::000000000000:role/training".into(),
        output_s3_uri: None,
        tags: vec![],
        manifest_channel: None,
        drop_channels: Vec::new(),
    };
    let e = adapter(&rt, &client).create_job(&request).unwrap_err();
    assert_eq!(e.resource, "churn-template");
    assert_eq!(create_rule.num_calls(), 0);
}

fn endpoint(status: VariantStatus, config: &str) -> DescribeEndpointOutput {
    described_endpoint(&endpoint_view("churn-ep", config, status, &[("AllTraffic", 2, 1.0)]))
}

fn requested_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 17, 12, 0, 0).unwrap()
}

#[test]
fn a_deployment_updating_rolling_back_then_in_service_on_the_old_config_is_judged_failed_after_the_grace() {
    let rt = runtime();
    let describe_rule = mock!(aws_sdk_sagemaker::Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("churn-ep"))
        .sequence()
        .output(|| endpoint(VariantStatus::Updating, "churn-ep-v1"))
        .output(|| endpoint(VariantStatus::RollingBack, "churn-ep-v1"))
        .output(|| endpoint(VariantStatus::InService, "churn-ep-v1"))
        .build();
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, &[&describe_rule]);
    let deploy = endpoints(&rt, &client);
    let new_config = "churn-ep-v2-20240117120000";
    let grace = Duration::minutes(DEPLOY_GRACE_MINUTES);

    let updating = deploy.describe_endpoint("churn-ep").unwrap();
    assert_eq!(
        (updating.status_text.as_str(), updating.config_name.as_str()),
        ("Updating", "churn-ep-v1")
    );
    assert_eq!(updating.desired_count("AllTraffic"), Some(2));
    assert_eq!(
        judge_deployment(new_config, requested_at(), &updating, requested_at() + grace),
        None
    );

    let rolling_back = deploy.describe_endpoint("churn-ep").unwrap();
    assert_eq!(rolling_back.status_text, "RollingBack");
    assert_eq!(
        judge_deployment(new_config, requested_at(), &rolling_back, requested_at() + grace),
        None
    );

    let back = deploy.describe_endpoint("churn-ep").unwrap();
    assert_eq!(
        (back.status_text.as_str(), back.config_name.as_str()),
        ("InService", "churn-ep-v1")
    );
    let before_grace = requested_at() + grace - Duration::seconds(1);
    assert_eq!(judge_deployment(new_config, requested_at(), &back, before_grace), None);
    let judged = judge_deployment(new_config, requested_at(), &back, requested_at() + grace);
    assert!(
        matches!(&judged, Some(Outcome::Failed { why }) if why.contains("churn-ep-v1")),
        "{judged:?}"
    );
    assert_eq!(describe_rule.num_calls(), 3);
}

#[test]
fn register_returns_the_arn_and_an_empty_group_has_no_approved_version() {
    let rt = runtime();
    let create_rule = mock!(aws_sdk_sagemaker::Client::create_model_package)
        .match_requests(|r| {
            let container = r.inference_specification().and_then(|s| s.containers().first());
            r.model_package_group_name() == Some("churn")
                && r.client_token() == Some("0a1b2c3d4e5f6a7b")
                && r.model_approval_status() == Some(&ModelApprovalStatus::PendingManualApproval)
                && container.and_then(|c| c.image()) == Some("000000000000.dkr.ecr.eu-west-1.amazonaws.com/serve:1")
                && container.and_then(|c| c.model_data_url()) == Some("s3://models/churn/churn-rt-1/model.tar.gz")
                && r.customer_metadata_properties()
                    .is_some_and(|m| m.get("modelwatch:training-job").map(String::as_str) == Some("churn-rt-1"))
        })
        .then_output(|| {
            CreateModelPackageOutput::builder()
                .model_package_arn("arn:aws:sagemaker:eu-west-1:000000000000:model-package/churn/4")
                .build()
        });
    let list_rule = mock!(aws_sdk_sagemaker::Client::list_model_packages)
        .match_requests(|r| {
            r.model_package_group_name() == Some("churn")
                && r.model_approval_status() == Some(&ModelApprovalStatus::Approved)
                && r.sort_by() == Some(&ModelPackageSortBy::CreationTime)
                && r.sort_order() == Some(&SortOrder::Descending)
                && r.max_results() == Some(1)
        })
        .then_output(|| ListModelPackagesOutput::builder().build());
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, &[&create_rule, &list_rule]);
    let registry = adapter(&rt, &client);
    let request = RegisterRequest {
        group: "churn".into(),
        client_token: "0a1b2c3d4e5f6a7b".into(),
        image: "000000000000.dkr.ecr.eu-west-1.amazonaws.com/serve:1".into(),
        model_data_url: "s3://models/churn/churn-rt-1/model.tar.gz".into(),
        approval: Approval::PendingManualApproval,
        description: "Retrained by modelwatch".into(),
        metadata: [("modelwatch:training-job".to_owned(), "churn-rt-1".to_owned())].into(),
        content_types: vec!["text/csv".into()],
        response_types: vec!["text/csv".into()],
    };
    assert_eq!(
        registry.register(&request).unwrap(),
        "arn:aws:sagemaker:eu-west-1:000000000000:model-package/churn/4"
    );
    assert_eq!(registry.latest_approved("churn").unwrap(), None);
    assert_eq!((create_rule.num_calls(), list_rule.num_calls()), (1, 1));
}

#[test]
fn a_new_model_is_the_serving_models_container_with_new_data_then_deployed_canary() {
    let rt = runtime();
    let config_rule = mock!(aws_sdk_sagemaker::Client::describe_endpoint_config)
        .match_requests(|r| r.endpoint_config_name() == Some("churn-ep-v1"))
        .then_output(|| {
            DescribeEndpointConfigOutput::builder()
                .endpoint_config_name("churn-ep-v1")
                .production_variants(
                    ProductionVariant::builder()
                        .variant_name("AllTraffic")
                        .model_name("churn-v1")
                        .build(),
                )
                .build()
        });
    let source = || {
        DescribeModelOutput::builder()
            .model_name("churn-v1")
            .primary_container(
                ContainerDefinition::builder()
                    .image("000000000000.dkr.ecr.eu-west-1.amazonaws.com/serve:1")
                    .model_data_url("s3://models/churn/v1/model.tar.gz")
                    .environment("SAGEMAKER_PROGRAM", "inference.py")
                    .build(),
            )
            .execution_role_arn("arn:aws:iam::000000000000:role/old")
            .build()
    };
    let describe_model_rule = mock!(aws_sdk_sagemaker::Client::describe_model)
        .match_requests(|r| r.model_name() == Some("churn-v1"))
        .sequence()
        .output(source)
        .times(2)
        .build();
    let create_model_rule = mock!(aws_sdk_sagemaker::Client::create_model)
        .match_requests(|r| {
            let c = r.primary_container();
            r.model_name() == Some("churn-v2")
                && r.execution_role_arn() == Some("arn:aws:iam::000000000000:role/model")
                && c.and_then(|c| c.model_data_url()) == Some("s3://models/churn/v2/model.tar.gz")
                && c.and_then(|c| c.environment())
                    .is_some_and(|e| e.get("SAGEMAKER_PROGRAM").map(String::as_str) == Some("inference.py"))
        })
        .then_output(|| CreateModelOutput::builder().model_arn("arn:model/churn-v2").build());
    let update_rule = mock!(aws_sdk_sagemaker::Client::update_endpoint)
        .match_requests(|r| {
            let routing = r
                .deployment_config()
                .and_then(|d| d.blue_green_update_policy())
                .and_then(|p| p.traffic_routing_configuration());
            let canary = routing.and_then(|t| t.canary_size());
            r.endpoint_name() == Some("churn-ep")
                && r.endpoint_config_name() == Some("churn-ep-v2")
                && r.retain_all_variant_properties() == Some(false)
                && routing.and_then(|t| t.r#type()) == Some(&TrafficRoutingConfigType::Canary)
                && canary.and_then(|c| c.r#type()) == Some(&CapacitySizeType::CapacityPercent)
                && canary.and_then(|c| c.value()) == Some(10)
        })
        .then_output(|| {
            UpdateEndpointOutput::builder()
                .endpoint_arn("arn:endpoint/churn-ep")
                .build()
        });
    let client = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::Sequential,
        &[&config_rule, &describe_model_rule, &create_model_rule, &update_rule]
    );
    let (deploy, models) = (endpoints(&rt, &client), adapter(&rt, &client));

    let config = deploy.describe_config("churn-ep-v1").unwrap();
    let serving = models
        .describe_model(&variant_model(&config, "AllTraffic").unwrap())
        .unwrap();
    assert_eq!(serving.name, "churn-v1");
    assert_eq!(
        serving.image.as_deref(),
        Some("000000000000.dkr.ecr.eu-west-1.amazonaws.com/serve:1")
    );
    models
        .create_model(&NewModel {
            name: "churn-v2".into(),
            source: serving.name.clone(),
            image: serving.image.clone().unwrap(),
            model_data_url: "s3://models/churn/v2/model.tar.gz".into(),
            role_arn: "arn:aws:iam::000000000000:role/model".into(),
            tags: vec![],
        })
        .unwrap();
    let mut deployment = Deployment::blue_green(&["churn-ep-5xx".to_owned()]);
    deployment.traffic_routing = "CANARY".into();
    deployment.step = Some(CapacityStep {
        unit: CapacityUnit::CapacityPercent,
        value: 10,
    });
    deploy.update_endpoint("churn-ep", "churn-ep-v2", &deployment).unwrap();
    assert_eq!((create_model_rule.num_calls(), update_rule.num_calls()), (1, 1));
}
