//! Registration: a training job followed to its end (status and hours recorded in the model's history), and
//! once `Completed`, its model registered as a new version of the model's package group, approved or not by
//! [`decide_approval`]. `CreateModelPackage` carries an idempotency token
//! derived from the job, and the package's ARN is recorded, so a job registers once.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::history::{JobStatus, RetrainHistory};
use super::naming::client_token;
use super::ports::{
    Approval, Context, LifecycleError, RegisterRequest, RetrainPorts, history_key, read, serving_model, update,
};
use super::settings::RetrainSettings;
use super::verdicts::decide_approval;

/// A launch recorded but unknown to SageMaker is judged never created only after this long: longer than a Lambda
/// invocation (15 minutes), so a handler between its record and its `CreateTrainingJob` is not overtaken.
pub const LAUNCH_GRACE_MINUTES: i64 = 20;
/// `ModelPackageDescription`: at most 1,024 characters (SageMaker API Reference, CreateModelPackage).
pub const MAX_PACKAGE_DESCRIPTION: usize = 1024;
/// The metadata key prefix of the model packages this module registers (`CustomerMetadataProperties` keys:
/// 1 to 128 characters, `^([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)$`).
pub const METADATA_PREFIX: &str = "modelwatch:";

/// The metadata key of a final metric.
pub fn metric_key(metric: &str) -> String {
    format!("{METADATA_PREFIX}metric:{metric}")
}

/// What became of a training job's event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainingReport {
    /// Not a job this model launched.
    NotOurs { job_name: String },
    /// Still running (status recorded).
    Running { job_name: String },
    /// Ended without a model (status and hours recorded).
    Ended {
        job_name: String,
        status: JobStatus,
        failure: Option<String>,
    },
    /// Completed and registered (now or before).
    Registered {
        job_name: String,
        model_package: String,
        approval: Approval,
        why: String,
    },
}

