//! The retraining adapter: the core's training, registry and deployment ports over SageMaker.
//!
//! - Training: `DescribeTrainingJob` (and `ListTags`) into the core's view; `CreateTrainingJob` as a clone of a
//!   template job with another data channel, role, output path and tags.
//! - Registry: `CreateModelPackage` in a Model Package Group, `DescribeModelPackage`, and the newest approved
//!   version (`ListModelPackages`).
//! - Models: `DescribeModel` (the image a variant serves) and `CreateModel` as a copy of the serving model with
//!   new model data. The endpoint and its configurations (`DescribeEndpoint`, `DescribeEndpointConfig`,
//!   `CreateEndpointConfig`, `UpdateEndpoint`) are the scaler's adapter,
//!   [`SageMakerEndpoints`](crate::sagemaker::SageMakerEndpoints), so both loops call them the same way.
//!
//! The conversions are pure functions over the SDK's own types, tested with its builders; the port methods only
//! send them.

use std::collections::HashMap;

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::create_model::CreateModelInput;
use aws_sdk_sagemaker::operation::create_model_package::CreateModelPackageInput;
use aws_sdk_sagemaker::operation::create_training_job::CreateTrainingJobInput;
use aws_sdk_sagemaker::operation::describe_model::DescribeModelOutput;
use aws_sdk_sagemaker::operation::describe_model_package::DescribeModelPackageOutput;
use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types::{
    InferenceSpecification, ModelApprovalStatus, ModelPackageContainerDefinition, ModelPackageSortBy, OutputDataConfig,
    S3DataType, SortOrder, Tag as SdkTag, TrainingJobStatus,
};
use modelwatch_core::ports::{PortError, PortErrorKind};
use modelwatch_core::retrain::clone;
use modelwatch_core::retrain::history::JobStatus;
use modelwatch_core::retrain::lifecycle::{
    Approval, ModelPort, NewModel, PackageView, RegisterRequest, RegistryPort, ServingModel, TrainingJobView,
    TrainingPort, TrainingRequest,
};
use modelwatch_core::retrain::naming::Tag;
use tokio::runtime::Handle;

use crate::error::port_error;
use crate::sagemaker::{describe_error, is_missing};

/// Seconds in an hour, for `BillableTimeInSeconds` in training hours.
const SECONDS_PER_HOUR: f64 = 3600.0;

fn count(v: Option<i32>) -> Option<u32> {
    v.and_then(|c| u32::try_from(c).ok())
}

/// The core's tags as SageMaker's `Tags` (none: not sent).
fn sdk_tags(tags: &[Tag]) -> Option<Vec<SdkTag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|t| SdkTag::builder().key(&t.key).value(&t.value).build())
            .collect()
    })
}

