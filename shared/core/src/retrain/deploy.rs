//! Deployment: an approved version deployed blue/green (a new Model, a copy of the endpoint's configuration
//! serving it, `UpdateEndpoint`), recorded in the endpoint's version history before `UpdateEndpoint` so a
//! repeated approval acts once; then the deployment followed to its end, as
//! [`judge_deployment`] reads it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::history::RetrainHistory;
use super::naming::{Tag, resource_name};
use super::ports::{
    Approval, Context, LifecycleError, NewModel, RetrainPorts, read, serving_model, update, versions_key,
};
use super::register::METADATA_PREFIX;
use super::settings::RetrainSettings;
use super::verdicts::judge_deployment;
use super::versions::{
    ChangeCause, Deployment, DeploymentRecord, DeploymentStatus, Outcome, PendingApproval, VersionHistory,
};
use crate::ports::{PortError, PortErrorKind, error_chain};
use crate::scaling::VariantStatus;
use crate::scaling::controller::{Deployment as DeploymentConfig, NewConfig, VariantOverride};

/// What became of a deployment request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeployOutcome {
    /// The package is not approved, or not this endpoint's model.
    Ignored { why: String },
    /// This version was deployed before (a repeated event): its record's status.
    AlreadyDeployed { version: String, status: DeploymentStatus },
    /// Not deployable as it is (the serving model's code would be lost); nothing is recorded.
    Refused { why: String },
    /// Not now: the endpoint is busy or another deployment has not ended. The approval is kept in the version
    /// history and deployed when the endpoint is next in service ([`deploy_pending`]).
    Waiting { version: String, why: String },
    /// `UpdateEndpoint` was called.
    Deploying {
        version: String,
        model_name: String,
        endpoint_config: String,
        deployment: DeploymentConfig,
    },
    /// A call failed; the deployment is recorded failed.
    Failed { version: String, error: String },
}

/// The endpoint's history with its first record: the configuration found serving, as version `initial`.
fn seed(history: &mut VersionHistory, config: &str, model: &str, now: DateTime<Utc>) {
    if !history.deployments.is_empty() {
        return;
    }
    let initial = Deployment {
        version: "initial".to_owned(),
        model_name: model.to_owned(),
        endpoint_config: config.to_owned(),
        at: now,
        cause: ChangeCause::Initial,
    };
    history
        .record_deployment(initial)
        .expect("an empty history takes a deployment");
    history
        .record_outcome(config, now, Outcome::Served)
        .expect("the deployment just recorded");
}

