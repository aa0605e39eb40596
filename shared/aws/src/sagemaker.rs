//! The SageMaker endpoint adapter, the one both the scaler and the retraining loop use: the endpoint and its
//! configuration described into the core's views, `CreateEndpointConfig` copied from the running configuration
//! and `UpdateEndpoint` with a blue/green deployment (the core's
//! [`EndpointPort`](modelwatch_core::scaling::endpoint::EndpointPort)); and the scaler's own calls,
//! `UpdateEndpointWeightsAndCapacities` and `DeleteEndpointConfig`
//! ([`ScalerEndpointPort`](modelwatch_core::scaling::controller::ScalerEndpointPort)).
//!
//! The conversions are pure functions over the SDK's own types, tested with its builders; the port methods only
//! send them. A missing resource is mapped once, here, by [`is_missing`], for every `Describe*` call of either
//! loop.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::operation::create_endpoint_config::CreateEndpointConfigInput;
use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
use aws_sdk_sagemaker::types::{
    Alarm, AutoRollbackConfig, BlueGreenUpdatePolicy, CapacitySize, CapacitySizeType, DeploymentConfig,
    DesiredWeightAndCapacity, ProductionVariantInstanceType, TrafficRoutingConfig, TrafficRoutingConfigType,
};
use modelwatch_core::ports::{PortError, PortErrorKind};
use modelwatch_core::scaling::controller::{CapacityStep, Deployment, NewConfig, ScalerEndpointPort};
use modelwatch_core::scaling::endpoint::{
    ConfigVariant, ConfigView, EndpointPort, EndpointView, LiveVariant, status_of,
};
use tokio::runtime::Handle;

use crate::error::port_error;

/// The modeled "no such resource" error code (`ResourceNotFound`, SageMaker API Reference, Common Errors of the
/// `Describe*` calls that model it).
const RESOURCE_NOT_FOUND: &str = "ResourceNotFound";
/// The error code SageMaker actually returns for most missing resources: `DescribeTrainingJob` answers
/// `ValidationException: Requested resource not found.` instead of its modeled `ResourceNotFound`
/// (aws/aws-sdk#165), `DescribeModel` and `DescribeEndpoint(Config)` "Could not find ...", `DescribeModelPackage`
/// "... does not exist".
const VALIDATION_EXCEPTION: &str = "ValidationException";
/// The phrases of a `ValidationException` message that mean the named resource is not there (lower case).
const MISSING_PHRASES: [&str; 3] = ["not found", "could not find", "does not exist"];

/// `RetainAllVariantProperties` of every `UpdateEndpoint`: `false`. The SageMaker API Reference, UpdateEndpoint:
/// "To retain the variant properties of an endpoint when updating it, set `RetainAllVariantProperties` to
/// `true`. To use the variant properties specified in a new `EndpointConfig` call when updating an endpoint, set
/// `RetainAllVariantProperties` to `false`. The default is `false`." Both loops update to a configuration that
/// carries the properties they mean to set (the scaler's new instance type and count, the retraining loop's new
/// model with the count the scaler last set), so the old ones must not be retained. Sent explicitly rather than
/// left to the default, so the request says what it relies on. (A count-only change is
/// `UpdateEndpointWeightsAndCapacities`, which this does not concern.)
pub const RETAIN_ALL_VARIANT_PROPERTIES: bool = false;

/// Whether SageMaker said the resource a `Describe*` call named does not exist: the modeled `ResourceNotFound`,
/// or the `ValidationException` it returns instead ("Requested resource not found.", "Could not find ...",
/// "... does not exist"). Only meaningful for calls that name one resource: a `ValidationException` of a create
/// or update call ("Could not find model data", "Could not find endpoint configuration") is not this, and is
/// left to [`port_error`].
pub fn is_missing<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    match error.code() {
        Some(RESOURCE_NOT_FOUND) => true,
        Some(VALIDATION_EXCEPTION) => error.message().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            MISSING_PHRASES.iter().any(|p| m.contains(p))
        }),
        _ => false,
    }
}

