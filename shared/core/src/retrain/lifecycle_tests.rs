//! The retraining loop over in-memory ports: a storm of notifications launches one job, a completed job is
//! registered once, an approved version is deployed once with its deployment configuration, the deployment is
//! followed to its end, and rollback restores the previous configuration.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::history::{JobStatus, RetrainHistory};
use super::lifecycle::*;
use super::settings::RetrainSettings;
use super::versions::{ChangeCause, DeploymentStatus, Outcome};
use crate::drift::DriftReport;
use crate::memory::MemoryState;
use crate::monitor::{MarkerStatus, Target, WindowMarker};
use crate::ports::{PortError, PortErrorKind, StateStore};
use crate::report::DRIFT_FILE;
use crate::scaling::VariantStatus;
use crate::scaling::controller::{Deployment as DeploymentConfig, NewConfig};
use crate::scaling::endpoint::{ConfigVariant, ConfigView, LiveVariant, status_of};
use crate::violations::{VIOLATIONS_FILE, Violations};
use crate::window::Window;

const SETTINGS: &str = r#"{"endpoint": "churn-prod", "policy": {"model": "churn",
    "checks": {"quality": {"enabled": false}, "drift_share": {"above": 0.5}},
    "consecutive_windows": 3, "min_interval_hours": 24,
    "budget": {"monthly_training_hours": 10, "estimated_hours_per_job": 2}},
    "training": {"template_job": "churn-initial", "data_s3_uri": "s3://ml/churn/{date}/"},
    "registration": {"auto_approve": true, "metric": "validation:auc"},
    "deployment": {"traffic_routing": "LINEAR", "step_percent": 25, "wait_seconds": 300}}"#;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 13, 10, 0).unwrap()
}

fn ctx() -> Context {
    Context {
        training_role: "arn:aws:iam::1:role/train".into(),
        model_role: "arn:aws:iam::1:role/model".into(),
        rollback_alarms: vec!["churn-errors".into()],
        baseline_uri: Some("s3://b/baselines/churn-prod/AllTraffic".into()),
    }
}

/// SageMaker in memory: the calls made, and the state they change.
#[derive(Default)]
struct Fake {
    jobs: Mutex<BTreeMap<String, TrainingJobView>>,
    created_jobs: Mutex<Vec<TrainingRequest>>,
    fail_create: Mutex<bool>,
    packages: Mutex<Vec<PackageView>>,
    registered: Mutex<Vec<RegisterRequest>>,
    endpoint: Mutex<Option<EndpointView>>,
    models: Mutex<Vec<NewModel>>,
    configs: Mutex<Vec<NewConfig>>,
    updates: Mutex<Vec<(String, String, DeploymentConfig)>>,
    serving_environment: Mutex<BTreeMap<String, String>>,
}

fn job(name: &str, status: JobStatus) -> TrainingJobView {
    TrainingJobView {
        name: name.into(),
        status,
        failure_reason: None,
        hours: Some(1.5),
        model_artifacts: Some(format!("s3://ml/out/{name}/model.tar.gz")),
        final_metrics: BTreeMap::from([("validation:auc".to_owned(), 0.91)]),
        tags: vec![super::naming::Tag {
            key: "cost-centre".into(),
            value: "ml".into(),
        }],
    }
}

impl Fake {
    fn new() -> Self {
        let f = Fake::default();
        f.jobs
            .lock()
            .unwrap()
            .insert("churn-initial".into(), job("churn-initial", JobStatus::Completed));
        *f.endpoint.lock().unwrap() = Some(EndpointView {
            name: "churn-prod".into(),
            status: VariantStatus::InService,
            status_text: "InService".into(),
            config_name: "churn-prod-config-1".into(),
            failure_reason: None,
            variants: vec![LiveVariant {
                name: "AllTraffic".into(),
                current_count: Some(3),
                desired_count: Some(3),
                desired_weight: Some(1.0),
            }],
        });
        f
    }

    fn set_endpoint(&self, status: &str, config: &str) {
        let mut e = self.endpoint.lock().unwrap();
        let e = e.as_mut().unwrap();
        e.status = status_of(status);
        e.status_text = status.into();
        e.config_name = config.into();
    }
}

impl TrainingPort for Fake {
    fn describe_job(&self, name: &str) -> Result<Option<TrainingJobView>, PortError> {
        Ok(self.jobs.lock().unwrap().get(name).cloned())
    }

    fn create_job(&self, request: &TrainingRequest) -> Result<(), PortError> {
        if *self.fail_create.lock().unwrap() {
            return Err(PortError::new(
                "creating training job",
                &request.job_name,
                PortErrorKind::Other,
                "ResourceLimitExceeded",
            ));
        }
        self.created_jobs.lock().unwrap().push(request.clone());
        self.jobs
            .lock()
            .unwrap()
            .insert(request.job_name.clone(), job(&request.job_name, JobStatus::InProgress));
        Ok(())
    }
}

