//! One run of the scaling controller for one endpoint variant: observe, decide, claim, act, record, publish.
//!
//! The ports it needs are defined here, one per capability (the endpoint's scaling calls, its metrics,
//! Application Auto Scaling), beside the core's [`StateStore`] and [`MetricSink`] and the [`EndpointPort`] it
//! shares with the retraining loop. What to call and with which arguments is
//! decided by the pure [`plan`] and [`new_config`]; the adapters only carry a [`Plan`] out.
//!
//! The order of a run, and why:
//! 1. read the scaler state and its version (the history `decide` needs, and a pending re-registration);
//! 2. describe the endpoint and its configuration, fetch the metrics in one `GetMetricData` call, decide;
//! 3. while the endpoint is not `InService` nothing is called (SageMaker rejects updates then, and a change
//!    still being applied would be counted twice); once it is back after a type change, the Application Auto
//!    Scaling registration removed for it is put back, and that is the run's only action;
//! 4. the new state is written with compare-and-set against the version read in 1. That write is the lock:
//!    of two overlapping runs only one writes, and only the one that wrote acts;
//! 5. the plan is carried out. When a call fails, what can be undone is undone and the state is rewritten
//!    without the action (a registration that could not be put back stays pending, and the next run retries);
//! 6. the desired and current instance counts are published.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::autoscaling::{Registration, resource_id};
use super::decide::decide;
use super::decision::{Action, Decision};
pub use super::endpoint::{CapacityStep, CapacityUnit, Deployment, EndpointPort, NewConfig, VariantOverride};
use super::endpoint::{ConfigView, EndpointView, MetricsRequest, ObserveError, Series, variant_state};
use super::history::History;
use super::observed::{MetricsFetch, Observed, VariantStatus};
use super::policy::Policy;
use crate::metrics::{MetricDatum, Unit};
use crate::ports::{MetricSink, PortError, PortErrorKind, StateStore, StateVersion};
use crate::state::StateError;

/// `EndpointConfigName`: at most 63 characters, `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}` (SageMaker API reference,
/// `CreateEndpointConfig`).
pub const CONFIG_NAME_MAX: usize = 63;
/// `AutoRollbackConfiguration.Alarms`: 1 to 10 alarms (SageMaker API reference, `AutoRollbackConfig`).
pub const MAX_ROLLBACK_ALARMS: usize = 10;
/// `WaitIntervalInSeconds` of the all-at-once blue/green shift, i.e. the baking period during which the rollback
/// alarms watch the new fleet before the old one is terminated (API range 0 to 3600).
pub const BAKING_SECONDS: i32 = 600;
/// `TerminationWaitInSeconds`: no extra wait after baking (API range 0 to 3600).
pub const TERMINATION_WAIT_SECONDS: i32 = 0;
/// `MaximumExecutionTimeoutInSeconds` of the deployment (API range 600 to 28800; must exceed the waits). An
/// hour leaves room for provisioning the new fleet plus the baking period.
pub const MAX_EXECUTION_SECONDS: i32 = 3600;
/// The traffic routing of type changes: the new fleet takes all traffic at once, then bakes. Canary and linear
/// shifts leave the saturated old fleet serving most traffic longer, which is what a move up the ladder is for.
pub const TRAFFIC_ROUTING: &str = "ALL_AT_ONCE";
/// Default `METRICS_NAMESPACE`.
pub const DEFAULT_METRICS_NAMESPACE: &str = "modelwatch/Scaling";
/// The published metric of the count the controller wants.
pub const DESIRED_METRIC: &str = "DesiredInstanceCount";
/// The published metric of the count serving.
pub const CURRENT_METRIC: &str = "CurrentInstanceCount";

/// The endpoint as the scaler changes it: the [`EndpointPort`] the retraining loop uses too, and the two calls
/// only the scaler makes.
pub trait ScalerEndpointPort: EndpointPort {
    /// `UpdateEndpointWeightsAndCapacities` for one variant's count.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the variant.
    fn set_count(&self, endpoint: &str, variant: &str, count: u32) -> Result<(), PortError>;

    /// `DeleteEndpointConfig` (undoing a type change that did not start).
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the configuration.
    fn delete_config(&self, config: &str) -> Result<(), PortError>;
}

/// The endpoint's CloudWatch metrics.
pub trait EndpointMetrics {
    /// One `GetMetricData` call for every query of `request`.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the endpoint variant.
    fn fetch(&self, request: &MetricsRequest) -> Result<Vec<Series>, PortError>;
}