/// [`port_error`] for a SageMaker `Describe*` call: a missing resource is [`PortErrorKind::NotFound`] whichever
/// way SageMaker says it (the shared mapping knows only the S3 codes).
pub(crate) fn describe_error<E, R>(
    operation: &'static str,
    resource: impl Into<String>,
    error: SdkError<E, R>,
) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let missing = is_missing(&error);
    let mut e = port_error(operation, resource, error);
    if missing {
        e.kind = PortErrorKind::NotFound;
    }
    e
}

fn count(v: Option<i32>) -> Option<u32> {
    v.and_then(|c| u32::try_from(c).ok())
}

/// The core's view of a `DescribeEndpoint` answer.
pub fn endpoint_view(name: &str, out: &DescribeEndpointOutput) -> EndpointView {
    let status_text = out.endpoint_status().map_or("Unknown", |s| s.as_str()).to_owned();
    EndpointView {
        name: out.endpoint_name().unwrap_or(name).to_owned(),
        status: status_of(&status_text),
        status_text,
        config_name: out.endpoint_config_name().unwrap_or_default().to_owned(),
        failure_reason: out.failure_reason().map(str::to_owned),
        variants: out
            .production_variants()
            .iter()
            .map(|v| LiveVariant {
                name: v.variant_name().unwrap_or_default().to_owned(),
                current_count: count(v.current_instance_count()),
                desired_count: count(v.desired_instance_count()),
                desired_weight: v.desired_weight(),
            })
            .collect(),
    }
}

/// The core's view of a `DescribeEndpointConfig` answer.
pub fn config_view(name: &str, out: &DescribeEndpointConfigOutput) -> ConfigView {
    ConfigView {
        name: out.endpoint_config_name().unwrap_or(name).to_owned(),
        variants: out
            .production_variants()
            .iter()
            .map(|v| ConfigVariant {
                name: v.variant_name().unwrap_or_default().to_owned(),
                instance_type: v.instance_type().map(|t| t.as_str().to_owned()),
                initial_count: count(v.initial_instance_count()),
                initial_weight: v.initial_variant_weight(),
                model_name: v.model_name().map(str::to_owned),
            })
            .collect(),
    }
}

/// The `CreateEndpointConfig` request of `plan`: everything of `source` (variants with their models, volumes
/// and routing, data capture, async inference, explainer, shadow variants, KMS key, role, VPC, network
/// isolation, metrics config), with the plan's overrides applied to the variants it names. Tags are not
/// described by `DescribeEndpointConfig` and are not copied.
///
/// # Errors
///
/// A [`PortError`] when the source lacks a variant the plan names.
pub fn copy_config(
    source: &DescribeEndpointConfigOutput,
    plan: &NewConfig,
) -> Result<CreateEndpointConfigInput, PortError> {
    let mut variants = source.production_variants().to_vec();
    for o in &plan.variants {
        let Some(v) = variants.iter_mut().find(|v| v.variant_name() == Some(o.name.as_str())) else {
            return Err(PortError::new(
                "copying endpoint configuration",
                plan.source.clone(),
                PortErrorKind::NotFound,
                format!("it has no production variant {}", o.name),
            ));
        };
        if let Some(t) = &o.instance_type {
            v.instance_type = Some(ProductionVariantInstanceType::from(t.as_str()));
        }
        if let Some(c) = o.initial_count {
            v.initial_instance_count = Some(i32::try_from(c).unwrap_or(i32::MAX));
        }
        if let Some(w) = o.initial_weight {
            v.initial_variant_weight = Some(w);
        }
        if let Some(m) = &o.model_name {
            v.model_name = Some(m.clone());
        }
    }
    CreateEndpointConfigInput::builder()
        .endpoint_config_name(&plan.name)
        .set_production_variants(Some(variants))
        .set_data_capture_config(source.data_capture_config().cloned())
        .set_kms_key_id(source.kms_key_id().map(str::to_owned))
        .set_async_inference_config(source.async_inference_config().cloned())
        .set_explainer_config(source.explainer_config().cloned())
        .set_shadow_production_variants(source.shadow_production_variants.clone())
        .set_execution_role_arn(source.execution_role_arn().map(str::to_owned))
        .set_vpc_config(source.vpc_config().cloned())
        .set_enable_network_isolation(source.enable_network_isolation())
        .set_metrics_config(source.metrics_config().cloned())
        .build()
        .map_err(|e| {
            PortError::new(
                "copying endpoint configuration",
                plan.name.clone(),
                PortErrorKind::Other,
                e,
            )
        })
}