impl RegistryPort for Fake {
    fn register(&self, request: &RegisterRequest) -> Result<String, PortError> {
        self.registered.lock().unwrap().push(request.clone());
        let mut packages = self.packages.lock().unwrap();
        let version = packages.len() as u32 + 1;
        let arn = format!("arn:aws:sagemaker:r:1:model-package/{}/{version}", request.group);
        packages.push(PackageView {
            arn: arn.clone(),
            group: request.group.clone(),
            version,
            approval: request.approval,
            image: Some(request.image.clone()),
            model_data_url: Some(request.model_data_url.clone()),
            metadata: request.metadata.clone(),
        });
        Ok(arn)
    }

    fn describe_package(&self, arn: &str) -> Result<PackageView, PortError> {
        self.packages
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.arn == arn)
            .cloned()
            .ok_or_else(|| PortError::new("describing model package", arn, PortErrorKind::NotFound, "no such"))
    }

    fn latest_approved(&self, group: &str) -> Result<Option<PackageView>, PortError> {
        Ok(self
            .packages
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|p| p.group == group && p.approval == Approval::Approved)
            .cloned())
    }
}

impl EndpointPort for Fake {
    fn describe_endpoint(&self, _endpoint: &str) -> Result<EndpointView, PortError> {
        Ok(self.endpoint.lock().unwrap().clone().unwrap())
    }

    /// Every configuration's variant serves `model-of-{config}`.
    fn describe_config(&self, config: &str) -> Result<ConfigView, PortError> {
        Ok(ConfigView {
            name: config.into(),
            variants: vec![ConfigVariant {
                name: "AllTraffic".into(),
                instance_type: Some("ml.m5.large".into()),
                initial_count: Some(1),
                initial_weight: Some(1.0),
                model_name: Some(format!("model-of-{config}")),
            }],
        })
    }

    fn create_config(&self, config: &NewConfig) -> Result<(), PortError> {
        self.configs.lock().unwrap().push(config.clone());
        Ok(())
    }

    fn update_endpoint(&self, endpoint: &str, config: &str, deployment: &DeploymentConfig) -> Result<(), PortError> {
        self.updates
            .lock()
            .unwrap()
            .push((endpoint.into(), config.into(), deployment.clone()));
        let current = self.endpoint.lock().unwrap().clone().unwrap().config_name;
        self.set_endpoint("Updating", &current);
        Ok(())
    }
}

impl ModelPort for Fake {
    fn describe_model(&self, name: &str) -> Result<ServingModel, PortError> {
        Ok(ServingModel {
            name: name.into(),
            image: Some("xgboost:1.7".into()),
            environment: self.serving_environment.lock().unwrap().clone(),
            model_data_url: Some(format!("s3://ml/serving/{name}/model.tar.gz")),
        })
    }

    fn create_model(&self, model: &NewModel) -> Result<(), PortError> {
        self.models.lock().unwrap().push(model.clone());
        Ok(())
    }
}

/// Labelled data in memory: keys, and the manifests written.
#[derive(Default)]
struct Labelled {
    keys: Vec<String>,
    written: Mutex<Vec<(String, String)>>,
}

impl LabelledDataPort for Labelled {
    fn list(&self, folder: &str) -> Result<Vec<String>, PortError> {
        Ok(self.keys.iter().filter(|k| k.starts_with(folder)).cloned().collect())
    }

    fn put(&self, key: &str, body: &[u8]) -> Result<String, PortError> {
        self.written
            .lock()
            .unwrap()
            .push((key.to_owned(), String::from_utf8(body.to_vec()).unwrap()));
        Ok(format!("s3://labelled/{key}"))
    }
}

struct World {
    labelled: Labelled,
    state: MemoryState,
    reports: MemoryState,
    baseline: MemoryState,
    fake: Fake,
    settings: RetrainSettings,
}

impl World {
    fn new() -> Self {
        Self {
            labelled: Labelled::default(),
            state: MemoryState::default(),
            reports: MemoryState::default(),
            baseline: MemoryState::default(),
            fake: Fake::new(),
            settings: RetrainSettings::from_json(SETTINGS).unwrap(),
        }
    }

    fn ports(&self) -> RetrainPorts<'_> {
        RetrainPorts {
            state: &self.state,
            reports: &self.reports,
            baseline: &self.baseline,
            baseline_name: "s3://b/baseline",
            training: &self.fake,
            registry: &self.fake,
            endpoints: &self.fake,
            models: &self.fake,
            labelled: Some(&self.labelled),
        }
    }

    /// The evaluator's work for the hour starting `hours_back` hours before now's hour: reports, then the
    /// marker (`committed` or only claimed).
    fn window(&self, hours_back: i64, drift_share: f64, status: MarkerStatus) {
        let target = Target {
            endpoint: "churn-prod".into(),
            variant: "AllTraffic".into(),
            schedule: "s".into(),
        };
        let start = crate::window::truncate_to_hour(now()) - Duration::hours(hours_back);
        let window = Window {
            start,
            end: start + Duration::hours(1),
        };
        let folder = target.report_folder(&window);
        let drift = DriftReport {
            compared: 5,
            drifted: (drift_share * 5.0).round() as usize,
            drift_share,
            ..DriftReport::default()
        };
        let put = |key: &str, body: Vec<u8>| {
            let version = self.reports.get(key).unwrap().map(|(_, v)| v);
            self.reports.put_if(key, &body, version.as_ref()).unwrap();
        };
        put(&format!("{folder}/{DRIFT_FILE}"), serde_json::to_vec(&drift).unwrap());
        put(
            &format!("{folder}/{VIOLATIONS_FILE}"),
            serde_json::to_vec(&Violations::default()).unwrap(),
        );
        let marker = WindowMarker {
            status,
            run_id: "run".into(),
            claimed_at: window.end,
            summary: None,
            withheld: None,
        };
        self.state
            .put_if(&target.marker_key(&window), &serde_json::to_vec(&marker).unwrap(), None)
            .unwrap();
    }

    fn drifting(&self) {
        for back in 1..=3 {
            self.window(back, 0.8, MarkerStatus::Committed);
        }
    }

    fn history(&self) -> RetrainHistory {
        let (bytes, _) = self.state.get(&history_key("churn")).unwrap().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn check(&self, at: DateTime<Utc>) -> LaunchReport {
        check_and_launch(&self.ports(), &self.settings, &ctx(), at).unwrap()
    }
}