/// SageMaker's tags as the core's (a tag without a key is dropped; a missing value is empty).
fn core_tags(tags: &[SdkTag]) -> Vec<Tag> {
    tags.iter()
        .filter_map(|t| {
            Some(Tag {
                key: t.key()?.to_owned(),
                value: t.value().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

// ----------------------------------------------------------------------------------------------------------
// Training

/// The core's status of a `TrainingJobStatus`: `Stopping` is still in progress; `Deleting` (only an ended job
/// can be deleted, and its outcome is no longer known) counts as `Stopped`, so nothing registers it. A status
/// this SDK does not know, or none, is taken as in progress: the job is looked at again later.
pub fn job_status(status: Option<&TrainingJobStatus>) -> JobStatus {
    match status {
        Some(TrainingJobStatus::Completed) => JobStatus::Completed,
        Some(TrainingJobStatus::Failed) => JobStatus::Failed,
        Some(TrainingJobStatus::Stopped | TrainingJobStatus::Deleting) => JobStatus::Stopped,
        _ => JobStatus::InProgress,
    }
}

/// The instances a job runs on: `ResourceConfig.InstanceCount`, or the sum of a heterogeneous cluster's
/// `InstanceGroups`; 1 when the description names neither (serverless jobs).
fn instance_count(out: &DescribeTrainingJobOutput) -> u32 {
    let Some(r) = out.resource_config() else {
        return 1;
    };
    count(r.instance_count())
        .filter(|c| *c > 0)
        .or_else(|| {
            let groups: u32 = r
                .instance_groups()
                .iter()
                .filter_map(|g| count(g.instance_count()))
                .sum();
            (groups > 0).then_some(groups)
        })
        .unwrap_or(1)
}

/// Instance hours of a job: `BillableTimeInSeconds` (or `TrainingTimeInSeconds` when not billed yet) times the
/// instance count, over 3,600. `None` while neither is known (a job in progress).
pub fn job_hours(out: &DescribeTrainingJobOutput) -> Option<f64> {
    let seconds = out.billable_time_in_seconds().or(out.training_time_in_seconds())?;
    Some(f64::from(seconds.max(0)) * f64::from(instance_count(out)) / SECONDS_PER_HOUR)
}

/// The core's view of a `DescribeTrainingJob` answer, with the job's tags (from `ListTags`).
pub fn training_job_view(name: &str, out: &DescribeTrainingJobOutput, tags: Vec<Tag>) -> TrainingJobView {
    TrainingJobView {
        name: out.training_job_name().unwrap_or(name).to_owned(),
        status: job_status(out.training_job_status()),
        failure_reason: out.failure_reason().map(str::to_owned),
        hours: job_hours(out),
        model_artifacts: out
            .model_artifacts()
            .and_then(|a| a.s3_model_artifacts())
            .map(str::to_owned),
        final_metrics: out
            .final_metric_data_list()
            .iter()
            .filter_map(|m| Some((m.metric_name()?.to_owned(), f64::from(m.value()?))))
            .collect(),
        tags,
    }
}

/// The `CreateTrainingJob` request of `request`: the template's algorithm, hyperparameters, channels, output,
/// resources, VPC, stopping condition, isolation and encryption flags, managed spot, checkpoints, environment
/// and retry strategy, with the request's name, role and tags, its data in the channel it names and its output
/// path (when given). Debugger, profiler, TensorBoard and experiment settings are the service's defaults.
///
/// What the new job must not inherit is the core's rule ([`modelwatch_core::retrain::clone`]): no metric
/// definitions for a built-in algorithm (which `CreateTrainingJob` refuses), and the checkpoint location and the
/// SDK's `model_dir` and `sagemaker_job_name` hyperparameters moved from the template job to the new one.
///
/// # Errors
///
/// A [`PortError`] when the template has no channel of that name, or the channel does not read from S3.
pub fn clone_training_job(
    template: &DescribeTrainingJobOutput,
    request: &TrainingRequest,
) -> Result<CreateTrainingJobInput, PortError> {
    let fail = |message: String| {
        PortError::new(
            "cloning training job",
            request.template_job.clone(),
            PortErrorKind::Other,
            message,
        )
    };
    let mut channels = template.input_data_config().to_vec();
    channels.retain(|c| {
        !c.channel_name()
            .is_some_and(|n| request.drop_channels.iter().any(|d| d == n))
    });
    let Some(channel) = channels
        .iter_mut()
        .find(|c| c.channel_name() == Some(request.channel.as_str()))
    else {
        let names: Vec<&str> = template
            .input_data_config()
            .iter()
            .filter_map(|c| c.channel_name())
            .collect();
        return Err(fail(format!(
            "it has no input channel {} (its channels: {})",
            request.channel,
            names.join(", ")
        )));
    };
    let Some(s3) = channel.data_source.as_mut().and_then(|d| d.s3_data_source.as_mut()) else {
        return Err(fail(format!(
            "its input channel {} does not read from S3",
            request.channel
        )));
    };
    s3.s3_uri = Some(request.data_s3_uri.clone());
    // The labelled captures: the replaced channel's settings (content type, compression, input mode), reading a
    // manifest of the files instead of a prefix.
    if let Some(extra) = &request.manifest_channel {
        let mut copy = channel.clone();
        copy.channel_name = Some(extra.name.clone());
        if let Some(s3) = copy.data_source.as_mut().and_then(|d| d.s3_data_source.as_mut()) {
            s3.s3_uri = Some(extra.manifest_uri.clone());
            s3.s3_data_type = Some(S3DataType::ManifestFile);
        }
        channels.push(copy);
    }
    let output = match (template.output_data_config().cloned(), &request.output_s3_uri) {
        (Some(mut o), Some(uri)) => {
            o.s3_output_path = Some(uri.clone());
            Some(o)
        }
        (None, Some(uri)) => Some(OutputDataConfig::builder().s3_output_path(uri).build()),
        (o, None) => o,
    };
    let (from, to) = (request.template_job.as_str(), request.job_name.as_str());
    let hyper_parameters = template
        .hyper_parameters
        .as_ref()
        .map(|h| clone::clone_hyperparameters(h, from, to));
    let mut algorithm = template.algorithm_specification().cloned();
    if let Some(a) = algorithm.as_mut() {
        let image = a.training_image().unwrap_or_default();
        if clone::is_built_in_algorithm(image, template.hyper_parameters.as_ref().unwrap_or(&HashMap::new())) {
            a.metric_definitions = None;
        }
    }
    let mut checkpoint = template.checkpoint_config().cloned();
    if let Some(c) = checkpoint.as_mut() {
        c.s3_uri = c.s3_uri.as_deref().map(|uri| clone::job_uri(uri, from, to));
    }
    CreateTrainingJobInput::builder()
        .training_job_name(&request.job_name)
        .role_arn(&request.role_arn)
        .set_algorithm_specification(algorithm)
        .set_hyper_parameters(hyper_parameters)
        .set_input_data_config(Some(channels))
        .set_output_data_config(output)
        .set_resource_config(template.resource_config().cloned())
        .set_vpc_config(template.vpc_config().cloned())
        .set_stopping_condition(template.stopping_condition().cloned())
        .set_enable_network_isolation(template.enable_network_isolation())
        .set_enable_inter_container_traffic_encryption(template.enable_inter_container_traffic_encryption())
        .set_enable_managed_spot_training(template.enable_managed_spot_training())
        .set_checkpoint_config(checkpoint)
        .set_environment(template.environment.clone())
        .set_retry_strategy(template.retry_strategy().cloned())
        .set_tags(sdk_tags(&request.tags))
        .build()
        .map_err(|e| {
            PortError::new(
                "cloning training job",
                request.job_name.clone(),
                PortErrorKind::Other,
                e,
            )
        })
}

// ----------------------------------------------------------------------------------------------------------
// Registry

/// The `CreateModelPackage` request of `request`: a version in its group, with its idempotency token, approval
/// status, description, metadata and one inference container (image and model data). Content types are sent
/// only when given (both lists are optional in the API).
///
/// # Errors
///
/// A [`PortError`] when the SDK refuses to build the request.
pub fn register_input(request: &RegisterRequest) -> Result<CreateModelPackageInput, PortError> {
    let non_empty = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    let spec = InferenceSpecification::builder()
        .containers(
            ModelPackageContainerDefinition::builder()
                .image(&request.image)
                .model_data_url(&request.model_data_url)
                .build(),
        )
        .set_supported_content_types(non_empty(&request.content_types))
        .set_supported_response_mime_types(non_empty(&request.response_types))
        .build();
    let metadata: Option<HashMap<String, String>> =
        (!request.metadata.is_empty()).then(|| request.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    CreateModelPackageInput::builder()
        .model_package_group_name(&request.group)
        .client_token(&request.client_token)
        .model_package_description(&request.description)
        .model_approval_status(ModelApprovalStatus::from(request.approval.as_str()))
        .set_customer_metadata_properties(metadata)
        .inference_specification(spec)
        .build()
        .map_err(|e| {
            PortError::new(
                "building model package request",
                request.group.clone(),
                PortErrorKind::Other,
                e,
            )
        })
}

/// The core's view of a `DescribeModelPackage` answer. The approval status defaults to
/// `PendingManualApproval` when missing or unknown (nothing deploys it); an unversioned package (not in a group)
/// has version 0. The image and model data are the first inference container's.
pub fn package_view(arn: &str, out: &DescribeModelPackageOutput) -> PackageView {
    let container = out.inference_specification().and_then(|s| s.containers().first());
    PackageView {
        arn: out.model_package_arn().unwrap_or(arn).to_owned(),
        group: out.model_package_group_name().unwrap_or_default().to_owned(),
        version: count(out.model_package_version()).unwrap_or(0),
        approval: out
            .model_approval_status()
            .and_then(|s| Approval::parse(s.as_str()))
            .unwrap_or(Approval::PendingManualApproval),
        image: container.and_then(|c| c.image()).map(str::to_owned),
        model_data_url: container.and_then(|c| c.model_data_url()).map(str::to_owned),
        metadata: out
            .customer_metadata_properties()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

// ----------------------------------------------------------------------------------------------------------
// Models

/// The core's view of a `DescribeModel` answer: its primary container's image, or its first container's.
pub fn serving_model(name: &str, out: &DescribeModelOutput) -> ServingModel {
    let container = out.primary_container().or(out.containers().first());
    ServingModel {
        name: out.model_name().unwrap_or(name).to_owned(),
        image: container.and_then(|c| c.image()).map(str::to_owned),
        environment: container
            .and_then(|c| c.environment())
            .map(|e| e.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        model_data_url: container.and_then(|c| c.model_data_url()).map(str::to_owned),
    }
}

/// The `CreateModel` request of `m`: `source`'s container (environment, mode, image and multi-model config,
/// host name, additional data sources) with `m`'s image and model data, `m`'s execution role and tags, and
/// `source`'s VPC and network isolation. The container's `ModelDataSource` is cleared (it conflicts with
/// `ModelDataUrl`), and so are `ModelPackageName` and `InferenceSpecificationName` (they conflict with `Image`).
/// A model given as a `Containers` list of one is copied as that one container.
///
/// # Errors
///
/// A [`PortError`] when `source` has no container, or several (an inference pipeline: not supported).
pub fn copy_model(source: &DescribeModelOutput, m: &NewModel) -> Result<CreateModelInput, PortError> {
    let fail = |message: String| PortError::new("copying model", m.source.clone(), PortErrorKind::Other, message);
    let mut container = match (source.primary_container(), source.containers()) {
        (Some(c), _) | (None, [c]) => c.clone(),
        (None, []) => return Err(fail("it has no container".to_owned())),
        (None, many) => {
            return Err(fail(format!(
                "it is a multi-container model ({} containers): only single-container models can be copied",
                many.len()
            )));
        }
    };
    container.image = Some(m.image.clone());
    container.model_data_url = Some(m.model_data_url.clone());
    container.model_data_source = None;
    container.model_package_name = None;
    container.inference_specification_name = None;
    CreateModelInput::builder()
        .model_name(&m.name)
        .primary_container(container)
        .execution_role_arn(&m.role_arn)
        .set_vpc_config(source.vpc_config().cloned())
        .set_enable_network_isolation(source.enable_network_isolation())
        .set_tags(sdk_tags(&m.tags))
        .build()
        .map_err(|e| PortError::new("copying model", m.name.clone(), PortErrorKind::Other, e))
}

// ----------------------------------------------------------------------------------------------------------
// The adapter

/// SageMaker training jobs, model registry and models for the retraining loop, blocking on a runtime handle
/// (call from a blocking thread).
pub struct SageMakerRetrain {
    client: Client,
    handle: Handle,
}

impl SageMakerRetrain {
    /// The adapter over `client`, blocking on `handle`.
    pub fn new(client: Client, handle: Handle) -> Self {
        Self { client, handle }
    }

    fn describe_training_job(&self, name: &str) -> Result<Option<DescribeTrainingJobOutput>, PortError> {
        match self
            .handle
            .block_on(self.client.describe_training_job().training_job_name(name).send())
        {
            Ok(out) => Ok(Some(out)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(port_error("describing training job", name, e)),
        }
    }

    /// Every tag of a resource, following `ListTags`' pages.
    fn list_tags(&self, arn: &str) -> Result<Vec<Tag>, PortError> {
        let mut tags = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .handle
                .block_on(
                    self.client
                        .list_tags()
                        .resource_arn(arn)
                        .set_next_token(token.take())
                        .send(),
                )
                .map_err(|e| port_error("listing the tags of", arn, e))?;
            tags.extend(core_tags(page.tags()));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(tags),
            }
        }
    }

    fn describe_model_output(&self, name: &str) -> Result<DescribeModelOutput, PortError> {
        self.handle
            .block_on(self.client.describe_model().model_name(name).send())
            .map_err(|e| describe_error("describing model", name, e))
    }
}

impl TrainingPort for SageMakerRetrain {
    fn describe_job(&self, name: &str) -> Result<Option<TrainingJobView>, PortError> {
        let Some(out) = self.describe_training_job(name)? else {
            return Ok(None);
        };
        let arn = out.training_job_arn().ok_or_else(|| {
            PortError::new(
                "describing training job",
                name,
                PortErrorKind::Other,
                "the description has no TrainingJobArn",
            )
        })?;
        let tags = self.list_tags(arn)?;
        Ok(Some(training_job_view(name, &out, tags)))
    }

    fn create_job(&self, request: &TrainingRequest) -> Result<(), PortError> {
        let template = self.describe_training_job(&request.template_job)?.ok_or_else(|| {
            PortError::new(
                "describing training job",
                request.template_job.clone(),
                PortErrorKind::NotFound,
                "the template training job does not exist",
            )
        })?;
        let input = clone_training_job(&template, request)?;
        let call = self
            .client
            .create_training_job()
            .set_training_job_name(input.training_job_name)
            .set_role_arn(input.role_arn)
            .set_algorithm_specification(input.algorithm_specification)
            .set_hyper_parameters(input.hyper_parameters)
            .set_input_data_config(input.input_data_config)
            .set_output_data_config(input.output_data_config)
            .set_resource_config(input.resource_config)
            .set_vpc_config(input.vpc_config)
            .set_stopping_condition(input.stopping_condition)
            .set_enable_network_isolation(input.enable_network_isolation)
            .set_enable_inter_container_traffic_encryption(input.enable_inter_container_traffic_encryption)
            .set_enable_managed_spot_training(input.enable_managed_spot_training)
            .set_checkpoint_config(input.checkpoint_config)
            .set_environment(input.environment)
            .set_retry_strategy(input.retry_strategy)
            .set_tags(input.tags);
        self.handle
            .block_on(call.send())
            .map_err(|e| port_error("creating training job", request.job_name.clone(), e))?;
        Ok(())
    }
}

impl RegistryPort for SageMakerRetrain {
    fn register(&self, request: &RegisterRequest) -> Result<String, PortError> {
        let input = register_input(request)?;
        let call = self
            .client
            .create_model_package()
            .set_model_package_group_name(input.model_package_group_name)
            .set_client_token(input.client_token)
            .set_model_package_description(input.model_package_description)
            .set_model_approval_status(input.model_approval_status)
            .set_customer_metadata_properties(input.customer_metadata_properties)
            .set_inference_specification(input.inference_specification);
        let out = self
            .handle
            .block_on(call.send())
            .map_err(|e| port_error("creating a model package in", request.group.clone(), e))?;
        out.model_package_arn().map(str::to_owned).ok_or_else(|| {
            PortError::new(
                "creating a model package in",
                request.group.clone(),
                PortErrorKind::Other,
                "the answer has no ModelPackageArn",
            )
        })
    }

    fn describe_package(&self, arn: &str) -> Result<PackageView, PortError> {
        let out = self
            .handle
            .block_on(self.client.describe_model_package().model_package_name(arn).send())
            .map_err(|e| describe_error("describing model package", arn, e))?;
        Ok(package_view(arn, &out))
    }

    fn latest_approved(&self, group: &str) -> Result<Option<PackageView>, PortError> {
        let out = self
            .handle
            .block_on(
                self.client
                    .list_model_packages()
                    .model_package_group_name(group)
                    .model_approval_status(ModelApprovalStatus::Approved)
                    .sort_by(ModelPackageSortBy::CreationTime)
                    .sort_order(SortOrder::Descending)
                    .max_results(1)
                    .send(),
            )
            .map_err(|e| port_error("listing the approved model packages of", group, e))?;
        match out
            .model_package_summary_list()
            .first()
            .and_then(|s| s.model_package_arn())
        {
            Some(arn) => self.describe_package(arn).map(Some),
            None => Ok(None),
        }
    }
}

impl ModelPort for SageMakerRetrain {
    fn describe_model(&self, name: &str) -> Result<ServingModel, PortError> {
        let model = self.describe_model_output(name)?;
        Ok(serving_model(name, &model))
    }

    fn create_model(&self, model: &NewModel) -> Result<(), PortError> {
        let source = self.describe_model_output(&model.source)?;
        let input = copy_model(&source, model)?;
        let call = self
            .client
            .create_model()
            .set_model_name(input.model_name)
            .set_primary_container(input.primary_container)
            .set_execution_role_arn(input.execution_role_arn)
            .set_vpc_config(input.vpc_config)
            .set_enable_network_isolation(input.enable_network_isolation)
            .set_tags(input.tags);
        self.handle
            .block_on(call.send())
            .map_err(|e| port_error("creating model", model.name.clone(), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_sdk_sagemaker::types::{
        Channel, ContainerDefinition, ContainerMode, DataSource, FileSystemDataSource, MetricData, ModelArtifacts,
        ResourceConfig, S3DataType, TrainingInstanceType, VpcConfig,
    };

    use super::*;
    use crate::testing::{s3_channel, template_job};

    /// The shared template job with what a finished job adds: a file-system channel, a KMS key, two instances,
    /// managed spot, an environment, its times, model and metrics.
    fn template() -> DescribeTrainingJobOutput {
        let mut t = template_job("template", "s3://data", "s3://out/old/");
        t.input_data_config.get_or_insert_default().push(
            Channel::builder()
                .channel_name("fsx")
                .data_source(
                    DataSource::builder()
                        .file_system_data_source(FileSystemDataSource::builder().directory_path("/x").build())
                        .build(),
                )
                .build(),
        );
        t.output_data_config = Some(
            OutputDataConfig::builder()
                .s3_output_path("s3://out/old/")
                .kms_key_id("key")
                .build(),
        );
        t.resource_config = Some(
            ResourceConfig::builder()
                .instance_type(TrainingInstanceType::MlM5Xlarge)
                .instance_count(2)
                .volume_size_in_gb(30)
                .build(),
        );
        t.enable_managed_spot_training = Some(true);
        t.environment = Some([("MODE".to_owned(), "prod".to_owned())].into());
        t.billable_time_in_seconds = Some(1800);
        t.training_time_in_seconds = Some(3600);
        t.model_artifacts = Some(
            ModelArtifacts::builder()
                .s3_model_artifacts("s3://out/old/model.tar.gz")
                .build(),
        );
        t.final_metric_data_list = Some(vec![
            MetricData::builder().metric_name("validation:auc").value(0.875).build(),
        ]);
        t
    }

    fn request() -> TrainingRequest {
        TrainingRequest {
            job_name: "churn-rt-20240117-120000".into(),
            template_job: "template".into(),
            channel: "train".into(),
            data_s3_uri: "s3://data/2024-01-17/".into(),
            role_arn: "arn:aws:iam::000000000000:role/training".into(),
            output_s3_uri: Some("s3://out/new/".into()),
            tags: vec![Tag {
                key: "modelwatch:model".into(),
                value: "churn".into(),
            }],
            manifest_channel: None,
            drop_channels: Vec::new(),
        }
    }

    #[test]
    fn an_earlier_jobs_manifest_channel_is_replaced_not_repeated() {
        let mut template = template();
        let captured = s3_channel("captured", "s3://l/_manifests/old.json");
        template.input_data_config = Some([template.input_data_config().to_vec(), vec![captured]].concat());
        let mut r = request();
        r.drop_channels = vec!["captured".into()];
        let names = |r: &TrainingRequest| -> Vec<String> {
            clone_training_job(&template, r)
                .unwrap()
                .input_data_config()
                .iter()
                .filter_map(|c| c.channel_name().map(str::to_owned))
                .collect()
        };
        assert!(
            !names(&r).contains(&"captured".to_owned()),
            "no files this time: no channel"
        );
        r.manifest_channel = Some(modelwatch_core::retrain::lifecycle::ManifestChannel {
            name: "captured".into(),
            manifest_uri: "s3://l/_manifests/new.json".into(),
        });
        let input = clone_training_job(&template, &r).unwrap();
        let captured: Vec<_> = input
            .input_data_config()
            .iter()
            .filter(|c| c.channel_name() == Some("captured"))
            .collect();
        assert_eq!(captured.len(), 1);
        let uri = captured[0].data_source().unwrap().s3_data_source().unwrap().s3_uri();
        assert_eq!(uri, Some("s3://l/_manifests/new.json"));
    }

    #[test]
    fn the_labelled_captures_are_a_manifest_channel_like_the_replaced_one() {
        let mut r = request();
        r.manifest_channel = Some(modelwatch_core::retrain::lifecycle::ManifestChannel {
            name: "captured".into(),
            manifest_uri: "s3://l/_manifests/job.json".into(),
        });
        let input = clone_training_job(&template(), &r).unwrap();
        let channels = input.input_data_config();
        let train = channels.iter().find(|c| c.channel_name() == Some("train")).unwrap();
        let captured = channels.last().unwrap();
        assert_eq!(captured.channel_name(), Some("captured"));
        let s3 = captured.data_source().unwrap().s3_data_source().unwrap();
        assert_eq!(s3.s3_uri(), Some("s3://l/_manifests/job.json"));
        assert_eq!(s3.s3_data_type(), Some(&S3DataType::ManifestFile));
        assert_eq!(captured.content_type(), train.content_type());
        assert_eq!(
            train.data_source().unwrap().s3_data_source().unwrap().s3_data_type(),
            Some(&S3DataType::S3Prefix),
            "the replaced channel still reads its prefix"
        );
    }

    #[test]
    fn the_clone_replaces_the_channel_role_output_and_tags_and_keeps_the_rest() {
        let input = clone_training_job(&template(), &request()).unwrap();
        assert_eq!(input.training_job_name(), Some("churn-rt-20240117-120000"));
        assert_eq!(input.role_arn(), Some("arn:aws:iam::000000000000:role/training"));
        let uris: Vec<Option<&str>> = input
            .input_data_config()
            .iter()
            .map(|c| {
                c.data_source()
                    .and_then(|d| d.s3_data_source())
                    .and_then(|s| s.s3_uri())
            })
            .collect();
        assert_eq!(
            uris,
            vec![Some("s3://data/2024-01-17/"), Some("s3://data/validation/"), None]
        );
        assert_eq!(input.input_data_config()[0].content_type(), Some("text/csv"));
        let out = input.output_data_config().unwrap();
        assert_eq!(
            (out.s3_output_path(), out.kms_key_id()),
            (Some("s3://out/new/"), Some("key"))
        );
        assert_eq!(input.resource_config(), template().resource_config());
        assert_eq!(input.algorithm_specification(), template().algorithm_specification());
        assert_eq!(input.hyper_parameters().unwrap()["num_round"], "100");
        assert_eq!(input.environment().unwrap()["MODE"], "prod");
        assert_eq!(input.enable_managed_spot_training(), Some(true));
        let tags: Vec<(Option<&str>, Option<&str>)> = input.tags().iter().map(|t| (t.key(), t.value())).collect();
        assert_eq!(tags, vec![(Some("modelwatch:model"), Some("churn"))]);

        let mut keep_output = request();
        keep_output.output_s3_uri = None;
        let input = clone_training_job(&template(), &keep_output).unwrap();
        assert_eq!(
            input.output_data_config().unwrap().s3_output_path(),
            Some("s3://out/old/")
        );
    }

    #[test]
    fn the_clone_does_not_inherit_built_in_metric_definitions_or_the_templates_locations() {
        use aws_sdk_sagemaker::types::{AlgorithmSpecification, CheckpointConfig, MetricDefinition, TrainingInputMode};
        let with_image = |image: &str| {
            let mut t = template();
            t.algorithm_specification = Some(
                AlgorithmSpecification::builder()
                    .training_image(image)
                    .training_input_mode(TrainingInputMode::File)
                    .metric_definitions(
                        MetricDefinition::builder()
                            .name("validation:auc")
                            .regex(".*\\[[0-9]+\\].*#011validation-auc:([-+]?[0-9]*\\.?[0-9]+)")
                            .build(),
                    )
                    .build(),
            );
            t.checkpoint_config = Some(CheckpointConfig::builder().s3_uri("s3://ck/template/").build());
            t.hyper_parameters = Some(
                [
                    ("sagemaker_job_name", "\"template\""),
                    ("model_dir", "\"s3://out/template/model\""),
                    ("num_round", "100"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            );
            t
        };
        let built_in = with_image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1");
        let input = clone_training_job(&built_in, &request()).unwrap();
        let algorithm = input.algorithm_specification().unwrap();
        assert!(
            algorithm.metric_definitions().is_empty(),
            "refused by CreateTrainingJob for built-ins"
        );
        assert_eq!(
            input.checkpoint_config().unwrap().s3_uri(),
            Some("s3://ck/churn-rt-20240117-120000/")
        );
        let hp = input.hyper_parameters().unwrap();
        assert_eq!(hp["model_dir"], "\"s3://out/churn-rt-20240117-120000/model\"");
        assert_eq!(hp["sagemaker_job_name"], "\"churn-rt-20240117-120000\"");
        assert_eq!(hp["num_round"], "100");
        let custom = with_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/churn:3");
        let input = clone_training_job(&custom, &request()).unwrap();
        assert_eq!(
            input.algorithm_specification().unwrap().metric_definitions().len(),
            1,
            "a custom container needs its metric definitions"
        );
    }

    #[test]
    fn a_missing_or_non_s3_channel_is_an_error() {
        let mut missing = request();
        missing.channel = "training".into();
        let e = clone_training_job(&template(), &missing).unwrap_err();
        assert_eq!((e.kind, e.resource.as_str()), (PortErrorKind::Other, "template"));
        let text = e.source.unwrap().to_string();
        assert!(
            text.contains("no input channel training") && text.contains("train, validation, fsx"),
            "{text}"
        );
        let mut fsx = request();
        fsx.channel = "fsx".into();
        let e = clone_training_job(&template(), &fsx).unwrap_err();
        assert!(e.source.unwrap().to_string().contains("does not read from S3"));
    }

    #[test]
    fn the_view_of_a_job() {
        let view = training_job_view("template", &template(), vec![]);
        assert_eq!(view.status, JobStatus::Completed);
        // Billable time (not training time) times two instances.
        assert_eq!(view.hours, Some(1.0));
        assert_eq!(view.model_artifacts.as_deref(), Some("s3://out/old/model.tar.gz"));
        assert_eq!(view.final_metrics["validation:auc"], 0.875);
        let running = DescribeTrainingJobOutput::builder()
            .training_job_status(TrainingJobStatus::Stopping)
            .build();
        let view = training_job_view("j", &running, vec![]);
        assert_eq!(
            (view.name.as_str(), view.status, view.hours),
            ("j", JobStatus::InProgress, None)
        );
        assert_eq!(job_status(Some(&TrainingJobStatus::Deleting)), JobStatus::Stopped);
    }

    fn source_model() -> DescribeModelOutput {
        DescribeModelOutput::builder()
            .model_name("churn-v1")
            .primary_container(
                ContainerDefinition::builder()
                    .image("000000000000.dkr.ecr.eu-west-1.amazonaws.com/serve:1")
                    .model_data_url("s3://out/old/model.tar.gz")
                    .mode(ContainerMode::SingleModel)
                    .environment("SAGEMAKER_PROGRAM", "inference.py")
                    .environment("THREADS", "4")
                    .build(),
            )
            .execution_role_arn("arn:aws:iam::000000000000:role/old-model")
            .vpc_config(
                VpcConfig::builder()
                    .security_group_ids("sg-1")
                    .subnets("subnet-1")
                    .build(),
            )
            .enable_network_isolation(true)
            .build()
    }

    fn new_model() -> NewModel {
        NewModel {
            name: "churn-v2-20240117120000".into(),
            source: "churn-v1".into(),
            image: "000000000000.dkr.ecr.eu-west-1.amazonaws.com/serve:2".into(),
            model_data_url: "s3://out/new/model.tar.gz".into(),
            role_arn: "arn:aws:iam::000000000000:role/model".into(),
            tags: vec![Tag {
                key: "modelwatch:version".into(),
                value: "2".into(),
            }],
        }
    }

    #[test]
    fn the_model_copy_replaces_image_and_data_and_keeps_the_environment() {
        let input = copy_model(&source_model(), &new_model()).unwrap();
        assert_eq!(input.model_name(), Some("churn-v2-20240117120000"));
        let c = input.primary_container().unwrap();
        assert_eq!(c.image(), Some("000000000000.dkr.ecr.eu-west-1.amazonaws.com/serve:2"));
        assert_eq!(c.model_data_url(), Some("s3://out/new/model.tar.gz"));
        assert_eq!(c.mode(), Some(&ContainerMode::SingleModel));
        let env = c.environment().unwrap();
        assert_eq!(
            (env["SAGEMAKER_PROGRAM"].as_str(), env["THREADS"].as_str()),
            ("inference.py", "4")
        );
        assert_eq!(input.execution_role_arn(), Some("arn:aws:iam::000000000000:role/model"));
        assert_eq!(input.vpc_config(), source_model().vpc_config());
        assert_eq!(input.enable_network_isolation(), Some(true));
        assert_eq!(input.tags()[0].key(), Some("modelwatch:version"));
        assert!(input.containers().is_empty());
    }

    #[test]
    fn a_multi_container_model_is_not_copied_and_a_list_of_one_is() {
        let container = |image: &str| ContainerDefinition::builder().image(image).build();
        let pipeline = DescribeModelOutput::builder()
            .model_name("pipeline")
            .containers(container("a"))
            .containers(container("b"))
            .build();
        let e = copy_model(&pipeline, &new_model()).unwrap_err();
        assert_eq!(e.kind, PortErrorKind::Other);
        assert!(
            e.source
                .unwrap()
                .to_string()
                .contains("multi-container model (2 containers)")
        );
        let one = DescribeModelOutput::builder()
            .model_name("one")
            .containers(container("a"))
            .build();
        let input = copy_model(&one, &new_model()).unwrap();
        assert_eq!(
            input.primary_container().unwrap().image(),
            Some(new_model().image.as_str())
        );
        assert_eq!(serving_model("one", &one).image.as_deref(), Some("a"));
    }

    #[test]
    fn registration_and_package_views() {
        let request = RegisterRequest {
            group: "churn".into(),
            client_token: "0123abcd".into(),
            image: "img".into(),
            model_data_url: "s3://out/new/model.tar.gz".into(),
            approval: Approval::PendingManualApproval,
            description: "Retrained".into(),
            metadata: BTreeMap::from([("modelwatch:training-job".to_owned(), "job".to_owned())]),
            content_types: vec!["text/csv".into()],
            response_types: vec![],
        };
        let input = register_input(&request).unwrap();
        assert_eq!(input.model_package_group_name(), Some("churn"));
        assert_eq!(input.client_token(), Some("0123abcd"));
        assert_eq!(
            input.model_approval_status(),
            Some(&ModelApprovalStatus::PendingManualApproval)
        );
        let spec = input.inference_specification().unwrap();
        assert_eq!(spec.containers()[0].model_data_url(), Some("s3://out/new/model.tar.gz"));
        assert_eq!(spec.supported_content_types(), ["text/csv"]);
        assert!(spec.supported_response_mime_types.is_none());
        assert_eq!(
            input.customer_metadata_properties().unwrap()["modelwatch:training-job"],
            "job"
        );

        let out = DescribeModelPackageOutput::builder()
            .model_package_group_name("churn")
            .model_package_version(3)
            .model_approval_status(ModelApprovalStatus::from("SomethingNew"))
            .build();
        let view = package_view("arn:pkg/churn/3", &out);
        assert_eq!(
            (view.arn.as_str(), view.version, view.approval),
            ("arn:pkg/churn/3", 3, Approval::PendingManualApproval)
        );
        assert_eq!((view.image, view.model_data_url), (None, None));
    }
}
