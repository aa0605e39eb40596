//! Use-case tests of the controller with in-memory adapters: what is called, in which order, with which
//! arguments, and what is recorded.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::autoscaling::{Registration, ScalingPolicy, Suspended, TARGET_TRACKING, TargetTracking, TrackedMetric};
use super::controller::{
    AasMode, Autoscaling, BAKING_SECONDS, CONFIG_NAME_MAX, ControllerOptions, ControllerPorts, Deployment,
    EndpointMetrics, EndpointPort, NewConfig, Outcome, Plan, ScalerEndpointPort, ScalerState, new_config,
    new_config_name, run_variant, state_key,
};
use super::decision::{Action, Rule};
use super::endpoint::{ConfigView, EndpointView, MetricsRequest, Series};
use super::observed::VariantStatus;
use crate::memory::{MemoryMetrics, MemoryState};
use crate::ports::{PortError, PortErrorKind, StateStore, StateVersion};
use crate::testing::{config_view, endpoint_view, ladder_policy};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 17, 12, 0, 30).unwrap()
}

fn fail(what: &str) -> PortError {
    PortError::new(
        "calling",
        what,
        PortErrorKind::Other,
        "ThrottlingException: Rate exceeded",
    )
}

/// A SageMaker endpoint in memory: `set_count` and `update_endpoint` leave it `Updating` until `finish`.
struct FakeEndpoint {
    endpoint: Mutex<EndpointView>,
    configs: Mutex<BTreeMap<String, ConfigView>>,
    pending_config: Mutex<Option<String>>,
    calls: Mutex<Vec<String>>,
    fail_update: bool,
}

impl FakeEndpoint {
    fn new(count: u32, instance_type: &str) -> Self {
        let endpoint = endpoint_view(
            "ep",
            "ep-config",
            VariantStatus::InService,
            &[("AllTraffic", count, 0.9), ("Shadowless", 2, 0.1)],
        );
        let config = config_view(
            "ep-config",
            &[("AllTraffic", instance_type, 1), ("Shadowless", "ml.m5.large", 1)],
        );
        Self {
            endpoint: Mutex::new(endpoint),
            configs: Mutex::new(BTreeMap::from([("ep-config".to_owned(), config)])),
            pending_config: Mutex::new(None),
            calls: Mutex::new(Vec::new()),
            fail_update: false,
        }
    }

    fn set_status(&self, status: VariantStatus) {
        let mut e = self.endpoint.lock().unwrap();
        e.status = status;
        e.status_text = format!("{status:?}");
    }

    /// The update completes: `InService`, on the new configuration when there is one.
    fn finish(&self) {
        let mut e = self.endpoint.lock().unwrap();
        if let Some(name) = self.pending_config.lock().unwrap().take() {
            let config = self.configs.lock().unwrap()[&name].clone();
            for v in &mut e.variants {
                let c = config.variants.iter().find(|c| c.name == v.name).unwrap();
                v.current_count = c.initial_count;
                v.desired_count = c.initial_count;
            }
            e.config_name = name;
        }
        for v in &mut e.variants {
            v.current_count = v.desired_count;
        }
        e.status = VariantStatus::InService;
        e.status_text = "InService".into();
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl EndpointPort for FakeEndpoint {
    fn describe_endpoint(&self, _endpoint: &str) -> Result<EndpointView, PortError> {
        Ok(self.endpoint.lock().unwrap().clone())
    }

    fn describe_config(&self, config: &str) -> Result<ConfigView, PortError> {
        self.configs
            .lock()
            .unwrap()
            .get(config)
            .cloned()
            .ok_or_else(|| PortError::new("describing", config, PortErrorKind::NotFound, "no such config"))
    }

    fn create_config(&self, config: &NewConfig) -> Result<(), PortError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("create_config {} from {}", config.name, config.source));
        let mut configs = self.configs.lock().unwrap();
        let mut copy = configs[&config.source].clone();
        copy.name = config.name.clone();
        for o in &config.variants {
            let v = copy.variants.iter_mut().find(|v| v.name == o.name).unwrap();
            if let Some(t) = &o.instance_type {
                v.instance_type = Some(t.clone());
            }
            v.initial_count = o.initial_count.or(v.initial_count);
            v.initial_weight = o.initial_weight.or(v.initial_weight);
        }
        configs.insert(config.name.clone(), copy);
        Ok(())
    }