/// The `DeploymentConfig` of a type change: blue/green, with auto-rollback when alarms are given.
pub fn deployment_config(d: &Deployment) -> DeploymentConfig {
    let routing = TrafficRoutingConfig::builder()
        .r#type(TrafficRoutingConfigType::from(d.traffic_routing.as_str()))
        .wait_interval_in_seconds(d.wait_interval_seconds);
    let step = |s: &CapacityStep| {
        CapacitySize::builder()
            .r#type(CapacitySizeType::from(s.unit.as_str()))
            .value(s.value)
            .build()
    };
    let routing = match (d.traffic_routing.as_str(), &d.step) {
        ("CANARY", Some(s)) => routing.canary_size(step(s)),
        ("LINEAR", Some(s)) => routing.linear_step_size(step(s)),
        _ => routing,
    }
    .build();
    let policy = BlueGreenUpdatePolicy::builder()
        .traffic_routing_configuration(routing)
        .termination_wait_in_seconds(d.termination_wait_seconds)
        .maximum_execution_timeout_in_seconds(d.max_execution_seconds)
        .build();
    let rollback = (!d.rollback_alarms.is_empty()).then(|| {
        AutoRollbackConfig::builder()
            .set_alarms(Some(
                d.rollback_alarms
                    .iter()
                    .map(|a| Alarm::builder().alarm_name(a).build())
                    .collect(),
            ))
            .build()
    });
    DeploymentConfig::builder()
        .blue_green_update_policy(policy)
        .set_auto_rollback_configuration(rollback)
        .build()
}

/// `CreateEndpointConfig`: `config.source` described and copied with [`copy_config`].
fn create_config_copy(client: &Client, handle: &Handle, config: &NewConfig) -> Result<(), PortError> {
    let source = handle
        .block_on(
            client
                .describe_endpoint_config()
                .endpoint_config_name(&config.source)
                .send(),
        )
        .map_err(|e| describe_error("describing endpoint configuration", config.source.clone(), e))?;
    let input = copy_config(&source, config)?;
    let request = client
        .create_endpoint_config()
        .set_endpoint_config_name(input.endpoint_config_name)
        .set_production_variants(input.production_variants)
        .set_data_capture_config(input.data_capture_config)
        .set_kms_key_id(input.kms_key_id)
        .set_async_inference_config(input.async_inference_config)
        .set_explainer_config(input.explainer_config)
        .set_shadow_production_variants(input.shadow_production_variants)
        .set_execution_role_arn(input.execution_role_arn)
        .set_vpc_config(input.vpc_config)
        .set_enable_network_isolation(input.enable_network_isolation)
        .set_metrics_config(input.metrics_config);
    handle
        .block_on(request.send())
        .map_err(|e| port_error("creating endpoint configuration", config.name.clone(), e))?;
    Ok(())
}

/// SageMaker endpoints, for the scaler and the retraining loop alike, blocking on a runtime handle (call from a
/// blocking thread).
pub struct SageMakerEndpoints {
    client: Client,
    handle: Handle,
}

impl SageMakerEndpoints {
    /// The adapter over `client`, blocking on `handle`.
    pub fn new(client: Client, handle: Handle) -> Self {
        Self { client, handle }
    }
}

impl EndpointPort for SageMakerEndpoints {
    fn describe_endpoint(&self, endpoint: &str) -> Result<EndpointView, PortError> {
        let out = self
            .handle
            .block_on(self.client.describe_endpoint().endpoint_name(endpoint).send())
            .map_err(|e| describe_error("describing endpoint", endpoint, e))?;
        Ok(endpoint_view(endpoint, &out))
    }

    fn describe_config(&self, config: &str) -> Result<ConfigView, PortError> {
        let out = self
            .handle
            .block_on(
                self.client
                    .describe_endpoint_config()
                    .endpoint_config_name(config)
                    .send(),
            )
            .map_err(|e| describe_error("describing endpoint configuration", config, e))?;
        Ok(config_view(config, &out))
    }