#[test]
fn a_storm_of_notifications_launches_one_job_with_its_lineage() {
    let w = World::new();
    w.drifting();
    let first = w.check(now());
    let LaunchOutcome::Launched { job_name, .. } = &first.outcome else {
        panic!("{first:?}");
    };
    for k in 1..=2 {
        let again = w.check(now() + Duration::seconds(k));
        assert_eq!(again.outcome, LaunchOutcome::Held, "{again:?}");
        assert!(again.decision.has_reason("training_in_progress"), "{again:?}");
    }
    let created = w.fake.created_jobs.lock().unwrap().clone();
    assert_eq!(created.len(), 1);
    let req = &created[0];
    assert_eq!(&req.job_name, job_name);
    assert_eq!(req.template_job, "churn-initial");
    assert_eq!(req.channel, "train");
    assert_eq!(req.data_s3_uri, "s3://ml/churn/2026-11-27/");
    assert_eq!(req.role_arn, "arn:aws:iam::1:role/train");
    let tag = |k: &str| req.tags.iter().find(|t| t.key == k).map(|t| t.value.clone());
    assert_eq!(tag("modelwatch:trigger").as_deref(), Some("drift_share"));
    assert_eq!(
        tag("modelwatch:baseline").as_deref(),
        Some("s3://b/baselines/churn-prod/AllTraffic")
    );
    assert_eq!(
        tag("modelwatch:previous-training-job").as_deref(),
        Some("churn-initial")
    );
    assert_eq!(
        tag("cost-centre").as_deref(),
        Some("ml"),
        "the template's tags are kept"
    );
    let h = w.history();
    assert_eq!(h.launches.len(), 1);
    assert_eq!(h.launches[0].status, JobStatus::InProgress);
    assert_eq!(h.launches[0].trigger, "drift_share");
}

#[test]
fn concurrent_handlers_launch_once() {
    let w = World::new();
    w.drifting();
    let outcomes: Vec<LaunchReport> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| w.check(now()))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let launched = outcomes
        .iter()
        .filter(|r| matches!(r.outcome, LaunchOutcome::Launched { .. }))
        .count();
    assert_eq!(launched, 1, "{outcomes:?}");
    assert_eq!(w.fake.created_jobs.lock().unwrap().len(), 1);
}

#[test]
fn claimed_windows_do_not_count_and_unreadable_ones_are_named() {
    let w = World::new();
    w.window(1, 0.8, MarkerStatus::Committed);
    w.window(2, 0.8, MarkerStatus::Claimed);
    w.window(3, 0.8, MarkerStatus::Committed);
    let r = w.check(now());
    assert_eq!(r.windows, 2);
    assert_eq!(r.outcome, LaunchOutcome::Held);
    assert!(r.decision.has_reason("not_sustained"), "{r:?}");
    assert!(w.fake.created_jobs.lock().unwrap().is_empty());

    // A committed window whose drift report is gone is a gap, and named.
    let w = World::new();
    w.drifting();
    let start = crate::window::truncate_to_hour(now()) - Duration::hours(2);
    let key = format!("churn-prod/AllTraffic/{}/{DRIFT_FILE}", start.format("%Y/%m/%d/%H"));
    let v = w.reports.get(&key).unwrap().unwrap().1;
    w.reports.put_if(&key, b"not json", Some(&v)).unwrap();
    let r = w.check(now());
    assert_eq!(r.unreadable_windows.len(), 1, "{r:?}");
    assert!(r.unreadable_windows[0].contains(DRIFT_FILE));
    assert_eq!(r.outcome, LaunchOutcome::Held);
}

#[test]
fn a_failed_create_is_recorded_and_does_not_block_the_next_launch() {
    let w = World::new();
    w.drifting();
    *w.fake.fail_create.lock().unwrap() = true;
    let r = w.check(now());
    let LaunchOutcome::Failed { error, .. } = &r.outcome else {
        panic!("{r:?}")
    };
    assert!(error.contains("ResourceLimitExceeded"), "{error}");
    let h = w.history();
    assert_eq!(h.launches[0].status, JobStatus::Failed);
    assert_eq!(h.launches[0].hours_used, Some(0.0));
    // Within the interval it holds; after it, with fresh evidence, it launches again.
    *w.fake.fail_create.lock().unwrap() = false;
    assert_eq!(w.check(now() + Duration::minutes(5)).outcome, LaunchOutcome::Held);
    let later = now() + Duration::hours(25);
    let w2 = World {
        state: w.state,
        ..World::new()
    };
    for back in 1..=3 {
        let hours_back = back;
        let start = crate::window::truncate_to_hour(later) - Duration::hours(hours_back);
        let at = crate::window::truncate_to_hour(now());
        w2.window((at - start).num_hours(), 0.9, MarkerStatus::Committed);
    }
    let r = w2.check(later);
    assert!(matches!(r.outcome, LaunchOutcome::Launched { .. }), "{r:?}");
}

