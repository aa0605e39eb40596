//! Rollback: the endpoint returned to a version that served before, recorded in its version history, then one
//! `UpdateEndpoint` to that version's configuration.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::deploy::{reconcile, record_outcome};
use super::ports::{LifecycleError, RetrainPorts, update, versions_key};
use super::versions::{ChangeCause, Outcome, VersionHistory};
use crate::ports::error_chain;
use crate::scaling::VariantStatus;
use crate::scaling::controller::Deployment as DeploymentConfig;

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport {
    pub endpoint: String,
    pub from_version: String,
    pub to_version: String,
    pub endpoint_config: String,
}

/// Returns `endpoint` to a version that served before (`to`, or the one before the current): the version
/// history records the change, then one `UpdateEndpoint` puts that version's configuration back, blue/green all
/// at once (no alarms: a rollback is not rolled back).
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
    let mut plan = None;
    update(
        ports.state,
        &versions_key(endpoint),
        || VersionHistory::new(endpoint),
        |history| {
            let d = history.rollback(to, now, requested_by)?;
            history
                .record_deployment(d.clone())
                .map_err(|e| LifecycleError::Refused(e.to_string()))?;
            let from = match &d.cause {
                ChangeCause::Rollback { from_version, .. } => from_version.clone(),
                _ => String::new(),
            };
            plan = Some((d, from));
            Ok(Some(()))
        },
    )?;
    let (d, from_version) = plan.expect("written only with a plan");
    let deployment = DeploymentConfig::blue_green(&[]);
    if let Err(e) = ports
        .endpoints
        .update_endpoint(endpoint, &d.endpoint_config, &deployment)
    {
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