    fn update_endpoint(&self, endpoint: &str, config: &str, deployment: &Deployment) -> Result<(), PortError> {
        self.calls.lock().unwrap().push(format!(
            "update_endpoint {endpoint} -> {config} {} bake {} alarms {}",
            deployment.traffic_routing,
            deployment.wait_interval_seconds,
            deployment.rollback_alarms.join("+")
        ));
        if self.fail_update {
            return Err(fail(endpoint));
        }
        *self.pending_config.lock().unwrap() = Some(config.to_owned());
        self.set_status(VariantStatus::Updating);
        Ok(())
    }
}

impl ScalerEndpointPort for FakeEndpoint {
    fn set_count(&self, endpoint: &str, variant: &str, count: u32) -> Result<(), PortError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("set_count {endpoint}/{variant} {count}"));
        let mut e = self.endpoint.lock().unwrap();
        assert_eq!(
            e.status,
            VariantStatus::InService,
            "SageMaker rejects updates while updating"
        );
        e.variants.iter_mut().find(|v| v.name == variant).unwrap().desired_count = Some(count);
        e.status = VariantStatus::Updating;
        e.status_text = "Updating".into();
        Ok(())
    }

    fn delete_config(&self, config: &str) -> Result<(), PortError> {
        self.calls.lock().unwrap().push(format!("delete_config {config}"));
        self.configs.lock().unwrap().remove(config);
        Ok(())
    }
}

/// Per-minute invocations ending the minute before the run.
struct FakeMetrics {
    invocations: Vec<f64>,
    fail: bool,
}

impl EndpointMetrics for FakeMetrics {
    fn fetch(&self, request: &MetricsRequest) -> Result<Vec<Series>, PortError> {
        if self.fail {
            return Err(fail("GetMetricData"));
        }
        let n = self.invocations.len() as i64;
        let minute = |i: i64| request.end - Duration::minutes(n - i);
        Ok(vec![
            Series {
                id: "invocations".into(),
                points: self
                    .invocations
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (minute(i as i64), v))
                    .collect(),
            },
            Series {
                id: "cpu".into(),
                points: (0..n).map(|i| (minute(i), 30.0)).collect(),
            },
        ])
    }
}

#[derive(Default)]
struct FakeAas {
    registered: Mutex<Option<Registration>>,
    calls: Mutex<Vec<String>>,
    fail_register: bool,
}

impl Autoscaling for FakeAas {
    fn describe(&self, resource_id: &str) -> Result<Option<Registration>, PortError> {
        self.calls.lock().unwrap().push(format!("describe {resource_id}"));
        Ok(self.registered.lock().unwrap().clone())
    }

    fn deregister(&self, registration: &Registration) -> Result<(), PortError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("deregister {}", registration.resource_id));
        *self.registered.lock().unwrap() = None;
        Ok(())
    }

    fn register(&self, registration: &Registration) -> Result<(), PortError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("register {}", registration.resource_id));
        if self.fail_register {
            return Err(fail("RegisterScalableTarget"));
        }
        *self.registered.lock().unwrap() = Some(registration.clone());
        Ok(())
    }
}

