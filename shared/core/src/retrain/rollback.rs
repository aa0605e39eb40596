//! Rollback: the endpoint returned to a version that served before, recorded in its version history, then one
//! `UpdateEndpoint` to that version's configuration.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::deploy::{reconcile, record_outcome};
use super::naming::resource_name;
use super::ports::{LifecycleError, RetrainPorts, update, versions_key};
use super::versions::{ChangeCause, Outcome, VersionHistory};
use crate::ports::error_chain;
use crate::scaling::VariantStatus;
use crate::scaling::controller::Deployment as DeploymentConfig;
use crate::scaling::endpoint::{ConfigView, EndpointView, NewConfig, VariantOverride};

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport {
    pub endpoint: String,
    pub from_version: String,
    pub to_version: String,
    pub endpoint_config: String,
}

/// Returns `endpoint` to a version that served before (`to`, or the one before the current): the version
/// history records the change, then one `UpdateEndpoint` puts that version's models back, blue/green all at once
/// (no alarms: a rollback is not rolled back).
///
/// The fleet keeps its current size and instance type: the endpoint is updated to a new configuration, a copy of the
/// version's own with each variant's current instance count and type ([`rollback_config`]). Going back to the old
/// configuration itself would reset the counts the scaler has set since (a fleet scaled to 10 dropping to 2) and
/// fail when the scaler has changed the type.
///
/// # Errors
///
/// [`LifecycleError::Rollback`] when there is no such version, [`LifecycleError::Refused`] while a deployment is
/// in progress or the endpoint is not `InService`; port errors otherwise (the deployment is then recorded failed).
pub fn rollback(
    ports: &RetrainPorts<'_>,
    endpoint: &str,
    to: Option<&str>,
    requested_by: &str,
    now: DateTime<Utc>,
) -> Result<RollbackReport, LifecycleError> {
    reconcile(ports, endpoint, now)?;
    let state = ports.endpoints.describe_endpoint(endpoint)?;
    if state.status != VariantStatus::InService {
        return Err(LifecycleError::Refused(format!(
            "endpoint {endpoint} is {}",
            state.status_text
        )));
    }
    let serving = ports.endpoints.describe_config(&state.config_name)?;
    let stamp = now.format("%Y%m%d%H%M%S").to_string();
    let mut plan = None;
    update(
        ports.state,
        &versions_key(endpoint),
        || VersionHistory::new(endpoint),
        |history| {
            let mut d = history.rollback(to, now, requested_by)?;
            let config = rollback_config(
                &d.endpoint_config,
                &state,
                &serving,
                &format!("rb{}-{stamp}", d.version),
            );
            d.endpoint_config = config.name.clone();
            history
                .record_deployment(d.clone())
                .map_err(|e| LifecycleError::Refused(e.to_string()))?;
            // Going back is a decision taken after any approval that was waiting: it is not deployed over it.
            history.pending_approval = None;
            let from = match &d.cause {
                ChangeCause::Rollback { from_version, .. } => from_version.clone(),
                _ => String::new(),
            };
            plan = Some((d, from, config));
            Ok(Some(()))
        },
    )?;
    let (d, from_version, config) = plan.expect("written only with a plan");
    let deployment = DeploymentConfig::blue_green(&[]);
    let result = ports.endpoints.create_config(&config).and_then(|()| {
        ports
            .endpoints
            .update_endpoint(endpoint, &d.endpoint_config, &deployment)
    });
    if let Err(e) = result {
        let why = error_chain(&e);
        record_outcome(ports, endpoint, &d.endpoint_config, now, Outcome::Failed { why })?;
        return Err(e.into());
    }
    Ok(RollbackReport {
        endpoint: endpoint.to_owned(),
        from_version,
        to_version: d.version,
        endpoint_config: d.endpoint_config,
    })
}

/// The configuration a rollback deploys: a copy of the version's configuration `source` named
/// `{endpoint}-{hash}-{suffix}`, each variant the endpoint serves now keeping its current instance count (`live`)
/// and instance type (`serving`, the configuration in service). Variants the endpoint no longer has keep the
/// source's settings.
pub fn rollback_config(source: &str, live: &EndpointView, serving: &ConfigView, suffix: &str) -> NewConfig {
    let variants = live
        .variants
        .iter()
        .map(|v| VariantOverride {
            name: v.name.clone(),
            instance_type: serving
                .variants
                .iter()
                .find(|c| c.name == v.name)
                .and_then(|c| c.instance_type.clone()),
            initial_count: live.desired_count(&v.name),
            initial_weight: None,
            model_name: None,
        })
        .collect();
    NewConfig {
        name: resource_name(&live.name, suffix),
        source: source.to_owned(),
        variants,
    }
}