/// Application Auto Scaling on the variant.
pub trait Autoscaling {
    /// The scalable target with its policies and scheduled actions, or `None` when not registered.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the resource id.
    fn describe(&self, resource_id: &str) -> Result<Option<Registration>, PortError>;

    /// Deletes the policies and scheduled actions, then deregisters the target.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming what could not be deleted.
    fn deregister(&self, registration: &Registration) -> Result<(), PortError>;

    /// Registers the target and puts its policies and scheduled actions back.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming what could not be put.
    fn register(&self, registration: &Registration) -> Result<(), PortError>;
}

/// Everything one run talks to.
pub struct ControllerPorts<'a> {
    pub endpoints: &'a dyn ScalerEndpointPort,
    pub metrics: &'a dyn EndpointMetrics,
    pub autoscaling: &'a dyn Autoscaling,
    pub state: &'a dyn StateStore,
    pub sink: &'a dyn MetricSink,
}

/// What to do when Application Auto Scaling controls the variant's count and the policy wants another count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AasMode {
    /// Leave the count to Application Auto Scaling; record the decision without acting.
    #[default]
    Refuse,
    /// Delete its policies and scheduled actions, deregister the target, and act.
    TakeOver,
}

/// How the controller runs (from the function's environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerOptions {
    /// Decide and record, never call anything that changes the endpoint or its autoscaling.
    pub dry_run: bool,
    pub aas_mode: AasMode,
    /// CloudWatch alarms that roll a type change back (at most [`MAX_ROLLBACK_ALARMS`]).
    pub rollback_alarms: Vec<String>,
    /// Namespace of the published instance counts.
    pub metrics_namespace: String,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            aas_mode: AasMode::Refuse,
            rollback_alarms: Vec::new(),
            metrics_namespace: DEFAULT_METRICS_NAMESPACE.to_owned(),
        }
    }
}

impl Deployment {
    /// The deployment of every type change.
    pub fn blue_green(rollback_alarms: &[String]) -> Self {
        Self {
            traffic_routing: TRAFFIC_ROUTING.to_owned(),
            wait_interval_seconds: BAKING_SECONDS,
            termination_wait_seconds: TERMINATION_WAIT_SECONDS,
            max_execution_seconds: MAX_EXECUTION_SECONDS,
            rollback_alarms: rollback_alarms.to_vec(),
            step: None,
        }
    }
}

/// The calls that carry a decision out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Plan {
    /// No call.
    Nothing,
    /// Put back the registration removed for a type change.
    Reregister { registration: Registration },
    /// `UpdateEndpointWeightsAndCapacities`, after deregistering Application Auto Scaling when taking over.
    SetCount {
        count: u32,
        take_over: Option<Registration>,
    },
    /// `CreateEndpointConfig`, deregister Application Auto Scaling (when registered), `UpdateEndpoint`.
    ChangeType {
        config: NewConfig,
        deployment: Deployment,
        autoscaling: Option<Registration>,
    },
}

/// The name of the configuration a type change creates: the endpoint's name (cut to fit) and the time.
pub fn new_config_name(endpoint: &str, now: DateTime<Utc>) -> String {
    let suffix = format!("-mw-{}", now.format("%Y%m%d%H%M%S"));
    let keep = CONFIG_NAME_MAX - suffix.len();
    let prefix: String = endpoint.chars().take(keep).collect();
    format!("{prefix}{suffix}")
}

/// The configuration a type change moves to: the running one copied, the variant on `to_type` with `to_count`
/// instances, and every variant's weight and the other variants' counts taken from what runs now (the copied
/// configuration's initial values may be stale after earlier count changes).
pub fn new_config(
    endpoint: &EndpointView,
    config: &ConfigView,
    variant: &str,
    to_type: &str,
    to_count: u32,
    now: DateTime<Utc>,
) -> NewConfig {
    let variants = config
        .variants
        .iter()
        .map(|c| {
            let live = endpoint.variants.iter().find(|l| l.name == c.name);
            let ours = c.name == variant;
            VariantOverride {
                name: c.name.clone(),
                instance_type: ours.then(|| to_type.to_owned()),
                initial_count: if ours {
                    Some(to_count)
                } else {
                    live.and_then(|l| l.desired_count).filter(|_| c.instance_type.is_some())
                },
                initial_weight: live.and_then(|l| l.desired_weight),
                model_name: None,
            }
        })
        .collect();
    NewConfig {
        name: new_config_name(&endpoint.name, now),
        source: config.name.clone(),
        variants,
    }
}