/// Deploys an approved version of the endpoint's model: a new Model (the serving model's container with the
/// version's model data), a copy of the endpoint's configuration with the variant on it (instance counts as the
/// scaler last set them), and `UpdateEndpoint` blue/green with the configured traffic shifting and the rollback
/// alarms. The version history records the deployment before `UpdateEndpoint`, so a repeated approval event
/// finds it and does nothing. Nothing is deleted: every model and configuration that served stays a rollback
/// target.
///
/// # Errors
///
/// A [`LifecycleError`] when the state or SageMaker cannot be reached.
pub fn deploy_package(
    ports: &RetrainPorts<'_>,
    settings: &RetrainSettings,
    ctx: &Context,
    package_arn: &str,
    now: DateTime<Utc>,
) -> Result<DeployOutcome, LifecycleError> {
    let package = ports.registry.describe_package(package_arn)?;
    if package.group != settings.policy.model {
        return Ok(DeployOutcome::Ignored {
            why: format!(
                "{package_arn} belongs to group {}, not {}",
                package.group, settings.policy.model
            ),
        });
    }
    if package.approval != Approval::Approved {
        return Ok(DeployOutcome::Ignored {
            why: format!("{package_arn} is {}", package.approval.as_str()),
        });
    }
    reconcile(ports, &settings.endpoint, now)?;
    let version = package.version.to_string();
    let endpoint = ports.endpoints.describe_endpoint(&settings.endpoint)?;
    let stamp = now.format("%Y%m%d%H%M%S").to_string();
    let model_name = resource_name(&settings.policy.model, &format!("v{version}-{stamp}"));
    let config_name = resource_name(&settings.endpoint, &format!("v{version}-{stamp}"));
    let serving = serving_model(ports, &endpoint.config_name, &settings.variant)?;
    let key = versions_key(&settings.endpoint);
    let mut early = None;
    let recorded = update(
        ports.state,
        &key,
        || VersionHistory::new(&settings.endpoint),
        |history| {
            // Any record of this version (deploying, serving, superseded, failed): an approval is acted on once;
            // a failed version is deployed again only by hand.
            if let Some(d) = history.deployments.iter().find(|d| d.version == version) {
                early = Some(DeployOutcome::AlreadyDeployed {
                    version: d.version.clone(),
                    status: d.status,
                });
                return Ok(None);
            }
            if let Some(why) = serving.code_in_model_data() {
                early = Some(DeployOutcome::Refused { why });
                return Ok(None);
            }
            let mut wait = |history: &mut VersionHistory, why: String| {
                let since = match &history.pending_approval {
                    Some(p) if p.package_arn == package_arn => p.since,
                    _ => now,
                };
                history.pending_approval = Some(PendingApproval {
                    package_arn: package_arn.to_owned(),
                    version: version.clone(),
                    since,
                    why: why.clone(),
                });
                early = Some(DeployOutcome::Waiting {
                    version: version.clone(),
                    why,
                });
                Ok(Some(()))
            };
            if endpoint.status != VariantStatus::InService {
                return wait(
                    history,
                    format!("endpoint {} is {}", settings.endpoint, endpoint.status_text),
                );
            }
            seed(history, &endpoint.config_name, &serving.name, now);
            let cause = ChangeCause::Retrained {
                training_job: package
                    .metadata
                    .get(&format!("{METADATA_PREFIX}training-job"))
                    .cloned()
                    .unwrap_or_default(),
                trigger: package
                    .metadata
                    .get(&format!("{METADATA_PREFIX}trigger"))
                    .cloned()
                    .unwrap_or_default(),
            };
            match history.record_deployment(Deployment {
                version: version.clone(),
                model_name: model_name.clone(),
                endpoint_config: config_name.clone(),
                at: now,
                cause,
            }) {
                Ok(()) => {
                    // The latest approval wins: a version deployed now supersedes any that was waiting.
                    history.pending_approval = None;
                    Ok(Some(()))
                }
                Err(e) => wait(history, e.to_string()),
            }
        },
    )?;
    if let Some(outcome) = early {
        return Ok(outcome);
    }
    debug_assert!(recorded.is_some(), "a deployment recorded");
    let fleet = endpoint.desired_count(&settings.variant).unwrap_or(1);
    let deployment = settings.deployment.deployment(&ctx.rollback_alarms, fleet);
    let result = (|| -> Result<(), PortError> {
        let image = package.image.clone().or(serving.image.clone()).ok_or_else(|| {
            PortError::new(
                "deploying",
                package_arn,
                PortErrorKind::Other,
                "the package names no image",
            )
        })?;
        let data = package.model_data_url.clone().ok_or_else(|| {
            PortError::new(
                "deploying",
                package_arn,
                PortErrorKind::Other,
                "the package names no model data",
            )
        })?;
        ports.models.create_model(&NewModel {
            name: model_name.clone(),
            source: serving.name.clone(),
            image,
            model_data_url: data,
            role_arn: ctx.model_role.clone(),
            tags: vec![
                Tag {
                    key: format!("{METADATA_PREFIX}model-package"),
                    value: super::naming::tag_value(package_arn),
                },
                Tag {
                    key: format!("{METADATA_PREFIX}version"),
                    value: version.clone(),
                },
            ],
        })?;
        ports.endpoints.create_config(&NewConfig {
            name: config_name.clone(),
            source: endpoint.config_name.clone(),
            variants: vec![VariantOverride {
                name: settings.variant.clone(),
                instance_type: None,
                initial_count: endpoint.desired_count(&settings.variant),
                initial_weight: None,
                model_name: Some(model_name.clone()),
            }],
        })?;
        ports
            .endpoints
            .update_endpoint(&settings.endpoint, &config_name, &deployment)
    })();
    match result {
        Ok(()) => Ok(DeployOutcome::Deploying {
            version,
            model_name,
            endpoint_config: config_name,
            deployment,
        }),
        Err(e) => {
            let error = error_chain(&e);
            record_outcome(
                ports,
                &settings.endpoint,
                &config_name,
                now,
                Outcome::Failed { why: error.clone() },
            )?;
            Ok(DeployOutcome::Failed { version, error })
        }
    }
}