fn registration(policy_type: &str) -> Registration {
    Registration {
        resource_id: "endpoint/ep/variant/AllTraffic".into(),
        min_capacity: 1,
        max_capacity: 4,
        role_arn: None,
        suspended: Suspended::default(),
        policies: vec![ScalingPolicy {
            name: "tt".into(),
            policy_type: policy_type.into(),
            target_tracking: (policy_type == TARGET_TRACKING).then(|| TargetTracking {
                target_value: 60.0,
                metric: TrackedMetric::Predefined {
                    metric_type: "SageMakerVariantInvocationsPerInstance".into(),
                    resource_label: None,
                },
                scale_out_cooldown: None,
                scale_in_cooldown: None,
                disable_scale_in: None,
            }),
        }],
        scheduled_actions: vec![],
    }
}

struct World {
    endpoint: FakeEndpoint,
    metrics: FakeMetrics,
    aas: FakeAas,
    state: MemoryState,
    sink: MemoryMetrics,
}

impl World {
    fn new(count: u32, instance_type: &str, invocations: &[f64]) -> Self {
        Self {
            endpoint: FakeEndpoint::new(count, instance_type),
            metrics: FakeMetrics {
                invocations: invocations.to_vec(),
                fail: false,
            },
            aas: FakeAas::default(),
            state: MemoryState::default(),
            sink: MemoryMetrics::default(),
        }
    }

    fn ports(&self) -> ControllerPorts<'_> {
        ControllerPorts {
            endpoints: &self.endpoint,
            metrics: &self.metrics,
            autoscaling: &self.aas,
            state: &self.state,
            sink: &self.sink,
        }
    }

    fn stored(&self) -> ScalerState {
        let (bytes, _) = self.state.get(&state_key("ep", "AllTraffic")).unwrap().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn published(&self) -> Vec<(String, f64)> {
        self.sink
            .data
            .lock()
            .unwrap()
            .iter()
            .map(|d| (d.metric_name.clone(), d.value))
            .collect()
    }
}

#[test]
fn scales_out_records_the_action_and_publishes_both_counts() {
    let w = World::new(2, "ml.g5.xlarge", &[150.0; 10]);
    let r = run_variant(&w.ports(), &ladder_policy(), &ControllerOptions::default(), t0()).unwrap();
    assert_eq!(r.decision.action, Action::SetCount { from: 2, to: 3 }, "{r:?}");
    assert!(matches!(
        r.outcome,
        Outcome::Applied {
            plan: Plan::SetCount {
                count: 3,
                take_over: None
            }
        }
    ));
    assert_eq!(w.endpoint.calls(), vec!["set_count ep/AllTraffic 3"]);
    assert_eq!(
        w.aas.calls.lock().unwrap().clone(),
        vec!["describe endpoint/ep/variant/AllTraffic"]
    );
    let s = w.stored();
    assert_eq!(s.history.last_scale_out, Some(t0()));
    assert_eq!(s.last_run.unwrap().outcome, r.outcome);
    let mut published = w.published();
    published.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        published,
        vec![
            ("CurrentInstanceCount".into(), 2.0),
            ("DesiredInstanceCount".into(), 3.0)
        ]
    );
    let datum = w.sink.data.lock().unwrap()[0].clone();
    assert_eq!(datum.namespace, "modelwatch/Scaling");
    assert_eq!(
        datum.dimensions,
        vec![
            ("EndpointName".to_owned(), "ep".to_owned()),
            ("VariantName".to_owned(), "AllTraffic".to_owned())
        ]
    );
}

#[test]
fn nothing_is_called_while_the_endpoint_is_not_in_service() {
    let w = World::new(2, "ml.g5.xlarge", &[500.0; 10]);
    w.endpoint.set_status(VariantStatus::Updating);
    let r = run_variant(&w.ports(), &ladder_policy(), &ControllerOptions::default(), t0()).unwrap();
    assert_eq!((r.decision.rule, r.outcome), (Rule::NotInService, Outcome::Held));
    assert!(w.endpoint.calls().is_empty());
    assert!(w.aas.calls.lock().unwrap().is_empty());
    assert_eq!(r.status, "Updating");
    // The run is still recorded.
    assert_eq!(w.stored().last_run.unwrap().decision.rule, Rule::NotInService);
}