    fn create_config(&self, config: &NewConfig) -> Result<(), PortError> {
        create_config_copy(&self.client, &self.handle, config)
    }

    fn update_endpoint(&self, endpoint: &str, config: &str, deployment: &Deployment) -> Result<(), PortError> {
        self.handle
            .block_on(
                self.client
                    .update_endpoint()
                    .endpoint_name(endpoint)
                    .endpoint_config_name(config)
                    .deployment_config(deployment_config(deployment))
                    .retain_all_variant_properties(RETAIN_ALL_VARIANT_PROPERTIES)
                    .send(),
            )
            .map_err(|e| port_error("updating endpoint", format!("{endpoint} to {config}"), e))?;
        Ok(())
    }
}

impl ScalerEndpointPort for SageMakerEndpoints {
    fn set_count(&self, endpoint: &str, variant: &str, count: u32) -> Result<(), PortError> {
        let desired = DesiredWeightAndCapacity::builder()
            .variant_name(variant)
            .desired_instance_count(i32::try_from(count).unwrap_or(i32::MAX))
            .build();
        self.handle
            .block_on(
                self.client
                    .update_endpoint_weights_and_capacities()
                    .endpoint_name(endpoint)
                    .desired_weights_and_capacities(desired)
                    .send(),
            )
            .map_err(|e| port_error("updating the instance count of", format!("{endpoint}/{variant}"), e))?;
        Ok(())
    }