/// The calls that carry `decision` out, or why it must not be: Application Auto Scaling controls the count
/// and the mode is [`AasMode::Refuse`], or a registration in the way of a type change could not be restored.
///
/// # Errors
///
/// The reason for refusing, for the run's record.
pub fn plan(
    decision: &Decision,
    endpoint: &EndpointView,
    config: &ConfigView,
    registration: Option<&Registration>,
    options: &ControllerOptions,
    now: DateTime<Utc>,
) -> Result<Plan, String> {
    if endpoint.status != VariantStatus::InService {
        return Ok(Plan::Nothing);
    }
    match &decision.action {
        Action::Hold => Ok(Plan::Nothing),
        Action::SetCount { to, .. } => match registration.filter(|r| r.controls_count()) {
            None => Ok(Plan::SetCount {
                count: *to,
                take_over: None,
            }),
            Some(r) => match options.aas_mode {
                AasMode::Refuse => Err(format!(
                    "Application Auto Scaling controls {} ({}); AAS_MODE=refuse leaves the count to it",
                    r.resource_id,
                    r.controllers().join(", ")
                )),
                AasMode::TakeOver => Ok(Plan::SetCount {
                    count: *to,
                    take_over: Some(r.clone()),
                }),
            },
        },
        Action::ChangeType { to_type, to_count, .. } => {
            if let Some(why) = registration.and_then(Registration::unrestorable) {
                return Err(format!(
                    "a type change must deregister Application Auto Scaling, which could not be restored: {why}"
                ));
            }
            Ok(Plan::ChangeType {
                config: new_config(endpoint, config, &decision.variant, to_type, *to_count, now),
                deployment: Deployment::blue_green(&options.rollback_alarms),
                autoscaling: registration.cloned(),
            })
        }
    }
}

/// A registration removed for a type change, to be put back once the endpoint is `InService`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingRegistration {
    pub registration: Registration,
    /// The configuration the type change moved to.
    pub config_name: String,
    pub since: DateTime<Utc>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing to do (or the endpoint was not `InService`).
    Held,
    /// The plan was carried out.
    Applied { plan: Plan },
    /// Dry run: the plan that would have been carried out.
    DryRun { plan: Plan },
    /// The decision was not carried out, and why.
    Refused { why: String },
    /// Another run wrote the state first: this one did nothing.
    LockLost,
    /// A call failed; what could be undone was.
    Failed {
        plan: Plan,
        error: String,
        /// Undo steps that failed too.
        undo_errors: Vec<String>,
    },
}

impl Outcome {
    /// Whether the endpoint or its autoscaling was changed.
    pub fn acted(&self) -> bool {
        matches!(self, Self::Applied { .. })
    }
}

/// The last run, kept in the state for inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub decision: Decision,
    pub outcome: Outcome,
}

/// What the controller keeps per variant between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalerState {
    #[serde(default)]
    pub history: History,
    #[serde(default)]
    pub pending_registration: Option<PendingRegistration>,
    #[serde(default)]
    pub last_run: Option<RunRecord>,
}

/// The state key of a variant, relative to the state location.
pub fn state_key(endpoint: &str, variant: &str) -> String {
    format!("scaler/{endpoint}/{variant}.json")
}

/// What one run saw, decided and did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub endpoint: String,
    pub variant: String,
    /// The endpoint status as SageMaker spells it.
    pub status: String,
    pub instance_type: String,
    pub current_count: u32,
    /// The count after the run (the decision's when applied or in a dry run, else the endpoint's).
    pub desired_count: u32,
    pub decision: Decision,
    pub outcome: Outcome,
    /// Why the metrics could not be read, when they could not.
    pub metrics_error: Option<String>,
    /// Why the instance counts could not be published, when they could not.
    pub publish_error: Option<String>,
}