#[test]
fn dry_run_decides_and_records_without_acting() {
    let w = World::new(2, "ml.g5.xlarge", &[150.0; 10]);
    let options = ControllerOptions {
        dry_run: true,
        ..ControllerOptions::default()
    };
    let r = run_variant(&w.ports(), &ladder_policy(), &options, t0()).unwrap();
    assert!(matches!(
        r.outcome,
        Outcome::DryRun {
            plan: Plan::SetCount { count: 3, .. }
        }
    ));
    assert!(w.endpoint.calls().is_empty());
    // Nothing happened to the endpoint, so no action time is recorded; the decided count is published.
    assert_eq!(w.stored().history.last_scale_out, None);
    assert!(w.published().contains(&("DesiredInstanceCount".into(), 3.0)));
    assert_eq!(r.desired_count, 3);
}

#[test]
fn an_aas_policy_is_not_fought_unless_taken_over() {
    let w = World::new(2, "ml.g5.xlarge", &[150.0; 10]);
    *w.aas.registered.lock().unwrap() = Some(registration(TARGET_TRACKING));
    let r = run_variant(&w.ports(), &ladder_policy(), &ControllerOptions::default(), t0()).unwrap();
    let Outcome::Refused { why } = &r.outcome else {
        panic!("{r:?}")
    };
    assert!(why.contains("policy:tt") && why.contains("AAS_MODE=refuse"), "{why}");
    assert!(w.endpoint.calls().is_empty());
    assert_eq!(w.stored().history.last_scale_out, None);
    assert!(w.published().contains(&("DesiredInstanceCount".into(), 2.0)));

    let w = World::new(2, "ml.g5.xlarge", &[150.0; 10]);
    *w.aas.registered.lock().unwrap() = Some(registration(TARGET_TRACKING));
    let options = ControllerOptions {
        aas_mode: AasMode::TakeOver,
        ..ControllerOptions::default()
    };
    let r = run_variant(&w.ports(), &ladder_policy(), &options, t0()).unwrap();
    assert!(r.outcome.acted(), "{r:?}");
    assert_eq!(
        w.aas.calls.lock().unwrap().clone(),
        vec![
            "describe endpoint/ep/variant/AllTraffic",
            "deregister endpoint/ep/variant/AllTraffic"
        ]
    );
    assert_eq!(w.endpoint.calls(), vec!["set_count ep/AllTraffic 3"]);
    assert!(w.aas.registered.lock().unwrap().is_none());
}

/// A store another run always writes to first.
struct Contended(MemoryState);

impl StateStore for Contended {
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, StateVersion)>, PortError> {
        self.0.get(key)
    }

    fn put_if(&self, key: &str, body: &[u8], expected: Option<&StateVersion>) -> Result<StateVersion, PortError> {
        // The other run's write lands between this run's read and its write.
        let current = self.0.get(key)?.map(|(_, v)| v);
        self.0.put_if(key, b"{}", current.as_ref())?;
        self.0.put_if(key, body, expected)
    }
}

#[test]
fn the_conditional_write_is_the_lock() {
    let w = World::new(2, "ml.g5.xlarge", &[150.0; 10]);
    let contended = Contended(MemoryState::default());
    let ports = ControllerPorts {
        state: &contended,
        ..w.ports()
    };
    let r = run_variant(&ports, &ladder_policy(), &ControllerOptions::default(), t0()).unwrap();
    assert_eq!(r.outcome, Outcome::LockLost);
    assert!(w.endpoint.calls().is_empty(), "the loser must not act");
    assert!(w.published().is_empty());
}

