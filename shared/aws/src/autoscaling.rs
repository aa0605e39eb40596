//! The Application Auto Scaling adapter: a variant's scalable target with its policies and scheduled actions
//! read into the core's [`Registration`], removed before a type change and put back after it.
//!
//! Removal follows the SageMaker developer guide ("Update endpoints that use auto scaling"): the scaling
//! policies are deleted, then the target is deregistered. Scheduled actions are deleted too (deregistering
//! deletes them anyway; deleting them first makes the removal explicit and the same on every implementation).
//!
//! Application Auto Scaling answers `ConcurrentUpdateException` to a change of a target whose previous change is
//! still being applied (its API reference), which back-to-back calls such as these meet: each change is tried again
//! after a pause ([`CONCURRENT_UPDATE_ATTEMPTS`]). The SDK's own retries do not cover that error.

use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_applicationautoscaling::types::{
    CustomizedMetricSpecification, MetricDimension, MetricStatistic, MetricType, PolicyType,
    PredefinedMetricSpecification, ScalableDimension, ScalableTarget, ScalableTargetAction, ScalingPolicy as SdkPolicy,
    ScheduledAction as SdkAction, ServiceNamespace, SuspendedState, TargetTrackingScalingPolicyConfiguration,
};
use aws_smithy_types::DateTime as SmithyDateTime;
use chrono::{DateTime, Utc};
use modelwatch_core::ports::{PortError, PortErrorKind};
use modelwatch_core::scaling::autoscaling::{
    Registration, SCALABLE_DIMENSION, SERVICE_NAMESPACE, ScalingPolicy, ScheduledAction, Suspended, TargetTracking,
    TrackedMetric,
};
use modelwatch_core::scaling::controller::Autoscaling;
use tokio::runtime::Handle;

use crate::error::port_error;

/// Attempts of one change answered `ConcurrentUpdateException`, the first included; the pauses between them start at
/// [`CONCURRENT_UPDATE_FIRST_PAUSE`] and double (0.2 + 0.4 + 0.8 + 1.6 + 3.2 s at most in all).
pub const CONCURRENT_UPDATE_ATTEMPTS: u32 = 6;
/// The first pause after a `ConcurrentUpdateException`.
pub const CONCURRENT_UPDATE_FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);
/// The error code of a change refused because another one is still pending.
const CONCURRENT_UPDATE: &str = "ConcurrentUpdateException";

/// `call` (one change), tried again while it is answered [`CONCURRENT_UPDATE`], at most
/// [`CONCURRENT_UPDATE_ATTEMPTS`] times.
async fn changing<T, E, R, F, Fut>(mut call: F) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
{
    let mut pause = CONCURRENT_UPDATE_FIRST_PAUSE;
    for _ in 1..CONCURRENT_UPDATE_ATTEMPTS {
        match call().await {
            Err(e) if e.code() == Some(CONCURRENT_UPDATE) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            done => return done,
        }
    }
    call().await
}

/// Application Auto Scaling uses its service-linked role for SageMaker variants by itself; such a role is not
/// passed back when registering again.
const SERVICE_LINKED_ROLE: &str = ":role/aws-service-role/";