/// Launches a job and completes it.
fn completed(w: &World, auc: f64) -> String {
    w.drifting();
    let LaunchOutcome::Launched { job_name, .. } = w.check(now()).outcome else {
        panic!("no launch")
    };
    let mut done = job(&job_name, JobStatus::Completed);
    done.final_metrics.insert("validation:auc".into(), auc);
    w.fake.jobs.lock().unwrap().insert(job_name.clone(), done);
    job_name
}

#[test]
fn a_completed_job_is_registered_once_and_approved_when_it_beats_the_current_version() {
    let w = World::new();
    let name = completed(&w, 0.93);
    let r = on_training_job(&w.ports(), &w.settings, &ctx(), &name, now()).unwrap();
    let TrainingReport::Registered {
        approval,
        model_package,
        ..
    } = &r
    else {
        panic!("{r:?}")
    };
    assert_eq!(
        *approval,
        Approval::Approved,
        "no approved version yet: the first is approved"
    );
    let again = on_training_job(&w.ports(), &w.settings, &ctx(), &name, now()).unwrap();
    assert!(matches!(&again, TrainingReport::Registered { model_package: m, .. } if m == model_package));
    let registered = w.fake.registered.lock().unwrap().clone();
    assert_eq!(registered.len(), 1, "registered once");
    let req = &registered[0];
    assert_eq!(req.group, "churn");
    assert_eq!(req.image, "xgboost:1.7", "the serving model's image");
    assert_eq!(req.model_data_url, format!("s3://ml/out/{name}/model.tar.gz"));
    assert_eq!(req.metadata.get("modelwatch:training-job"), Some(&name));
    assert_eq!(
        req.metadata.get("modelwatch:metric:validation:auc").map(String::as_str),
        Some("0.93")
    );
    assert_eq!(req.client_token, super::naming::client_token(&name));
    let h = w.history();
    assert_eq!(h.launches[0].status, JobStatus::Completed);
    assert_eq!(h.launches[0].hours_used, Some(1.5));
    assert_eq!(h.launches[0].model_package.as_ref(), Some(model_package));

    // The next job, worse than the approved 0.93, waits for a person.
    let w2 = World {
        state: w.state,
        fake: w.fake,
        ..World::new()
    };
    let later = now() + Duration::hours(30);
    for back in 1..=3 {
        let start = crate::window::truncate_to_hour(later) - Duration::hours(back);
        w2.window(
            (crate::window::truncate_to_hour(now()) - start).num_hours(),
            0.9,
            MarkerStatus::Committed,
        );
    }
    let LaunchOutcome::Launched {
        job_name, template_job, ..
    } = w2.check(later).outcome
    else {
        panic!("no second launch")
    };
    assert_eq!(template_job, name, "the last completed retraining job is the template");
    let mut done = job(&job_name, JobStatus::Completed);
    done.final_metrics.insert("validation:auc".into(), 0.92);
    w2.fake.jobs.lock().unwrap().insert(job_name.clone(), done);
    let r = on_training_job(&w2.ports(), &w2.settings, &ctx(), &job_name, now()).unwrap();
    assert!(
        matches!(&r, TrainingReport::Registered { approval: Approval::PendingManualApproval, why, .. } if why.contains("0.93")),
        "{r:?}"
    );
}

#[test]
fn a_failed_job_is_recorded_with_its_reason_and_nothing_is_registered() {
    let w = World::new();
    w.drifting();
    let LaunchOutcome::Launched { job_name, .. } = w.check(now()).outcome else {
        panic!()
    };
    let mut failed = job(&job_name, JobStatus::Failed);
    failed.failure_reason = Some("AlgorithmError: out of memory".into());
    failed.hours = Some(0.25);
    w.fake.jobs.lock().unwrap().insert(job_name.clone(), failed);
    let r = on_training_job(&w.ports(), &w.settings, &ctx(), &job_name, now()).unwrap();
    assert!(
        matches!(
            r,
            TrainingReport::Ended {
                status: JobStatus::Failed,
                ..
            }
        ),
        "{r:?}"
    );
    let h = w.history();
    assert_eq!(h.launches[0].status, JobStatus::Failed);
    assert_eq!(h.launches[0].hours_used, Some(0.25));
    assert_eq!(h.launches[0].failure.as_deref(), Some("AlgorithmError: out of memory"));
    assert!(w.fake.registered.lock().unwrap().is_empty());
    let other = on_training_job(&w.ports(), &w.settings, &ctx(), "someone-elses-job", now()).unwrap();
    assert!(matches!(other, TrainingReport::NotOurs { .. }));
}

