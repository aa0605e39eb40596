//! SDK objects for tests, written once: what SageMaker and Application Auto Scaling answer (endpoint and
//! configuration descriptions, training jobs) and what a team has set up (data capture, scalable targets and their
//! policies). Built with the SDK's own builders, for this crate's unit tests, its mocked-client tests
//! (`tests/*.rs`) and the end-to-end tests (`tests/`), which create the same objects in the emulators.
//!
//! Only in this crate's tests and with feature `test-util`; the parts follow the SDKs they build (`scaling`,
//! `retrain`).

#[cfg(any(feature = "scaling", feature = "retrain"))]
pub use sagemaker::*;

/// A runtime for the adapters to block on, as a function's `spawn_blocking` thread has one: the mocked clients'
/// futures run on its one worker while the test's thread blocks.
///
/// # Panics
///
/// When the runtime cannot be built.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

#[cfg(feature = "retrain")]
pub use training::*;

#[cfg(feature = "scaling")]
pub use autoscaling::*;

#[cfg(any(feature = "scaling", feature = "retrain"))]
mod sagemaker {
    use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
    use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
    use aws_sdk_sagemaker::types::{
        CaptureMode, CaptureOption, DataCaptureConfig, EndpointStatus, ProductionVariant,
        ProductionVariantInstanceType, ProductionVariantSummary,
    };
    use modelwatch_core::scaling::endpoint::{ConfigView, EndpointView};

    /// `count` as the SDK's `i32`.
    fn sdk_count(count: Option<u32>) -> Option<i32> {
        count.map(|c| i32::try_from(c).expect("a test's instance count fits an i32"))
    }

    /// The `DescribeEndpoint` answer the adapter reads as `view` (its status spelled as `view.status_text`).
    pub fn described_endpoint(view: &EndpointView) -> DescribeEndpointOutput {
        let mut b = DescribeEndpointOutput::builder()
            .endpoint_name(&view.name)
            .endpoint_config_name(&view.config_name)
            .endpoint_status(EndpointStatus::from(view.status_text.as_str()))
            .set_failure_reason(view.failure_reason.clone());
        for v in &view.variants {
            b = b.production_variants(
                ProductionVariantSummary::builder()
                    .variant_name(&v.name)
                    .set_current_instance_count(sdk_count(v.current_count))
                    .set_desired_instance_count(sdk_count(v.desired_count))
                    .set_desired_weight(v.desired_weight)
                    .build(),
            );
        }
        b.build()
    }

    /// The `DescribeEndpointConfig` answer the adapter reads as `view`, without data capture (set
    /// `data_capture_config` for one).
    pub fn described_config(view: &ConfigView) -> DescribeEndpointConfigOutput {
        let mut b = DescribeEndpointConfigOutput::builder().endpoint_config_name(&view.name);
        for v in &view.variants {
            b = b.production_variants(
                ProductionVariant::builder()
                    .variant_name(&v.name)
                    .set_model_name(v.model_name.clone())
                    .set_instance_type(v.instance_type.as_deref().map(ProductionVariantInstanceType::from))
                    .set_initial_instance_count(sdk_count(v.initial_count))
                    .set_initial_variant_weight(v.initial_weight)
                    .build(),
            );
        }
        b.build()
    }

    /// A variant of an endpoint configuration: `count` instances of `ml.m5.large` serving `model`, weighted
    /// `weight`.
    pub fn variant(name: &str, model: &str, count: i32, weight: f32) -> ProductionVariant {
        ProductionVariant::builder()
            .variant_name(name)
            .model_name(model)
            .instance_type(ProductionVariantInstanceType::MlM5Large)
            .initial_instance_count(count)
            .initial_variant_weight(weight)
            .build()
    }

    /// Data capture of requests and responses, `percent` of them, to `uri`.
    pub fn data_capture(uri: &str, percent: i32) -> DataCaptureConfig {
        DataCaptureConfig::builder()
            .enable_capture(true)
            .initial_sampling_percentage(percent)
            .destination_s3_uri(uri)
            .capture_options(CaptureOption::builder().capture_mode(CaptureMode::Input).build())
            .capture_options(CaptureOption::builder().capture_mode(CaptureMode::Output).build())
            .build()
    }
}

#[cfg(feature = "retrain")]
mod training {
    use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
    use aws_sdk_sagemaker::types::{
        AlgorithmSpecification, Channel, DataSource, OutputDataConfig, ResourceConfig, S3DataSource, S3DataType,
        TrainingInputMode, TrainingInstanceType, TrainingJobStatus,
    };

    /// The training (and serving) image of the template job: SageMaker's XGBoost container.
    pub const TRAINING_IMAGE: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";
    /// The role the template job ran with (a retraining job runs with the configured role instead).
    pub const TEMPLATE_ROLE: &str = "arn:aws:iam::000000000000:role/someone-elses-role";