fn chrono_of(t: &SmithyDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn smithy_of(t: DateTime<Utc>) -> SmithyDateTime {
    SmithyDateTime::from_secs(t.timestamp())
}

fn tracked_metric(c: &TargetTrackingScalingPolicyConfiguration) -> TrackedMetric {
    if let Some(p) = c.predefined_metric_specification() {
        return TrackedMetric::Predefined {
            metric_type: p.predefined_metric_type().as_str().to_owned(),
            resource_label: p.resource_label().map(str::to_owned),
        };
    }
    match c.customized_metric_specification() {
        Some(m) if m.metrics().is_empty() => match (m.metric_name(), m.namespace(), m.statistic()) {
            (Some(name), Some(namespace), Some(statistic)) => TrackedMetric::Customized {
                metric_name: name.to_owned(),
                namespace: namespace.to_owned(),
                dimensions: m
                    .dimensions()
                    .iter()
                    .map(|d| (d.name().to_owned(), d.value().to_owned()))
                    .collect(),
                statistic: statistic.as_str().to_owned(),
                unit: m.unit().map(str::to_owned),
            },
            _ => TrackedMetric::Unsupported {
                what: "a customized metric without name, namespace or statistic".to_owned(),
            },
        },
        Some(_) => TrackedMetric::Unsupported {
            what: "a metric-math customized metric".to_owned(),
        },
        None => TrackedMetric::Unsupported {
            what: "no metric".to_owned(),
        },
    }
}

/// The core's registration of a target, its policies and its scheduled actions.
pub fn registration_of(target: &ScalableTarget, policies: &[SdkPolicy], actions: &[SdkAction]) -> Registration {
    let suspended = target.suspended_state().map_or_else(Suspended::default, |s| Suspended {
        dynamic_scaling_in: s.dynamic_scaling_in_suspended().unwrap_or(false),
        dynamic_scaling_out: s.dynamic_scaling_out_suspended().unwrap_or(false),
        scheduled_scaling: s.scheduled_scaling_suspended().unwrap_or(false),
    });
    Registration {
        resource_id: target.resource_id().to_owned(),
        min_capacity: target.min_capacity(),
        max_capacity: target.max_capacity(),
        role_arn: Some(target.role_arn())
            .filter(|r| !r.is_empty() && !r.contains(SERVICE_LINKED_ROLE))
            .map(str::to_owned),
        suspended,
        policies: policies
            .iter()
            .map(|p| ScalingPolicy {
                name: p.policy_name().to_owned(),
                policy_type: p.policy_type().as_str().to_owned(),
                target_tracking: p
                    .target_tracking_scaling_policy_configuration()
                    .map(|c| TargetTracking {
                        target_value: c.target_value(),
                        metric: tracked_metric(c),
                        scale_out_cooldown: c.scale_out_cooldown(),
                        scale_in_cooldown: c.scale_in_cooldown(),
                        disable_scale_in: c.disable_scale_in(),
                    }),
            })
            .collect(),
        scheduled_actions: actions
            .iter()
            .map(|a| ScheduledAction {
                name: a.scheduled_action_name().to_owned(),
                schedule: a.schedule().to_owned(),
                timezone: a.timezone().map(str::to_owned),
                start_time: a.start_time().and_then(chrono_of),
                end_time: a.end_time().and_then(chrono_of),
                min_capacity: a.scalable_target_action().and_then(|t| t.min_capacity()),
                max_capacity: a.scalable_target_action().and_then(|t| t.max_capacity()),
            })
            .collect(),
    }
}

fn invalid(what: &'static str, resource: &str, e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    PortError::new(what, resource.to_owned(), PortErrorKind::Other, e)
}

/// The SDK's target-tracking configuration of a stored one.
///
/// # Errors
///
/// A [`PortError`] when the stored metric cannot be expressed (the core refuses those before deregistering).
pub fn target_tracking_config(
    resource: &str,
    t: &TargetTracking,
) -> Result<TargetTrackingScalingPolicyConfiguration, PortError> {
    let mut builder = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(t.target_value)
        .set_scale_out_cooldown(t.scale_out_cooldown)
        .set_scale_in_cooldown(t.scale_in_cooldown)
        .set_disable_scale_in(t.disable_scale_in);
    builder = match &t.metric {
        TrackedMetric::Predefined {
            metric_type,
            resource_label,
        } => builder.predefined_metric_specification(
            PredefinedMetricSpecification::builder()
                .predefined_metric_type(MetricType::from(metric_type.as_str()))
                .set_resource_label(resource_label.clone())
                .build()
                .map_err(|e| invalid("restoring a policy of", resource, e))?,
        ),
        TrackedMetric::Customized {
            metric_name,
            namespace,
            dimensions,
            statistic,
            unit,
        } => {
            let dimensions = dimensions
                .iter()
                .map(|(n, v)| MetricDimension::builder().name(n).value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid("restoring a policy of", resource, e))?;
            builder.customized_metric_specification(
                CustomizedMetricSpecification::builder()
                    .metric_name(metric_name)
                    .namespace(namespace)
                    .set_dimensions(Some(dimensions))
                    .statistic(MetricStatistic::from(statistic.as_str()))
                    .set_unit(unit.clone())
                    .build(),
            )
        }
        TrackedMetric::Unsupported { what } => {
            return Err(PortError::new(
                "restoring a policy of",
                resource.to_owned(),
                PortErrorKind::Other,
                format!("it tracks {what}"),
            ));
        }
    };
    builder
        .build()
        .map_err(|e| invalid("restoring a policy of", resource, e))
}

/// Application Auto Scaling for SageMaker variants, blocking on a runtime handle.
pub struct ApplicationAutoScaling {
    client: Client,
    handle: Handle,
}

impl ApplicationAutoScaling {
    /// The adapter over `client`, blocking on `handle`.
    pub fn new(client: Client, handle: Handle) -> Self {
        Self { client, handle }
    }

    async fn describe_all(&self, resource_id: &str) -> Result<Option<Registration>, PortError> {
        let dimension = ScalableDimension::from(SCALABLE_DIMENSION);
        let namespace = ServiceNamespace::from(SERVICE_NAMESPACE);
        let mut targets = self
            .client
            .describe_scalable_targets()
            .service_namespace(namespace.clone())
            .resource_ids(resource_id)
            .scalable_dimension(dimension.clone())
            .into_paginator()
            .send();
        let mut target = None;
        while let Some(page) = targets.next().await {
            let page = page.map_err(|e| port_error("describing scalable targets of", resource_id, e))?;
            target = target.or_else(|| {
                page.scalable_targets()
                    .iter()
                    .find(|t| t.resource_id() == resource_id)
                    .cloned()
            });
        }
        let Some(target) = target else {
            return Ok(None);
        };
        let mut policies = Vec::new();
        let mut pages = self
            .client
            .describe_scaling_policies()
            .service_namespace(namespace.clone())
            .resource_id(resource_id)
            .scalable_dimension(dimension.clone())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("describing scaling policies of", resource_id, e))?;
            policies.extend(
                page.scaling_policies()
                    .iter()
                    .filter(|p| p.resource_id() == resource_id)
                    .cloned(),
            );
        }
        let mut actions = Vec::new();
        let mut pages = self
            .client
            .describe_scheduled_actions()
            .service_namespace(namespace)
            .resource_id(resource_id)
            .scalable_dimension(dimension)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("describing scheduled actions of", resource_id, e))?;
            actions.extend(
                page.scheduled_actions()
                    .iter()
                    .filter(|a| a.resource_id() == resource_id)
                    .cloned(),
            );
        }
        Ok(Some(registration_of(&target, &policies, &actions)))
    }

    async fn remove(&self, r: &Registration) -> Result<(), PortError> {
        let id = r.resource_id.as_str();
        for p in &r.policies {
            changing(|| {
                self.client
                    .delete_scaling_policy()
                    .policy_name(&p.name)
                    .service_namespace(ServiceNamespace::from(SERVICE_NAMESPACE))
                    .resource_id(id)
                    .scalable_dimension(ScalableDimension::from(SCALABLE_DIMENSION))
                    .send()
            })
            .await
            .map_err(|e| port_error("deleting scaling policy", format!("{} of {id}", p.name), e))?;
        }
        for a in &r.scheduled_actions {
            changing(|| {
                self.client
                    .delete_scheduled_action()
                    .scheduled_action_name(&a.name)
                    .service_namespace(ServiceNamespace::from(SERVICE_NAMESPACE))
                    .resource_id(id)
                    .scalable_dimension(ScalableDimension::from(SCALABLE_DIMENSION))
                    .send()
            })
            .await
            .map_err(|e| port_error("deleting scheduled action", format!("{} of {id}", a.name), e))?;
        }
        changing(|| {
            self.client
                .deregister_scalable_target()
                .service_namespace(ServiceNamespace::from(SERVICE_NAMESPACE))
                .resource_id(id)
                .scalable_dimension(ScalableDimension::from(SCALABLE_DIMENSION))
                .send()
        })
        .await
        .map_err(|e| port_error("deregistering scalable target", id, e))?;
        Ok(())
    }

    async fn restore(&self, r: &Registration) -> Result<(), PortError> {
        let id = r.resource_id.as_str();
        let suspended = SuspendedState::builder()
            .dynamic_scaling_in_suspended(r.suspended.dynamic_scaling_in)
            .dynamic_scaling_out_suspended(r.suspended.dynamic_scaling_out)
            .scheduled_scaling_suspended(r.suspended.scheduled_scaling)
            .build();
        changing(|| {
            self.client
                .register_scalable_target()
                .service_namespace(ServiceNamespace::from(SERVICE_NAMESPACE))
                .resource_id(id)
                .scalable_dimension(ScalableDimension::from(SCALABLE_DIMENSION))
                .min_capacity(r.min_capacity)
                .max_capacity(r.max_capacity)
                .set_role_arn(r.role_arn.clone())
                .suspended_state(suspended.clone())
                .send()
        })
        .await
        .map_err(|e| port_error("registering scalable target", id, e))?;
        for p in &r.policies {
            let Some(t) = &p.target_tracking else {
                return Err(PortError::new(
                    "restoring scaling policy",
                    format!("{} of {id}", p.name),
                    PortErrorKind::Other,
                    format!("{} policies are not restored", p.policy_type),
                ));
            };
            let config = target_tracking_config(id, t)?;
            changing(|| {
                self.client
                    .put_scaling_policy()
                    .policy_name(&p.name)
                    .service_namespace(ServiceNamespace::from(SERVICE_NAMESPACE))
                    .resource_id(id)
                    .scalable_dimension(ScalableDimension::from(SCALABLE_DIMENSION))
                    .policy_type(PolicyType::from(p.policy_type.as_str()))
                    .target_tracking_scaling_policy_configuration(config.clone())
                    .send()
            })
            .await
            .map_err(|e| port_error("putting scaling policy", format!("{} of {id}", p.name), e))?;
        }
        for a in &r.scheduled_actions {
            changing(|| {
                self.client
                    .put_scheduled_action()
                    .scheduled_action_name(&a.name)
                    .service_namespace(ServiceNamespace::from(SERVICE_NAMESPACE))
                    .resource_id(id)
                    .scalable_dimension(ScalableDimension::from(SCALABLE_DIMENSION))
                    .schedule(&a.schedule)
                    .set_timezone(a.timezone.clone())
                    .set_start_time(a.start_time.map(smithy_of))
                    .set_end_time(a.end_time.map(smithy_of))
                    .scalable_target_action(
                        ScalableTargetAction::builder()
                            .set_min_capacity(a.min_capacity)
                            .set_max_capacity(a.max_capacity)
                            .build(),
                    )
                    .send()
            })
            .await
            .map_err(|e| port_error("putting scheduled action", format!("{} of {id}", a.name), e))?;
        }
        Ok(())
    }
}