/// A registered, approved version 1.
fn approved(w: &World) -> String {
    let name = completed(w, 0.95);
    let TrainingReport::Registered { model_package, .. } =
        on_training_job(&w.ports(), &w.settings, &ctx(), &name, now()).unwrap()
    else {
        panic!()
    };
    model_package
}

#[test]
fn an_approved_version_is_deployed_once_blue_green_with_the_rollback_alarms() {
    let w = World::new();
    let arn = approved(&w);
    let at = now() + Duration::hours(2);
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, at).unwrap();
    let DeployOutcome::Deploying {
        version,
        model_name,
        endpoint_config,
        deployment,
    } = &d
    else {
        panic!("{d:?}")
    };
    assert_eq!(version, "1");
    assert_eq!(deployment.traffic_routing, "LINEAR");
    // 25 % of three instances, rounded up to one instance (a third of the fleet, within the 10-50 % of a step).
    assert_eq!(
        deployment.step.map(|s| (s.unit, s.value)),
        Some((crate::scaling::endpoint::CapacityUnit::InstanceCount, 1))
    );
    assert_eq!(deployment.wait_interval_seconds, 300);
    assert_eq!(deployment.rollback_alarms, vec!["churn-errors".to_owned()]);
    let models = w.fake.models.lock().unwrap().clone();
    assert_eq!(models.len(), 1);
    assert_eq!(&models[0].name, model_name);
    assert_eq!(models[0].source, "model-of-churn-prod-config-1");
    assert_eq!(models[0].role_arn, "arn:aws:iam::1:role/model");
    assert!(models[0].model_data_url.ends_with("model.tar.gz"));
    let configs = w.fake.configs.lock().unwrap().clone();
    assert_eq!(configs[0].source, "churn-prod-config-1");
    assert_eq!(configs[0].variants[0].model_name.as_ref(), Some(model_name));
    assert_eq!(
        configs[0].variants[0].initial_count,
        Some(3),
        "the scaler's count is kept"
    );
    // Repeated approval events change nothing.
    let again = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, at + Duration::seconds(3)).unwrap();
    assert!(matches!(again, DeployOutcome::AlreadyDeployed { .. }), "{again:?}");
    assert_eq!(w.fake.updates.lock().unwrap().len(), 1);
    let history = version_history(&w.state, "churn-prod").unwrap();
    assert_eq!(history.deployments.len(), 2);
    assert_eq!(history.deployments[0].cause, ChangeCause::Initial);
    assert_eq!(history.serving().unwrap().endpoint_config, "churn-prod-config-1");
    assert_eq!(history.in_progress().unwrap().endpoint_config, *endpoint_config);

    // Served: the endpoint is back InService on the new configuration.
    w.fake.set_endpoint("InService", endpoint_config);
    let ended = reconcile(&w.ports(), "churn-prod", at + Duration::minutes(30))
        .unwrap()
        .expect("the deployment ended");
    assert_eq!(ended.outcome, Outcome::Served);
    assert_eq!(ended.record.endpoint_config, *endpoint_config);
    // The new version's baseline is requested once it serves, from the data it was trained on.
    let with_baseline = RetrainSettings::from_json(
        &(SETTINGS.trim_end().strip_suffix('}').unwrap().to_owned()
            + r#", "new_baseline": {"dataset": "s3://ml/churn/{date}/train.csv", "baseline": "s3://b/{version}"}}"#),
    )
    .unwrap();
    let request = baseline_request(&with_baseline, &ended, &w.history()).expect("a request");
    assert_eq!(request.dataset, "s3://ml/churn/2026-11-27/train.csv");
    assert_eq!(request.baseline, "s3://b/1");
    assert_eq!(
        baseline_request(&w.settings, &ended, &w.history()),
        None,
        "the file asks for none"
    );
    let history = version_history(&w.state, "churn-prod").unwrap();
    assert_eq!(history.serving().unwrap().version, "1");

    // Rollback: one UpdateEndpoint to a copy of the initial configuration that keeps the fleet's current size and
    // type (three instances of ml.m5.large now, whatever the old configuration said), all at once, no alarms.
    let rb = rollback(&w.ports(), "churn-prod", None, "cli", at + Duration::hours(1)).unwrap();
    assert_eq!((rb.from_version.as_str(), rb.to_version.as_str()), ("1", "initial"));
    let updates = w.fake.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 2);
    let configs = w.fake.configs.lock().unwrap().clone();
    let copy = configs.last().unwrap();
    assert_eq!(copy.source, "churn-prod-config-1");
    assert_eq!(
        (updates[1].1.as_str(), rb.endpoint_config.as_str()),
        (copy.name.as_str(), copy.name.as_str())
    );
    assert_eq!(
        (
            copy.variants[0].name.as_str(),
            copy.variants[0].initial_count,
            copy.variants[0].instance_type.as_deref()
        ),
        ("AllTraffic", Some(3), Some("ml.m5.large"))
    );
    assert_eq!(copy.variants[0].model_name, None, "the initial version's own model");
    assert_eq!(updates[1].2.traffic_routing, "ALL_AT_ONCE");
    assert!(updates[1].2.rollback_alarms.is_empty());
    // While that deployment runs, another rollback is refused.
    w.fake.set_endpoint("InService", endpoint_config);
    let busy = rollback(
        &w.ports(),
        "churn-prod",
        None,
        "cli",
        at + Duration::hours(1) + Duration::minutes(1),
    );
    assert!(matches!(busy, Err(LifecycleError::Refused(_))), "{busy:?}");
    w.fake.set_endpoint("InService", &rb.endpoint_config);
    reconcile(&w.ports(), "churn-prod", at + Duration::hours(2)).unwrap();
    let history = version_history(&w.state, "churn-prod").unwrap();
    let serving = history.serving().unwrap();
    assert_eq!(serving.version, "initial");
    assert!(matches!(serving.cause, ChangeCause::Rollback { .. }));
    assert!(history.render().contains("initial"));
}