/// A run that could not decide or record.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// Reading or writing the state, or describing the endpoint, failed.
    #[error(transparent)]
    Port(#[from] PortError),
    /// The stored state is not the controller's JSON (it is never overwritten blindly: it is the lock).
    #[error("scaler state {key} is invalid")]
    State {
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The variant cannot be scaled.
    #[error(transparent)]
    Observe(#[from] ObserveError),
}

/// An error with its causes, on one line.
pub use crate::ports::error_chain as chain;

fn to_json(state: &ScalerState) -> Vec<u8> {
    crate::state::to_json(state)
}

/// Runs the controller once for `policy`'s variant at `now`.
///
/// # Errors
///
/// A [`ControllerError`] when the state cannot be read or written, or the endpoint cannot be described. A
/// failed action is not an error: the report's outcome is [`Outcome::Failed`].
pub fn run_variant(
    ports: &ControllerPorts<'_>,
    policy: &Policy,
    options: &ControllerOptions,
    now: DateTime<Utc>,
) -> Result<RunReport, ControllerError> {
    let key = state_key(&policy.endpoint, &policy.variant);
    // Read with the one state helper; written below with one conditional write, deliberately not retried: that
    // write is the run's lock, and a run that lost it to another must not act.
    let read = crate::state::read_json::<ScalerState>(ports.state, &key).map_err(|e| match e {
        StateError::Read { source, .. } | StateError::Write { source, .. } => ControllerError::Port(source),
        other => ControllerError::State {
            key: key.clone(),
            source: Box::new(other),
        },
    })?;
    let (state, version): (ScalerState, Option<StateVersion>) = match read {
        None => (ScalerState::default(), None),
        Some((state, version)) => (state, Some(version)),
    };
    let endpoint = ports.endpoints.describe_endpoint(&policy.endpoint)?;
    let config = ports.endpoints.describe_config(&endpoint.config_name)?;
    let variant = variant_state(&endpoint, &config, &policy.variant)?;
    let request = MetricsRequest::for_policy(policy, now);
    let (metrics, metrics_error) = match ports.metrics.fetch(&request) {
        Ok(series) => (
            MetricsFetch::Fetched {
                minutes: request.assemble(&series),
            },
            None,
        ),
        Err(e) => {
            let error = chain(&e);
            (MetricsFetch::Failed { error: error.clone() }, Some(error))
        }
    };
    let observed = Observed { now, metrics, variant };
    let decision = decide(&observed, policy, &state.history);
    let v = &observed.variant;
    let hold = decision.hold_copy(v.desired_count, &v.instance_type);
    let in_service = v.status == VariantStatus::InService;

    let pending = state
        .pending_registration
        .clone()
        .filter(|_| in_service && !options.dry_run);
    let (plan, outcome) = if let Some(p) = pending {
        let plan = Plan::Reregister {
            registration: p.registration,
        };
        (plan.clone(), Outcome::Applied { plan })
    } else if decision.action == Action::Hold || !in_service {
        (Plan::Nothing, Outcome::Held)
    } else {
        // Nothing is registered while a registration is pending: it was removed by this controller.
        let registration = match &state.pending_registration {
            Some(_) => None,
            None => ports
                .autoscaling
                .describe(&resource_id(&policy.endpoint, &policy.variant))?,
        };
        match plan(&decision, &endpoint, &config, registration.as_ref(), options, now) {
            Err(why) => (Plan::Nothing, Outcome::Refused { why }),
            Ok(plan) if options.dry_run => (Plan::Nothing, Outcome::DryRun { plan }),
            Ok(plan) => (plan.clone(), Outcome::Applied { plan }),
        }
    };
    let effective = if outcome.acted() && !matches!(plan, Plan::Reregister { .. }) {
        &decision
    } else {
        &hold
    };

    let mut next = state.clone();
    next.history.record(&observed, policy, effective);
    match &plan {
        Plan::Reregister { .. } => next.pending_registration = None,
        Plan::ChangeType {
            config,
            autoscaling: Some(registration),
            ..
        } => {
            next.pending_registration = Some(PendingRegistration {
                registration: registration.clone(),
                config_name: config.name.clone(),
                since: now,
            });
        }
        _ => {}
    }
    next.last_run = Some(RunRecord {
        decision: decision.clone(),
        outcome: outcome.clone(),
    });
    let report = |outcome: Outcome, desired_count: u32, publish_error: Option<String>| RunReport {
        endpoint: policy.endpoint.clone(),
        variant: policy.variant.clone(),
        status: endpoint.status_text.clone(),
        instance_type: v.instance_type.clone(),
        current_count: v.current_count,
        desired_count,
        decision: decision.clone(),
        outcome,
        metrics_error: metrics_error.clone(),
        publish_error,
    };
    let written = match ports.state.put_if(&key, &to_json(&next), version.as_ref()) {
        Ok(written) => written,
        Err(e) if e.kind == PortErrorKind::Conflict => return Ok(report(Outcome::LockLost, v.desired_count, None)),
        Err(e) => return Err(e.into()),
    };

    let outcome = match carry_out(ports, policy, &plan) {
        Ok(()) => outcome,
        Err(failure) => {
            let Failure {
                error,
                mut undo_errors,
                still_deregistered,
            } = failure;
            let failed = |undo_errors: Vec<String>| Outcome::Failed {
                plan: plan.clone(),
                error: error.clone(),
                undo_errors,
            };
            let mut undone = state.clone();
            undone.history.record(&observed, policy, &hold);
            if let Some(registration) = still_deregistered {
                undone.pending_registration = Some(PendingRegistration {
                    registration: *registration,
                    config_name: endpoint.config_name.clone(),
                    since: now,
                });
            }
            undone.last_run = Some(RunRecord {
                decision: decision.clone(),
                outcome: failed(undo_errors.clone()),
            });
            if let Err(e) = ports.state.put_if(&key, &to_json(&undone), Some(&written)) {
                undo_errors.push(format!("recording the failure: {}", chain(&e)));
            }
            failed(undo_errors)
        }
    };

    let desired_count = match (&outcome, &plan) {
        (Outcome::Applied { .. }, Plan::Reregister { .. }) => v.desired_count,
        (Outcome::Applied { .. } | Outcome::DryRun { .. }, _) => decision.desired_count,
        _ => v.desired_count,
    };
    let data: Vec<MetricDatum> = [(DESIRED_METRIC, desired_count), (CURRENT_METRIC, v.current_count)]
        .into_iter()
        .map(|(name, value)| MetricDatum {
            namespace: options.metrics_namespace.clone(),
            metric_name: name.to_owned(),
            dimensions: vec![
                ("EndpointName".to_owned(), policy.endpoint.clone()),
                ("VariantName".to_owned(), policy.variant.clone()),
            ],
            value: f64::from(value),
            statistics: None,
            unit: Unit::Count,
            timestamp: now,
        })
        .collect();
    let publish_error = ports.sink.publish(&data).err().map(|e| chain(&e));
    Ok(report(outcome, desired_count, publish_error))
}

/// A plan that failed part-way.
struct Failure {
    error: String,
    undo_errors: Vec<String>,
    /// A registration that was removed and could not be put back (boxed: it is large and rare).
    still_deregistered: Option<Box<Registration>>,
}

impl Failure {
    fn of(step: &str, e: &PortError) -> Self {
        Self {
            error: format!("{step}: {}", chain(e)),
            undo_errors: Vec::new(),
            still_deregistered: None,
        }
    }
}

fn carry_out(ports: &ControllerPorts<'_>, policy: &Policy, plan: &Plan) -> Result<(), Failure> {
    let (endpoint, variant) = (&policy.endpoint, &policy.variant);
    match plan {
        Plan::Nothing => Ok(()),
        Plan::Reregister { registration } => ports
            .autoscaling
            .register(registration)
            .map_err(|e| Failure::of("RegisterScalableTarget", &e)),
        Plan::SetCount { count, take_over } => {
            if let Some(r) = take_over {
                ports
                    .autoscaling
                    .deregister(r)
                    .map_err(|e| Failure::of("DeregisterScalableTarget", &e))?;
            }
            ports
                .endpoints
                .set_count(endpoint, variant, *count)
                .map_err(|e| Failure::of("UpdateEndpointWeightsAndCapacities", &e))
        }
        Plan::ChangeType {
            config,
            deployment,
            autoscaling,
        } => {
            ports
                .endpoints
                .create_config(config)
                .map_err(|e| Failure::of("CreateEndpointConfig", &e))?;
            let step = match autoscaling {
                Some(r) => ports
                    .autoscaling
                    .deregister(r)
                    .map_err(|e| Failure::of("DeregisterScalableTarget", &e)),
                None => Ok(()),
            };
            let step = step.and_then(|()| {
                ports
                    .endpoints
                    .update_endpoint(endpoint, &config.name, deployment)
                    .map_err(|e| Failure::of("UpdateEndpoint", &e))
            });
            step.map_err(|mut failure| {
                // Undo: the registration back (a failed deregistration may have deleted some policies), the
                // unused configuration away.
                if let Some(r) = autoscaling
                    && let Err(e) = ports.autoscaling.register(r)
                {
                    failure
                        .undo_errors
                        .push(format!("RegisterScalableTarget: {}", chain(&e)));
                    failure.still_deregistered = Some(Box::new(r.clone()));
                }
                if let Err(e) = ports.endpoints.delete_config(&config.name) {
                    failure.undo_errors.push(format!("DeleteEndpointConfig: {}", chain(&e)));
                }
                failure
            })
        }
    }
}