/// Follows a training job: records its status and hours; once `Completed`, registers its model as a new version
/// of the model's group (once: the package ARN is recorded, and the call carries a token derived from the job).
///
/// # Errors
///
/// A [`LifecycleError`] when the state or SageMaker cannot be reached.
pub fn on_training_job(
    ports: &RetrainPorts<'_>,
    settings: &RetrainSettings,
    ctx: &Context,
    job_name: &str,
    now: DateTime<Utc>,
) -> Result<TrainingReport, LifecycleError> {
    let key = history_key(&settings.policy.model);
    let Some((history, _)) = read::<RetrainHistory>(ports.state, &key)? else {
        return Ok(TrainingReport::NotOurs {
            job_name: job_name.to_owned(),
        });
    };
    let Some(record) = history.launches.iter().find(|l| l.job_name == job_name).cloned() else {
        return Ok(TrainingReport::NotOurs {
            job_name: job_name.to_owned(),
        });
    };
    let Some(job) = ports.training.describe_job(job_name)? else {
        // Recorded, never created: the launching handler stopped between its record and CreateTrainingJob. Once
        // no handler can still be about to create it, it is failed, so that it does not hold every launch.
        if now - record.at < Duration::minutes(LAUNCH_GRACE_MINUTES) {
            return Ok(TrainingReport::Running {
                job_name: job_name.to_owned(),
            });
        }
        let why = "never created: the launch was recorded but CreateTrainingJob was not called".to_owned();
        update(ports.state, &key, RetrainHistory::default, |h| {
            let Some(rec) = h.job_mut(job_name) else {
                return Ok(None);
            };
            if rec.status != JobStatus::InProgress {
                return Ok(None);
            }
            rec.status = JobStatus::Failed;
            rec.hours_used = Some(0.0);
            rec.failure = Some(why.clone());
            Ok(Some(()))
        })?;
        return Ok(TrainingReport::Ended {
            job_name: job_name.to_owned(),
            status: JobStatus::Failed,
            failure: Some(why),
        });
    };
    update(ports.state, &key, RetrainHistory::default, |h| {
        let changed = h
            .update_status(job_name, job.status, job.hours)
            .map_err(|e| LifecycleError::Refused(e.to_string()))?;
        let rec = h.job_mut(job_name).expect("just updated");
        let failure_changed = job.failure_reason.is_some() && rec.failure != job.failure_reason;
        if failure_changed {
            rec.failure = job.failure_reason.clone();
        }
        Ok((changed || failure_changed).then_some(()))
    })?;
    match job.status {
        JobStatus::InProgress => {
            return Ok(TrainingReport::Running {
                job_name: job_name.to_owned(),
            });
        }
        JobStatus::Failed | JobStatus::Stopped => {
            return Ok(TrainingReport::Ended {
                job_name: job_name.to_owned(),
                status: job.status,
                failure: job.failure_reason,
            });
        }
        JobStatus::Completed => {}
    }
    if let Some(arn) = &record.model_package {
        let p = ports.registry.describe_package(arn)?;
        return Ok(TrainingReport::Registered {
            job_name: job_name.to_owned(),
            model_package: arn.clone(),
            approval: p.approval,
            why: "registered before".to_owned(),
        });
    }
    let artifacts = job
        .model_artifacts
        .clone()
        .ok_or_else(|| LifecycleError::Refused(format!("training job {job_name} completed without ModelArtifacts")))?;
    let endpoint = ports.endpoints.describe_endpoint(&settings.endpoint)?;
    let serving = serving_model(ports, &endpoint.config_name, &settings.variant)?;
    let image = serving.image.clone().ok_or_else(|| {
        LifecycleError::Refused(format!(
            "model {} has no primary container image to reuse",
            serving.name
        ))
    })?;
    let group = settings.policy.model.clone();
    let current = ports.registry.latest_approved(&group)?;
    let current_value = settings.registration.metric.as_deref().and_then(|m| {
        current
            .as_ref()
            .and_then(|p| p.metadata.get(&metric_key(m)))
            .and_then(|v| v.parse::<f64>().ok())
    });
    let approval = decide_approval(&settings.registration, &job.final_metrics, current_value);
    let mut metadata = BTreeMap::new();
    metadata.insert(format!("{METADATA_PREFIX}training-job"), job_name.to_owned());
    metadata.insert(format!("{METADATA_PREFIX}endpoint"), settings.endpoint.clone());
    metadata.insert(format!("{METADATA_PREFIX}previous-model"), serving.name.clone());
    if !record.trigger.is_empty() {
        metadata.insert(format!("{METADATA_PREFIX}trigger"), record.trigger.clone());
    }
    if let Some(b) = &ctx.baseline_uri {
        metadata.insert(format!("{METADATA_PREFIX}baseline"), b.clone());
    }
    for (m, v) in &job.final_metrics {
        metadata.insert(metric_key(m), v.to_string());
    }
    let mut description = format!(
        "Retrained by modelwatch: job {job_name}, trigger {}. {}",
        if record.trigger.is_empty() {
            "-"
        } else {
            &record.trigger
        },
        approval.why
    );
    description.truncate(MAX_PACKAGE_DESCRIPTION);
    let request = RegisterRequest {
        group,
        client_token: client_token(job_name),
        image,
        model_data_url: artifacts,
        approval: approval.approval,
        description,
        metadata,
        content_types: settings.registration.content_types.clone(),
        response_types: settings.registration.response_types.clone(),
    };
    let arn = ports.registry.register(&request)?;
    update(ports.state, &key, RetrainHistory::default, |h| {
        let rec = h
            .job_mut(job_name)
            .ok_or_else(|| LifecycleError::Refused(format!("training job {job_name} left the history")))?;
        if rec.model_package.as_deref() == Some(arn.as_str()) {
            return Ok(None);
        }
        rec.model_package = Some(arn.clone());
        Ok(Some(()))
    })?;
    Ok(TrainingReport::Registered {
        job_name: job_name.to_owned(),
        model_package: arn,
        approval: approval.approval,
        why: approval.why,
    })
}