#[test]
fn a_deployment_rolled_back_by_its_alarms_is_recorded_failed_after_the_grace() {
    let w = World::new();
    let arn = approved(&w);
    let at = now() + Duration::hours(2);
    let DeployOutcome::Deploying { endpoint_config, .. } =
        deploy_package(&w.ports(), &w.settings, &ctx(), &arn, at).unwrap()
    else {
        panic!()
    };
    w.fake.set_endpoint("RollingBack", "churn-prod-config-1");
    assert_eq!(
        reconcile(&w.ports(), "churn-prod", at + Duration::minutes(10)).unwrap(),
        None
    );
    w.fake.set_endpoint("InService", "churn-prod-config-1");
    assert_eq!(
        reconcile(&w.ports(), "churn-prod", at + Duration::minutes(5)).unwrap(),
        None,
        "within the grace a handler may still be between its record and UpdateEndpoint"
    );
    let r = reconcile(&w.ports(), "churn-prod", at + Duration::minutes(DEPLOY_GRACE_MINUTES))
        .unwrap()
        .expect("the deployment ended");
    assert!(matches!(&r.outcome, Outcome::Failed { .. }), "{r:?}");
    assert_eq!(r.record.endpoint_config, endpoint_config);
    assert_eq!(r.record.status, DeploymentStatus::Failed);
    let history = version_history(&w.state, "churn-prod").unwrap();
    assert_eq!(history.serving().unwrap().version, "initial");
    assert_eq!(history.deployments[1].status, DeploymentStatus::Failed);
    // The failed version is not deployed again by a repeated approval.
    let again = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, at + Duration::hours(1)).unwrap();
    assert!(matches!(
        again,
        DeployOutcome::AlreadyDeployed {
            status: DeploymentStatus::Failed,
            ..
        }
    ));
    // Nothing served but the initial version: no rollback target.
    let none = rollback(&w.ports(), "churn-prod", None, "cli", at + Duration::hours(2));
    assert!(matches!(none, Err(LifecycleError::Rollback(_))), "{none:?}");
}

#[test]
fn packages_not_approved_or_of_another_group_are_not_deployed() {
    let w = World::new();
    let arn = approved(&w);
    w.fake.packages.lock().unwrap()[0].approval = Approval::PendingManualApproval;
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, now()).unwrap();
    assert!(matches!(d, DeployOutcome::Ignored { .. }), "{d:?}");
    w.fake.packages.lock().unwrap()[0].approval = Approval::Approved;
    w.fake.packages.lock().unwrap()[0].group = "fraud".into();
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, now()).unwrap();
    assert!(matches!(d, DeployOutcome::Ignored { .. }), "{d:?}");
    assert!(w.fake.updates.lock().unwrap().is_empty());
    // A busy endpoint puts the approval off: nothing deployed, the approval kept to deploy later.
    w.fake.packages.lock().unwrap()[0].group = "churn".into();
    w.fake.set_endpoint("Updating", "churn-prod-config-1");
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, now()).unwrap();
    assert!(matches!(d, DeployOutcome::Waiting { .. }), "{d:?}");
    let history = version_history(&w.state, "churn-prod").unwrap();
    assert!(history.deployments.is_empty());
    assert_eq!(history.pending_approval.map(|p| p.package_arn), Some(arn.clone()));
    assert!(w.fake.updates.lock().unwrap().is_empty());
}