impl Autoscaling for ApplicationAutoScaling {
    fn describe(&self, resource_id: &str) -> Result<Option<Registration>, PortError> {
        self.handle.block_on(self.describe_all(resource_id))
    }

    fn deregister(&self, registration: &Registration) -> Result<(), PortError> {
        self.handle.block_on(self.remove(registration))
    }

    fn register(&self, registration: &Registration) -> Result<(), PortError> {
        self.handle.block_on(self.restore(registration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invocations_tracking, scalable_target, tracking_policy};

    const RESOURCE: &str = "endpoint/ep/variant/AllTraffic";

    /// Registered between 1 and 6 instances, scale-in suspended.
    fn target(role: &str) -> ScalableTarget {
        let mut target = scalable_target(RESOURCE, 1, 6, role);
        target.suspended_state = Some(SuspendedState::builder().dynamic_scaling_in_suspended(true).build());
        target
    }

    fn tt_policy() -> SdkPolicy {
        tracking_policy(RESOURCE, "invocations", invocations_tracking(70.0))
    }

    #[test]
    fn a_registration_round_trips_into_requests() {
        let action = SdkAction::builder()
            .scheduled_action_name("mornings")
            .scheduled_action_arn("arn:action")
            .service_namespace(ServiceNamespace::Sagemaker)
            .schedule("cron(0 8 * * ? *)")
            .timezone("Europe/Paris")
            .resource_id(RESOURCE)
            .scalable_target_action(ScalableTargetAction::builder().min_capacity(3).build())
            .creation_time(SmithyDateTime::from_secs(0))
            .build()
            .unwrap();
        let r = registration_of(
            &target("arn:aws:iam::1:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/X"),
            &[tt_policy()],
            &[action],
        );
        assert_eq!((r.min_capacity, r.max_capacity, r.role_arn.as_deref()), (1, 6, None));
        assert!(r.suspended.dynamic_scaling_in && !r.suspended.dynamic_scaling_out);
        assert_eq!(r.unrestorable(), None);
        assert_eq!(r.scheduled_actions[0].min_capacity, Some(3));
        assert_eq!(r.scheduled_actions[0].timezone.as_deref(), Some("Europe/Paris"));
        let t = r.policies[0].target_tracking.as_ref().unwrap();
        let sdk = target_tracking_config(&r.resource_id, t).unwrap();
        assert_eq!(Some(&sdk), tt_policy().target_tracking_scaling_policy_configuration());
        let own_role = registration_of(&target("arn:aws:iam::1:role/my-role"), &[], &[]);
        assert_eq!(own_role.role_arn.as_deref(), Some("arn:aws:iam::1:role/my-role"));
    }

    #[test]
    fn metric_math_is_marked_unsupported() {
        let c = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(1.0)
            .customized_metric_specification(
                CustomizedMetricSpecification::builder()
                    .metrics(
                        aws_sdk_applicationautoscaling::types::TargetTrackingMetricDataQuery::builder()
                            .id("m1")
                            .expression("m2 / m3")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build()
            .unwrap();
        assert!(matches!(tracked_metric(&c), TrackedMetric::Unsupported { .. }));
        let t = TargetTracking {
            target_value: 1.0,
            metric: tracked_metric(&c),
            scale_out_cooldown: None,
            scale_in_cooldown: None,
            disable_scale_in: None,
        };
        assert!(target_tracking_config("r", &t).is_err());
    }
}