/// Deploys the approved version that waits in the endpoint's version history, if one does
/// ([`VersionHistory::pending_approval`]): called when the endpoint changes state (it may be in service again).
/// A version that still cannot deploy keeps waiting; one that is no longer approved, or was deployed since, is
/// dropped from the history with the outcome that says why. `None` when nothing waits.
///
/// # Errors
///
/// A [`LifecycleError`] when the state or SageMaker cannot be reached.
pub fn deploy_pending(
    ports: &RetrainPorts<'_>,
    settings: &RetrainSettings,
    ctx: &Context,
    now: DateTime<Utc>,
) -> Result<Option<DeployOutcome>, LifecycleError> {
    let Some((history, _)) = read::<VersionHistory>(ports.state, &versions_key(&settings.endpoint))? else {
        return Ok(None);
    };
    let Some(pending) = history.pending_approval else {
        return Ok(None);
    };
    let outcome = deploy_package(ports, settings, ctx, &pending.package_arn, now)?;
    if !matches!(outcome, DeployOutcome::Waiting { .. } | DeployOutcome::Deploying { .. }) {
        update(
            ports.state,
            &versions_key(&settings.endpoint),
            || VersionHistory::new(&settings.endpoint),
            |h| {
                if h.pending_approval
                    .as_ref()
                    .is_some_and(|p| p.package_arn == pending.package_arn)
                {
                    h.pending_approval = None;
                    Ok(Some(()))
                } else {
                    Ok(None)
                }
            },
        )?;
    }
    Ok(Some(outcome))
}

pub(super) fn record_outcome(
    ports: &RetrainPorts<'_>,
    endpoint: &str,
    config: &str,
    now: DateTime<Utc>,
    outcome: Outcome,
) -> Result<bool, LifecycleError> {
    let changed = update(
        ports.state,
        &versions_key(endpoint),
        || VersionHistory::new(endpoint),
        |h| {
            let changed = h
                .record_outcome(config, now, outcome.clone())
                .map_err(|e| LifecycleError::Refused(e.to_string()))?;
            Ok(changed.then_some(()))
        },
    )?;
    Ok(changed.is_some())
}

/// A deployment that ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ended {
    /// Its record, after the outcome.
    pub record: DeploymentRecord,
    /// How it ended.
    pub outcome: Outcome,
}

/// Records how the endpoint's deployment in progress ended, if it has: serving on the new configuration, or
/// failed (rolled back by its alarms, or the endpoint failed). Returns the deployment that ended.
///
/// # Errors
///
/// A [`LifecycleError`] when the state or SageMaker cannot be reached.
pub fn reconcile(
    ports: &RetrainPorts<'_>,
    endpoint: &str,
    now: DateTime<Utc>,
) -> Result<Option<Ended>, LifecycleError> {
    reconcile_then(ports, endpoint, now, &mut |_| Ok(()))
}

/// [`reconcile`], calling `before_record` with the ended deployment before its outcome is written: when it fails,
/// nothing is recorded and the next reconcile calls it again (what it does happens at least once).
///
/// # Errors
///
/// A [`LifecycleError`] when the state or SageMaker cannot be reached, or `before_record`'s.
pub fn reconcile_then(
    ports: &RetrainPorts<'_>,
    endpoint: &str,
    now: DateTime<Utc>,
    before_record: &mut dyn FnMut(&Ended) -> Result<(), LifecycleError>,
) -> Result<Option<Ended>, LifecycleError> {
    let Some((history, _)) = read::<VersionHistory>(ports.state, &versions_key(endpoint))? else {
        return Ok(None);
    };
    let Some(deploying) = history.in_progress().cloned() else {
        return Ok(None);
    };
    let state = ports.endpoints.describe_endpoint(endpoint)?;
    let Some(outcome) = judge_deployment(&deploying.endpoint_config, deploying.requested_at, &state, now) else {
        return Ok(None);
    };
    let mut preview = history.clone();
    preview
        .record_outcome(&deploying.endpoint_config, now, outcome.clone())
        .map_err(|e| LifecycleError::Refused(e.to_string()))?;
    let record = preview
        .deployments
        .iter()
        .rev()
        .find(|d| d.endpoint_config == deploying.endpoint_config && d.requested_at == deploying.requested_at)
        .cloned()
        .unwrap_or(deploying.clone());
    let ended = Ended { record, outcome };
    before_record(&ended)?;
    record_outcome(ports, endpoint, &deploying.endpoint_config, now, ended.outcome.clone())?;
    Ok(Some(ended))
}

/// The `suggest-baseline` request for a retrained version that began serving: the retraining file's
/// `new_baseline`, filled with the date its training job was launched and its version. `None` for any other
/// ended deployment (a failure, a rollback, the initial version), when the file asks for no baseline, or when the
/// job is not in the model's history.
pub fn baseline_request(
    settings: &RetrainSettings,
    ended: &Ended,
    history: &RetrainHistory,
) -> Option<crate::suggest_request::BaselineRequest> {
    if ended.outcome != Outcome::Served {
        return None;
    }
    let ChangeCause::Retrained { training_job, .. } = &ended.record.cause else {
        return None;
    };
    let launch = history.launches.iter().find(|l| &l.job_name == training_job)?;
    settings.new_baseline_request(launch.at.date_naive(), &ended.record.version)
}