#[test]
fn an_approval_that_arrives_while_the_endpoint_updates_is_deployed_when_it_is_in_service() {
    let w = World::new();
    let arn = approved(&w);
    w.fake.set_endpoint("Updating", "churn-prod-config-1");
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, now()).unwrap();
    assert!(matches!(d, DeployOutcome::Waiting { .. }), "{d:?}");
    // A state change while still updating: it keeps waiting, and since stays the first put-off.
    let again = deploy_pending(&w.ports(), &w.settings, &ctx(), now() + Duration::minutes(5)).unwrap();
    assert!(matches!(again, Some(DeployOutcome::Waiting { .. })), "{again:?}");
    let waiting = version_history(&w.state, "churn-prod")
        .unwrap()
        .pending_approval
        .unwrap();
    assert_eq!(waiting.since, now());
    // In service: deployed once, and no longer waiting.
    w.fake.set_endpoint("InService", "churn-prod-config-1");
    let deployed = deploy_pending(&w.ports(), &w.settings, &ctx(), now() + Duration::minutes(10)).unwrap();
    assert!(
        matches!(deployed, Some(DeployOutcome::Deploying { .. })),
        "{deployed:?}"
    );
    assert_eq!(w.fake.updates.lock().unwrap().len(), 1);
    let history = version_history(&w.state, "churn-prod").unwrap();
    assert_eq!(history.pending_approval, None);
    assert_eq!(history.in_progress().map(|d| d.version.as_str()), Some("1"));
    assert_eq!(
        deploy_pending(&w.ports(), &w.settings, &ctx(), now() + Duration::minutes(11)).unwrap(),
        None
    );

    // An approval put off, then withdrawn: dropped with the reason, never deployed.
    let w = World::new();
    let arn = approved(&w);
    w.fake.set_endpoint("Updating", "churn-prod-config-1");
    deploy_package(&w.ports(), &w.settings, &ctx(), &arn, now()).unwrap();
    w.fake.packages.lock().unwrap()[0].approval = Approval::Rejected;
    w.fake.set_endpoint("InService", "churn-prod-config-1");
    let dropped = deploy_pending(&w.ports(), &w.settings, &ctx(), now() + Duration::minutes(10)).unwrap();
    assert!(matches!(dropped, Some(DeployOutcome::Ignored { .. })), "{dropped:?}");
    assert_eq!(version_history(&w.state, "churn-prod").unwrap().pending_approval, None);
    assert!(w.fake.updates.lock().unwrap().is_empty());
}

#[test]
fn approval_compares_in_the_metric_direction() {
    use super::settings::RegistrationSettings;
    let auc = RegistrationSettings {
        auto_approve: true,
        metric: Some("auc".into()),
        ..RegistrationSettings::default()
    };
    let m = |v: f64| BTreeMap::from([("auc".to_owned(), v), ("rmse".to_owned(), v)]);
    assert_eq!(decide_approval(&auc, &m(0.8), None).approval, Approval::Approved);
    assert_eq!(decide_approval(&auc, &m(0.8), Some(0.7)).approval, Approval::Approved);
    assert_eq!(
        decide_approval(&auc, &m(0.8), Some(0.8)).approval,
        Approval::PendingManualApproval
    );
    assert_eq!(
        decide_approval(&auc, &m(f64::NAN), None).approval,
        Approval::PendingManualApproval
    );
    assert_eq!(
        decide_approval(&auc, &BTreeMap::new(), None).approval,
        Approval::PendingManualApproval
    );
    let margin = RegistrationSettings {
        min_improvement: 0.05,
        ..auc.clone()
    };
    assert_eq!(
        decide_approval(&margin, &m(0.74), Some(0.7)).approval,
        Approval::PendingManualApproval
    );
    let rmse = RegistrationSettings {
        metric: Some("rmse".into()),
        higher_is_better: false,
        ..auc.clone()
    };
    assert_eq!(decide_approval(&rmse, &m(1.0), Some(1.2)).approval, Approval::Approved);
    assert_eq!(
        decide_approval(&rmse, &m(1.3), Some(1.2)).approval,
        Approval::PendingManualApproval
    );
    let manual = RegistrationSettings::default();
    assert_eq!(
        decide_approval(&manual, &m(0.99), Some(0.1)).approval,
        Approval::PendingManualApproval
    );
}

#[test]
fn the_labelled_captures_of_the_last_days_are_one_more_channel() {
    let settings = RetrainSettings::from_json(&SETTINGS.replace(
        r#""data_s3_uri": "s3://ml/churn/{date}/"}"#,
        r#""data_s3_uri": "s3://ml/churn/{date}/",
            "captured": {"s3_uri": "s3://labelled", "days": 2}}"#,
    ))
    .unwrap();
    let w = World {
        labelled: Labelled {
            keys: vec![
                "2026/11/20/13/old.jsonl".into(),
                "2026/11/26/23/a.jsonl".into(),
                "2026/11/27/09/b.jsonl".into(),
            ],
            ..Labelled::default()
        },
        settings,
        ..World::new()
    };
    w.drifting();
    let r = w.check(now());
    assert!(
        matches!(r.outcome, LaunchOutcome::Launched { captured_files: 2, .. }),
        "{r:?}"
    );
    let req = w.fake.created_jobs.lock().unwrap()[0].clone();
    assert_eq!(
        req.drop_channels,
        vec!["captured".to_owned()],
        "an earlier job's manifest is not kept"
    );
    let channel = req.manifest_channel.expect("the extra channel");
    assert_eq!(channel.name, "captured");
    assert_eq!(
        channel.manifest_uri,
        format!("s3://labelled/_manifests/{}.json", req.job_name)
    );
    let written = w.labelled.written.lock().unwrap().clone();
    let manifest: serde_json::Value = serde_json::from_str(&written[0].1).unwrap();
    assert_eq!(
        manifest,
        serde_json::json!([{"prefix": "s3://labelled/"}, "2026/11/26/23/a.jsonl", "2026/11/27/09/b.jsonl"])
    );

    // No labelled file in the window: no channel (one without data would fail the job).
    let empty = World {
        settings: w.settings.clone(),
        ..World::new()
    };
    empty.drifting();
    let r = empty.check(now());
    assert!(
        matches!(r.outcome, LaunchOutcome::Launched { captured_files: 0, .. }),
        "{r:?}"
    );
    assert_eq!(empty.fake.created_jobs.lock().unwrap()[0].manifest_channel, None);
}