    fn delete_config(&self, config: &str) -> Result<(), PortError> {
        self.handle
            .block_on(self.client.delete_endpoint_config().endpoint_config_name(config).send())
            .map_err(|e| port_error("deleting endpoint configuration", config, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sagemaker::types::{
        CaptureMode, CaptureOption, DataCaptureConfig, EndpointStatus, ProductionVariant, ProductionVariantSummary,
    };
    use modelwatch_core::retrain::lifecycle::variant_model;
    use modelwatch_core::scaling::VariantStatus;
    use modelwatch_core::scaling::controller::VariantOverride;

    use super::*;

    fn variant(name: &str, instance_type: &str, count: i32) -> ProductionVariant {
        ProductionVariant::builder()
            .variant_name(name)
            .model_name("model")
            .instance_type(ProductionVariantInstanceType::from(instance_type))
            .initial_instance_count(count)
            .initial_variant_weight(1.0)
            .volume_size_in_gb(64)
            .build()
    }

    fn source() -> DescribeEndpointConfigOutput {
        DescribeEndpointConfigOutput::builder()
            .endpoint_config_name("ep-config")
            .production_variants(variant("AllTraffic", "ml.m5.large", 1))
            .production_variants(variant("Canary", "ml.m5.large", 1))
            .data_capture_config(
                DataCaptureConfig::builder()
                    .enable_capture(true)
                    .initial_sampling_percentage(100)
                    .destination_s3_uri("s3://bucket/datacapture")
                    .capture_options(CaptureOption::builder().capture_mode(CaptureMode::Input).build())
                    .build(),
            )
            .kms_key_id("key")
            .execution_role_arn("arn:aws:iam::000000000000:role/sm")
            .build()
    }

    #[test]
    fn the_copy_keeps_everything_but_the_overrides() {
        let plan = NewConfig {
            name: "ep-mw-20240117120000".into(),
            source: "ep-config".into(),
            variants: vec![
                VariantOverride {
                    name: "AllTraffic".into(),
                    instance_type: Some("ml.m5.xlarge".into()),
                    initial_count: Some(3),
                    initial_weight: Some(0.9),
                    model_name: None,
                },
                VariantOverride {
                    name: "Canary".into(),
                    instance_type: None,
                    initial_count: Some(2),
                    initial_weight: Some(0.1),
                    model_name: None,
                },
            ],
        };
        let input = copy_config(&source(), &plan).unwrap();
        assert_eq!(input.endpoint_config_name(), Some("ep-mw-20240117120000"));
        let v = input.production_variants();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].instance_type().map(|t| t.as_str()), Some("ml.m5.xlarge"));
        assert_eq!(
            (v[0].initial_instance_count(), v[0].initial_variant_weight()),
            (Some(3), Some(0.9))
        );
        assert_eq!((v[0].model_name(), v[0].volume_size_in_gb()), (Some("model"), Some(64)));
        assert_eq!(v[1].instance_type().map(|t| t.as_str()), Some("ml.m5.large"));
        assert_eq!(v[1].initial_instance_count(), Some(2));
        assert_eq!(input.data_capture_config(), source().data_capture_config());
        assert_eq!(
            (input.kms_key_id(), input.execution_role_arn()),
            (Some("key"), Some("arn:aws:iam::000000000000:role/sm"))
        );
        let mut missing = plan.clone();
        missing.variants[0].name = "Gone".into();
        assert_eq!(
            copy_config(&source(), &missing).unwrap_err().kind,
            PortErrorKind::NotFound
        );
    }

    #[test]
    fn blue_green_with_rollback_alarms_only_when_given() {
        let d = deployment_config(&Deployment::blue_green(&["ep-5xx".to_owned()]));
        let bg = d.blue_green_update_policy().unwrap();
        let routing = bg.traffic_routing_configuration().unwrap();
        assert_eq!(routing.r#type(), Some(&TrafficRoutingConfigType::AllAtOnce));
        assert_eq!(routing.wait_interval_in_seconds(), Some(600));
        assert_eq!(bg.maximum_execution_timeout_in_seconds(), Some(3600));
        let alarms: Vec<&str> = d
            .auto_rollback_configuration()
            .unwrap()
            .alarms()
            .iter()
            .filter_map(|a| a.alarm_name())
            .collect();
        assert_eq!(alarms, vec!["ep-5xx"]);
        assert!(
            deployment_config(&Deployment::blue_green(&[]))
                .auto_rollback_configuration()
                .is_none()
        );
    }

    #[test]
    fn views_of_the_descriptions() {
        let out = DescribeEndpointOutput::builder()
            .endpoint_name("ep")
            .endpoint_config_name("ep-config")
            .endpoint_status(EndpointStatus::Updating)
            .production_variants(
                ProductionVariantSummary::builder()
                    .variant_name("AllTraffic")
                    .current_instance_count(2)
                    .desired_instance_count(3)
                    .desired_weight(1.0)
                    .build(),
            )
            .build();
        let e = endpoint_view("ep", &out);
        assert_eq!(
            (e.status, e.status_text.as_str()),
            (VariantStatus::Updating, "Updating")
        );
        assert_eq!(
            (e.variants[0].current_count, e.variants[0].desired_count),
            (Some(2), Some(3))
        );
        let c = config_view("ep-config", &source());
        assert_eq!(c.variants[1].instance_type.as_deref(), Some("ml.m5.large"));
        assert_eq!(c.variants[0].initial_count, Some(1));
    }

    #[test]
    fn endpoint_counts_and_the_variant_model() {
        let out = DescribeEndpointOutput::builder()
            .endpoint_config_name("ep-config")
            .production_variants(
                ProductionVariantSummary::builder()
                    .variant_name("AllTraffic")
                    .current_instance_count(2)
                    .desired_instance_count(3)
                    .build(),
            )
            .production_variants(
                ProductionVariantSummary::builder()
                    .variant_name("Shadow")
                    .current_instance_count(1)
                    .build(),
            )
            .production_variants(ProductionVariantSummary::builder().variant_name("Serverless").build())
            .build();
        let state = endpoint_view("ep", &out);
        assert_eq!(state.status_text, "Unknown");
        assert_eq!(
            ["AllTraffic", "Shadow", "Serverless"].map(|v| state.desired_count(v)),
            [Some(3), Some(1), None]
        );
        let config = DescribeEndpointConfigOutput::builder()
            .endpoint_config_name("ep-config")
            .production_variants(
                ProductionVariant::builder()
                    .variant_name("AllTraffic")
                    .model_name("m1")
                    .build(),
            )
            .build();
        let config = config_view("ep-config", &config);
        assert_eq!(variant_model(&config, "AllTraffic").unwrap(), "m1");
        assert_eq!(
            variant_model(&config, "Canary").unwrap_err().kind,
            PortErrorKind::NotFound
        );
    }
}