    /// An input channel reading the CSV files under an S3 prefix.
    pub fn s3_channel(name: &str, uri: &str) -> Channel {
        Channel::builder()
            .channel_name(name)
            .data_source(
                DataSource::builder()
                    .s3_data_source(
                        S3DataSource::builder()
                            .s3_data_type(S3DataType::S3Prefix)
                            .s3_uri(uri)
                            .build(),
                    )
                    .build(),
            )
            .content_type("text/csv")
            .build()
    }

    /// The completed training job a retraining job is cloned from: [`TRAINING_IMAGE`] with `num_round` 100, run
    /// by [`TEMPLATE_ROLE`] on one `ml.m5.xlarge`, channel `train` reading `{data}/2024-01-01/` and `validation`
    /// reading `{data}/validation/`, its model written under `output`.
    pub fn template_job(name: &str, data: &str, output: &str) -> DescribeTrainingJobOutput {
        DescribeTrainingJobOutput::builder()
            .training_job_name(name)
            .training_job_arn(format!("arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}"))
            .training_job_status(TrainingJobStatus::Completed)
            .algorithm_specification(
                AlgorithmSpecification::builder()
                    .training_image(TRAINING_IMAGE)
                    .training_input_mode(TrainingInputMode::File)
                    .build(),
            )
            .hyper_parameters("num_round", "100")
            .role_arn(TEMPLATE_ROLE)
            .input_data_config(s3_channel("train", &format!("{data}/2024-01-01/")))
            .input_data_config(s3_channel("validation", &format!("{data}/validation/")))
            .output_data_config(OutputDataConfig::builder().s3_output_path(output).build())
            .resource_config(
                ResourceConfig::builder()
                    .instance_type(TrainingInstanceType::MlM5Xlarge)
                    .instance_count(1)
                    .volume_size_in_gb(30)
                    .build(),
            )
            .build()
    }
}

#[cfg(feature = "scaling")]
mod autoscaling {
    use aws_sdk_applicationautoscaling::types::{
        MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget, ScalingPolicy,
        ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
    };
    use aws_smithy_types::DateTime;

    /// The role Application Auto Scaling registers SageMaker variants with by itself.
    pub const SERVICE_LINKED_ROLE: &str =
        "arn:aws:iam::000000000000:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/R";

    /// A variant registered with Application Auto Scaling between `min` and `max` instances.
    pub fn scalable_target(resource_id: &str, min: i32, max: i32, role: &str) -> ScalableTarget {
        ScalableTarget::builder()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(resource_id)
            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
            .min_capacity(min)
            .max_capacity(max)
            .role_arn(role)
            .creation_time(DateTime::from_secs(0))
            .build()
            .expect("every required field is set")
    }

    /// Target tracking of `SageMakerVariantInvocationsPerInstance` at `target` per instance, scaling in after
    /// 300 s.
    pub fn invocations_tracking(target: f64) -> TargetTrackingScalingPolicyConfiguration {
        TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(target)
            .predefined_metric_specification(
                PredefinedMetricSpecification::builder()
                    .predefined_metric_type(MetricType::SageMakerVariantInvocationsPerInstance)
                    .build()
                    .expect("the metric type is set"),
            )
            .scale_in_cooldown(300)
            .build()
            .expect("the target value is set")
    }

    /// A target-tracking policy `name` of a registered variant, as `DescribeScalingPolicies` lists it.
    pub fn tracking_policy(
        resource_id: &str,
        name: &str,
        config: TargetTrackingScalingPolicyConfiguration,
    ) -> ScalingPolicy {
        ScalingPolicy::builder()
            .policy_arn(format!(
                "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:{name}"
            ))
            .policy_name(name)
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(resource_id)
            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(config)
            .creation_time(DateTime::from_secs(0))
            .build()
            .expect("every required field is set")
    }
}

#[cfg(all(test, feature = "scaling"))]
mod tests {
    use modelwatch_core::scaling::endpoint::{ConfigVariant, ConfigView, EndpointView, LiveVariant};
    use modelwatch_core::scaling::observed::VariantStatus;

    use super::*;
    use crate::sagemaker::{config_view, endpoint_view};

    #[test]
    fn the_descriptions_are_read_back_as_the_views_they_were_built_from() {
        let endpoint = EndpointView {
            name: "ep".into(),
            status: VariantStatus::RollingBack,
            status_text: "RollingBack".into(),
            config_name: "ep-config".into(),
            failure_reason: Some("alarm".into()),
            variants: vec![
                LiveVariant {
                    name: "AllTraffic".into(),
                    current_count: Some(2),
                    desired_count: Some(3),
                    desired_weight: Some(0.9),
                },
                LiveVariant {
                    name: "Serverless".into(),
                    current_count: None,
                    desired_count: None,
                    desired_weight: None,
                },
            ],
        };
        assert_eq!(endpoint_view("other", &described_endpoint(&endpoint)), endpoint);
        let config = ConfigView {
            name: "ep-config".into(),
            variants: vec![ConfigVariant {
                name: "AllTraffic".into(),
                instance_type: Some("ml.g5.xlarge".into()),
                initial_count: Some(1),
                initial_weight: Some(1.0),
                model_name: Some("model".into()),
            }],
        };
        assert_eq!(config_view("other", &described_config(&config)), config);
    }
}