#[test]
fn a_launch_recorded_but_never_created_stops_holding_after_the_grace() {
    let w = World::new();
    w.drifting();
    let LaunchOutcome::Launched { job_name, .. } = w.check(now()).outcome else {
        panic!()
    };
    // As if the handler had died before CreateTrainingJob: SageMaker does not know the job.
    w.fake.jobs.lock().unwrap().remove(&job_name);
    let soon = on_training_job(&w.ports(), &w.settings, &ctx(), &job_name, now() + Duration::minutes(5)).unwrap();
    assert!(matches!(soon, TrainingReport::Running { .. }), "{soon:?}");
    assert_eq!(w.history().launches[0].status, JobStatus::InProgress);
    let later = now() + Duration::minutes(LAUNCH_GRACE_MINUTES);
    let r = w.check(later);
    assert!(
        matches!(
            r.refreshed,
            Some(TrainingReport::Ended {
                status: JobStatus::Failed,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(!r.decision.has_reason("training_in_progress"), "{r:?}");
    let h = w.history();
    assert_eq!(
        (h.launches[0].status, h.launches[0].hours_used),
        (JobStatus::Failed, Some(0.0))
    );
    assert!(h.launches[0].failure.as_deref().unwrap().contains("never created"));
}

#[test]
fn a_serving_model_whose_code_is_in_its_model_data_is_not_replaced_by_a_raw_training_artifact() {
    let w = World::new();
    let arn = approved(&w);
    *w.fake.serving_environment.lock().unwrap() = BTreeMap::from([
        ("SAGEMAKER_PROGRAM".to_owned(), "inference.py".to_owned()),
        ("SAGEMAKER_SUBMIT_DIRECTORY".to_owned(), "/opt/ml/model/code".to_owned()),
    ]);
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, now()).unwrap();
    let DeployOutcome::Refused { why } = &d else {
        panic!("{d:?}")
    };
    assert!(why.contains("SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code"), "{why}");
    assert!(w.fake.models.lock().unwrap().is_empty() && w.fake.updates.lock().unwrap().is_empty());
    assert!(version_history(&w.state, "churn-prod").unwrap().deployments.is_empty());
    // Code served from S3 (the SDK's other layout) travels with the copied environment: deployed.
    *w.fake.serving_environment.lock().unwrap() = BTreeMap::from([(
        "SAGEMAKER_SUBMIT_DIRECTORY".to_owned(),
        "s3://ml/churn/sourcedir.tar.gz".to_owned(),
    )]);
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, now()).unwrap();
    assert!(matches!(d, DeployOutcome::Deploying { .. }), "{d:?}");
}

/// A waiting approval does not outlive a later, direct deployment (the latest approval wins).
#[test]
fn an_older_waiting_approval_does_not_replace_a_later_one_that_deployed() {
    let w = World::new();
    let first = approved(&w);
    w.fake.set_endpoint("Updating", "churn-prod-config-1");
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &first, now()).unwrap();
    assert!(matches!(d, DeployOutcome::Waiting { .. }), "{d:?}");
    // The endpoint is back in service; before any state-change event is handled, a second version is approved.
    w.fake.set_endpoint("InService", "churn-prod-config-1");
    let mut req = w.fake.registered.lock().unwrap()[0].clone();
    req.model_data_url = "s3://ml/out/second/model.tar.gz".into();
    req.approval = Approval::Approved;
    let second = w.fake.register(&req).unwrap();
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &second, now() + Duration::minutes(1)).unwrap();
    let DeployOutcome::Deploying { endpoint_config, .. } = d else {
        panic!("{d:?}")
    };
    w.fake.set_endpoint("InService", &endpoint_config);
    reconcile(&w.ports(), "churn-prod", now() + Duration::minutes(30)).unwrap();
    // The endpoint's next state change: the older approval must not replace the version approved after it.
    let pending = deploy_pending(&w.ports(), &w.settings, &ctx(), now() + Duration::minutes(31)).unwrap();
    assert!(
        !matches!(pending, Some(DeployOutcome::Deploying { .. })),
        "version 1 (approved first) replaced version 2 (approved later): {pending:?}"
    );
}

/// The SDK's default repack (no network isolation) points SAGEMAKER_SUBMIT_DIRECTORY at the repacked
/// model.tar.gz itself in S3 (sagemaker-python-sdk, Model._upload_code / _framework_env_vars).
#[test]
fn code_repacked_into_the_s3_model_tarball_is_refused_too() {
    let w = World::new();
    let arn = approved(&w);
    *w.fake.serving_environment.lock().unwrap() = BTreeMap::from([
        ("SAGEMAKER_PROGRAM".to_owned(), "inference.py".to_owned()),
        (
            "SAGEMAKER_SUBMIT_DIRECTORY".to_owned(),
            "s3://sagemaker-eu-west-1-1/pytorch-inference-2026/model.tar.gz".to_owned(),
        ),
    ]);
    let d = deploy_package(&w.ports(), &w.settings, &ctx(), &arn, now()).unwrap();
    assert!(
        matches!(d, DeployOutcome::Refused { .. }),
        "deployed without its code/: {d:?}"
    );
}