#[test]
fn a_type_change_deregisters_autoscaling_and_registers_it_again_once_in_service() {
    // At the maximum (4) and 300 per minute for 10 minutes: 4 x 60 = 240 is not enough.
    let w = World::new(4, "ml.g5.xlarge", &[300.0; 10]);
    *w.aas.registered.lock().unwrap() = Some(registration(TARGET_TRACKING));
    let options = ControllerOptions {
        rollback_alarms: vec!["ep-5xx".into(), "ep-latency".into()],
        ..ControllerOptions::default()
    };
    let r = run_variant(&w.ports(), &ladder_policy(), &options, t0()).unwrap();
    assert_eq!(r.decision.rule, Rule::VerticalUp, "{r:?}");
    let name = new_config_name("ep", t0());
    assert_eq!(
        w.endpoint.calls(),
        vec![
            format!("create_config {name} from ep-config"),
            format!("update_endpoint ep -> {name} ALL_AT_ONCE bake {BAKING_SECONDS} alarms ep-5xx+ep-latency"),
        ]
    );
    assert_eq!(
        w.aas.calls.lock().unwrap().clone(),
        vec![
            "describe endpoint/ep/variant/AllTraffic",
            "deregister endpoint/ep/variant/AllTraffic"
        ]
    );
    let created = w.endpoint.configs.lock().unwrap()[&name].clone();
    assert_eq!(created.variants[0].instance_type.as_deref(), Some("ml.g5.2xlarge"));
    assert_eq!(
        created.variants[0].initial_count,
        Some(3),
        "300 per minute at 100 per instance"
    );
    assert_eq!(
        created.variants[1].initial_count,
        Some(2),
        "the other variant keeps its live count"
    );
    assert_eq!(created.variants[1].initial_weight, Some(0.1));
    let s = w.stored();
    assert_eq!(s.history.last_type_change, Some(t0()));
    assert_eq!(s.pending_registration.as_ref().unwrap().config_name, name);

    // Still updating a minute later: nothing is registered yet.
    let r = run_variant(&w.ports(), &ladder_policy(), &options, t0() + Duration::minutes(1)).unwrap();
    assert_eq!(r.outcome, Outcome::Held);
    assert!(w.aas.registered.lock().unwrap().is_none());

    // In service on the new type: the registration comes back, and that is the run's only action.
    w.endpoint.finish();
    let r = run_variant(&w.ports(), &ladder_policy(), &options, t0() + Duration::minutes(2)).unwrap();
    assert!(
        matches!(&r.outcome, Outcome::Applied { plan: Plan::Reregister { registration: back } }
            if *back == registration(TARGET_TRACKING)),
        "{r:?}"
    );
    assert_eq!(r.instance_type, "ml.g5.2xlarge");
    assert_eq!(*w.aas.registered.lock().unwrap(), Some(registration(TARGET_TRACKING)));
    assert!(w.stored().pending_registration.is_none());
    assert_eq!(w.endpoint.calls().len(), 2, "no further endpoint call");
}

#[test]
fn a_failed_type_change_is_undone_and_not_recorded_as_taken() {
    let mut w = World::new(4, "ml.g5.xlarge", &[300.0; 10]);
    w.endpoint.fail_update = true;
    *w.aas.registered.lock().unwrap() = Some(registration(TARGET_TRACKING));
    let r = run_variant(&w.ports(), &ladder_policy(), &ControllerOptions::default(), t0()).unwrap();
    let Outcome::Failed { error, undo_errors, .. } = &r.outcome else {
        panic!("{r:?}")
    };
    assert!(
        error.starts_with("UpdateEndpoint: ") && error.contains("Throttling"),
        "{error}"
    );
    assert!(undo_errors.is_empty());
    let name = new_config_name("ep", t0());
    assert_eq!(w.endpoint.calls().last().unwrap(), &format!("delete_config {name}"));
    assert_eq!(*w.aas.registered.lock().unwrap(), Some(registration(TARGET_TRACKING)));
    let s = w.stored();
    assert_eq!((s.history.last_type_change, s.pending_registration), (None, None));
    assert!(matches!(s.last_run.unwrap().outcome, Outcome::Failed { .. }));

    // When the registration cannot be put back either, it stays pending for the next run.
    let mut w2 = World::new(4, "ml.g5.xlarge", &[300.0; 10]);
    w2.endpoint.fail_update = true;
    w2.aas.fail_register = true;
    *w2.aas.registered.lock().unwrap() = Some(registration(TARGET_TRACKING));
    let r = run_variant(&w2.ports(), &ladder_policy(), &ControllerOptions::default(), t0()).unwrap();
    let Outcome::Failed { undo_errors, .. } = &r.outcome else {
        panic!("{r:?}")
    };
    assert_eq!(undo_errors.len(), 1, "{undo_errors:?}");
    assert!(w2.stored().pending_registration.is_some());
}

#[test]
fn a_registration_that_cannot_be_restored_blocks_the_type_change() {
    let w = World::new(4, "ml.g5.xlarge", &[300.0; 10]);
    *w.aas.registered.lock().unwrap() = Some(registration("StepScaling"));
    let r = run_variant(&w.ports(), &ladder_policy(), &ControllerOptions::default(), t0()).unwrap();
    let Outcome::Refused { why } = &r.outcome else {
        panic!("{r:?}")
    };
    assert!(why.contains("StepScaling"), "{why}");
    assert!(w.endpoint.calls().is_empty());
    assert!(w.aas.registered.lock().unwrap().is_some());
}

#[test]
fn failed_metrics_hold_and_are_reported() {
    let mut w = World::new(2, "ml.g5.xlarge", &[150.0; 10]);
    w.metrics.fail = true;
    let r = run_variant(&w.ports(), &ladder_policy(), &ControllerOptions::default(), t0()).unwrap();
    assert_eq!(r.decision.rule, Rule::MetricsUnavailable);
    assert!(r.metrics_error.unwrap().contains("Throttling"));
    assert_eq!(w.stored().history.consecutive_metric_failures, 1);
    assert!(w.endpoint.calls().is_empty());
}

#[test]
fn a_corrupt_state_is_an_error_not_overwritten() {
    let w = World::new(2, "ml.g5.xlarge", &[150.0; 10]);
    w.state
        .put_if(&state_key("ep", "AllTraffic"), b"not json", None)
        .unwrap();
    let e = run_variant(&w.ports(), &ladder_policy(), &ControllerOptions::default(), t0()).unwrap_err();
    assert_eq!(e.to_string(), "scaler state scaler/ep/AllTraffic.json is invalid");
    assert!(w.endpoint.calls().is_empty());
}

#[test]
fn new_config_names_fit_sagemakers_pattern() {
    let long = "a".repeat(63);
    let name = new_config_name(&long, t0());
    assert_eq!(name.len(), CONFIG_NAME_MAX);
    assert!(name.ends_with("-mw-20240117120030"), "{name}");
    assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let fake = FakeEndpoint::new(3, "ml.g5.xlarge");
    let e = fake.endpoint.lock().unwrap().clone();
    let c = fake.configs.lock().unwrap()["ep-config"].clone();
    let n = new_config(&e, &c, "AllTraffic", "ml.g5.2xlarge", 2, t0());
    assert_eq!(n.source, "ep-config");
    assert_eq!(n.variants[0].instance_type.as_deref(), Some("ml.g5.2xlarge"));
    assert_eq!(
        (n.variants[0].initial_count, n.variants[0].initial_weight),
        (Some(2), Some(0.9))
    );
    assert_eq!(n.variants[1].instance_type, None);
    assert_eq!(n.variants[1].initial_count, Some(2));
    let d = Deployment::blue_green(&["a".to_owned()]);
    assert!(d.max_execution_seconds > d.wait_interval_seconds + d.termination_wait_seconds);
    assert!((600..=28_800).contains(&d.max_execution_seconds));
}
