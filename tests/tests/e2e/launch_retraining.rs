//! The `launch-retraining` function end to end against the emulators: SageMaker from moto (through the test
//! stack's plugin, with its `UpdateEndpoint`), S3 from LocalStack. Three committed windows of drift are written
//! where the evaluator writes them; a drift alarm's SNS notification, delivered three times (twice at once),
//! launches exactly one training job cloned from the template; the job's completion registers a version in the
//! Model Package Group; the approval event deploys it with `UpdateEndpoint` and its blue/green configuration;
//! the endpoint's state change records it serving; a rollback restores the previous configuration. Every
//! effect is checked with SageMaker's own Describe and List calls.

use std::collections::HashMap;

use aws_sdk_sagemaker::types::{
    CapacitySizeType, ContainerDefinition, EndpointStatus, ModelApprovalStatus, S3DataType, StoppingCondition, Tag,
    TrafficRoutingConfigType,
};
use chrono::{DateTime, Duration, Utc};
use launch_retraining::config::Config;
use launch_retraining::handler::{App, Clients, StepReport};
use modelwatch_aws::env::Vars;
use modelwatch_aws::testing::{self, TRAINING_IMAGE};
use modelwatch_core::drift::DriftReport;
use modelwatch_core::monitor::{MarkerStatus, Target, WindowMarker};
use modelwatch_core::retrain::lifecycle::{DeployOutcome, LaunchOutcome, TrainingReport};
use modelwatch_core::violations::Violations;
use modelwatch_core::window::{Window, truncate_to_hour};
use modelwatch_e2e::iam::{Deployment, Function};
use modelwatch_e2e::{
    bucket, describe_endpoint, endpoint_status, put, queue, sdk_config, serving_endpoint, settled_config, unique,
};

const ROLE: &str = "arn:aws:iam::000000000000:role/modelwatch-training";

struct Stack {
    /// The test's own clients, for setting up and checking.
    clients: Clients,
    bucket: String,
    endpoint: String,
    model: String,
    template_job: String,
    /// The function as the template deploys it (its environment and its role: [`Deployment::check`]).
    deployment: Deployment,
    /// The function's clients, with the deployment's credentials.
    function: Clients,
}

impl Stack {
    /// A bucket; a model, configuration and endpoint; the model's original training job; its Model Package
    /// Group; and the endpoint's retraining file.
    async fn new() -> Self {
        let sdk = sdk_config().await;
        let clients = Clients {
            s3: modelwatch_aws::config::s3_client(&sdk),
            sagemaker: aws_sdk_sagemaker::Client::new(&sdk),
            eventbridge: aws_sdk_eventbridge::Client::new(&sdk),
        };
        let bucket = bucket(&clients.s3, "mw-retrain").await;
        let endpoint = unique("mw-retrain");
        let model = unique("churn");
        let sm = &clients.sagemaker;
        let container = ContainerDefinition::builder()
            .image(TRAINING_IMAGE)
            .model_data_url(format!("s3://{bucket}/models/original/model.tar.gz"))
            .environment("SAGEMAKER_PROGRAM", "inference.py")
            .build();
        serving_endpoint(sm, &endpoint, container, &[("AllTraffic", 2, 1.0)], None).await;
        // The model's original training job, created from the template's description.
        let template_job = format!("{model}-original");
        let template = testing::template_job(
            &template_job,
            &format!("s3://{bucket}/data"),
            &format!("s3://{bucket}/models"),
        );
        sm.create_training_job()
            .training_job_name(&template_job)
            .set_role_arn(template.role_arn)
            .set_algorithm_specification(template.algorithm_specification)
            .set_hyper_parameters(template.hyper_parameters)
            .set_input_data_config(template.input_data_config)
            .set_output_data_config(template.output_data_config)
            .set_resource_config(template.resource_config)
            .stopping_condition(StoppingCondition::builder().max_runtime_in_seconds(3600).build())
            .tags(Tag::builder().key("cost-centre").value("ml-platform").build())
            .send()
            .await
            .expect("CreateTrainingJob (template)");
        sm.create_model_package_group()
            .model_package_group_name(&model)
            .send()
            .await
            .expect("CreateModelPackageGroup");
        let settings_key = format!("retrain/{endpoint}.json");
        let deployment = Deployment::new(
            Function::LaunchRetraining,
            &[
                ("DataBucketName", &bucket),
                ("EndpointName", &endpoint),
                ("TrainingRoleArn", ROLE),
                ("ModelPackageGroupName", &model),
                ("RetrainSettingsKey", &settings_key),
            ],
        );
        let function_sdk = deployment.sdk_config().await;
        let function = Clients {
            s3: modelwatch_aws::config::s3_client(&function_sdk),
            sagemaker: aws_sdk_sagemaker::Client::new(&function_sdk),
            eventbridge: aws_sdk_eventbridge::Client::new(&function_sdk),
        };
        let stack = Self {
            clients,
            bucket,
            endpoint,
            model,
            template_job,
            deployment,
            function,
        };
        let settings = serde_json::json!({
            "endpoint": stack.endpoint, "variant": "AllTraffic",
            "policy": {"model": stack.model, "checks": {"quality": {"enabled": false}, "drift_share": {"above": 0.5}},
                "consecutive_windows": 3, "min_interval_hours": 24,
                "budget": {"monthly_training_hours": 20, "estimated_hours_per_job": 2}},
            "training": {"template_job": stack.template_job, "data_s3_uri": format!("s3://{}/data/{{date}}/", stack.bucket),
                "captured": {"s3_uri": format!("s3://{}/labelled/{}", stack.bucket, stack.endpoint), "days": 7}},
            "registration": {"auto_approve": true, "metric": "train:progress"},
            "deployment": {"traffic_routing": "CANARY", "step_percent": 20, "wait_seconds": 300},
            "new_baseline": {"dataset": format!("s3://{}/data/{{date}}/train.csv", stack.bucket),
                "baseline": format!("s3://{}/baselines/{}/AllTraffic", stack.bucket, stack.endpoint),
                "label_column": "churned"}
        });
        put(
            &stack.clients.s3,
            &stack.bucket,
            &format!("retrain/{}.json", stack.endpoint),
            settings.to_string().into_bytes(),
        )
        .await;
        stack
    }

    fn app(&self) -> App {
        let env: HashMap<String, String> = self.deployment.env();
        App {
            config: Config::from_vars(&Vars::from_map(env)).expect("the template's environment"),
            clients: self.function.clone(),
        }
    }

    /// What the evaluator leaves for a committed hour: its reports, its marker, its last-window record.
    /// A committed window `hours_back` hours before the hour of `now` (the test's one clock: windows placed from a
    /// later `Utc::now()` would move by an hour when the test crosses the hour).
    async fn committed_window(&self, now: DateTime<Utc>, hours_back: i64, drift_share: f64) {
        let target = Target {
            endpoint: self.endpoint.clone(),
            variant: "AllTraffic".into(),
            schedule: "hourly".into(),
        };
        let start = truncate_to_hour(now) - Duration::hours(hours_back);
        let window = Window {
            start,
            end: start + Duration::hours(1),
        };
        let folder = format!("reports/{}", target.report_folder(&window));
        let drift = DriftReport {
            compared: 5,
            drifted: 4,
            drift_share,
            ..DriftReport::default()
        };
        let s3 = &self.clients.s3;
        put(
            s3,
            &self.bucket,
            &format!("{folder}/drift.json"),
            serde_json::to_vec(&drift).unwrap(),
        )
        .await;
        let violations = serde_json::to_vec(&Violations::default()).unwrap();
        put(
            s3,
            &self.bucket,
            &format!("{folder}/constraint_violations.json"),
            violations,
        )
        .await;
        let marker = WindowMarker {
            status: MarkerStatus::Committed,
            run_id: "e2e".into(),
            claimed_at: window.end,
            summary: None,
            withheld: None,
        };
        let key = format!("state/monitor/{}", target.marker_key(&window));
        put(s3, &self.bucket, &key, serde_json::to_vec(&marker).unwrap()).await;
    }

    /// The endpoint's configuration once it is `InService` again.
    async fn settled(&self) -> String {
        settled_config(&self.clients.sagemaker, &self.endpoint).await
    }

    async fn training_jobs(&self) -> Vec<String> {
        let out = self
            .clients
            .sagemaker
            .list_training_jobs()
            .name_contains(&self.model)
            .max_results(100)
            .send()
            .await
            .expect("ListTrainingJobs");
        out.training_job_summaries()
            .iter()
            .filter_map(|s| s.training_job_name().map(str::to_owned))
            .filter(|n| *n != self.template_job)
            .collect()
    }

    async fn endpoint_config(&self) -> (EndpointStatus, String) {
        endpoint_status(&self.clients.sagemaker, &self.endpoint).await
    }
}

fn alarm_notification(endpoint: &str) -> serde_json::Value {
    let alarm = serde_json::json!({"AlarmName": format!("{endpoint}-drift"), "NewStateValue": "ALARM",
        "Trigger": {"MetricName": "dataset_max_feature_drift", "Namespace": "aws/sagemaker/Endpoints/data-metrics",
            "Dimensions": [{"value": endpoint, "name": "Endpoint"}]}});
    serde_json::json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "MessageId": "1", "TopicArn": "arn:aws:sns:us-east-1:000000000000:retrain",
            "Subject": "ALARM", "Message": alarm.to_string(), "Timestamp": "2026-11-27T10:00:00.000Z"}}]})
}

fn eventbridge(detail_type: &str, detail: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"version": "0", "id": "e2e", "detail-type": detail_type, "source": "aws.sagemaker",
        "account": "000000000000", "time": Utc::now().to_rfc3339(), "region": "us-east-1", "resources": [],
        "detail": detail})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drift_retrains_once_registers_deploys_and_rolls_back() {
    let stack = Stack::new().await;
    let now = Utc::now();
    for back in 1..=3 {
        stack.committed_window(now, back, 0.8).await;
    }
    // Labelled captures: two files in the last week, one older (left out).
    let labelled = |days: i64, name: &str| {
        format!(
            "labelled/{}/{}/{name}",
            stack.endpoint,
            (now - Duration::days(days)).format("%Y/%m/%d/10")
        )
    };
    for (days, name) in [(1, "a.jsonl"), (6, "b.jsonl"), (9, "old.jsonl")] {
        put(
            &stack.clients.s3,
            &stack.bucket,
            &labelled(days, name),
            b"{}\n".to_vec(),
        )
        .await;
    }
    let app = stack.app();

    // The same alarm three times, two of them at once: one training job.
    let notification = alarm_notification(&stack.endpoint);
    let (a, b) = tokio::join!(
        app.handle(notification.clone(), now),
        app.handle(notification.clone(), now)
    );
    let c = app.handle(notification, now + Duration::seconds(5)).await;
    let mut launched = Vec::new();
    for r in [a, b, c] {
        let r = r.expect("handled");
        let StepReport::Check(report) = &r.steps[0] else {
            panic!("{r:?}")
        };
        if let LaunchOutcome::Launched { job_name, .. } = &report.outcome {
            launched.push(job_name.clone());
        }
    }
    assert_eq!(launched.len(), 1, "{launched:?}");
    let job_name = launched.remove(0);
    assert_eq!(stack.training_jobs().await, vec![job_name.clone()]);

    // The job is the template cloned: the new data, the configured role, the lineage and the template's tags.
    let sm = &stack.clients.sagemaker;
    let job = sm
        .describe_training_job()
        .training_job_name(&job_name)
        .send()
        .await
        .unwrap();
    assert_eq!(job.role_arn(), Some(ROLE));
    let uri = |name: &str| {
        job.input_data_config()
            .iter()
            .find(|c| c.channel_name() == Some(name))
            .and_then(|c| c.data_source()?.s3_data_source()?.s3_uri().map(str::to_owned))
    };
    assert_eq!(
        uri("train"),
        Some(format!("s3://{}/data/{}/", stack.bucket, now.format("%Y-%m-%d")))
    );
    assert_eq!(
        uri("validation"),
        Some(format!("s3://{}/data/validation/", stack.bucket))
    );
    // The labelled captures of the last week: a manifest channel listing the two recent files.
    let captured = job
        .input_data_config()
        .iter()
        .find(|c| c.channel_name() == Some("captured"))
        .and_then(|c| c.data_source()?.s3_data_source())
        .expect("the captured channel");
    assert_eq!(captured.s3_data_type(), Some(&S3DataType::ManifestFile));
    let (_, manifest_key) = captured
        .s3_uri()
        .unwrap()
        .strip_prefix("s3://")
        .unwrap()
        .split_once('/')
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&modelwatch_e2e::get(&stack.clients.s3, &stack.bucket, manifest_key).await).unwrap();
    let prefix = format!("s3://{}/labelled/{}/", stack.bucket, stack.endpoint);
    assert_eq!(manifest[0]["prefix"], prefix.as_str());
    let listed: Vec<&str> = manifest.as_array().unwrap()[1..]
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let expected: Vec<String> = [(6, "b.jsonl"), (1, "a.jsonl")]
        .iter()
        .map(|(d, n)| {
            labelled(*d, n)
                .trim_start_matches(&format!("labelled/{}/", stack.endpoint))
                .to_owned()
        })
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(
        job.hyper_parameters()
            .and_then(|h| h.get("num_round"))
            .map(String::as_str),
        Some("100")
    );
    let tags = sm
        .list_tags()
        .resource_arn(job.training_job_arn().unwrap())
        .send()
        .await
        .unwrap();
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value().map(str::to_owned))
    };
    assert_eq!(tag("modelwatch:trigger").as_deref(), Some("drift_share"));
    assert_eq!(
        tag("modelwatch:previous-training-job"),
        Some(stack.template_job.clone())
    );
    assert_eq!(tag("cost-centre").as_deref(), Some("ml-platform"));

    // Completion registers one version (moto's jobs complete at once; the event may arrive twice).
    let completed = eventbridge(
        "SageMaker Training Job State Change",
        serde_json::json!({"TrainingJobName": job_name, "TrainingJobStatus": "Completed"}),
    );
    for _ in 0..2 {
        let r = app.handle(completed.clone(), Utc::now()).await.expect("handled");
        assert!(
            matches!(
                &r.steps[..],
                [StepReport::Training {
                    report: TrainingReport::Registered { .. },
                    ..
                }]
            ),
            "{r:?}"
        );
    }
    let packages = sm
        .list_model_packages()
        .model_package_group_name(&stack.model)
        .send()
        .await
        .unwrap();
    assert_eq!(packages.model_package_summary_list().len(), 1);
    let arn = packages.model_package_summary_list()[0]
        .model_package_arn()
        .unwrap()
        .to_owned();
    let package = sm
        .describe_model_package()
        .model_package_name(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(package.model_approval_status(), Some(&ModelApprovalStatus::Approved));
    let container = &package.inference_specification().unwrap().containers()[0];
    assert_eq!(container.image(), Some(TRAINING_IMAGE));
    assert_eq!(
        container.model_data_url(),
        job.model_artifacts().and_then(|a| a.s3_model_artifacts())
    );
    let metadata = package.customer_metadata_properties().cloned().unwrap_or_default();
    assert_eq!(metadata.get("modelwatch:training-job"), Some(&job_name));

    // Approval deploys it blue/green, canary 20% of two instances (one instance) with the rollback alarm, once.
    let approved = eventbridge(
        "SageMaker Model Package State Change",
        serde_json::json!({"ModelPackageArn": arn, "ModelPackageGroupName": stack.model, "ModelApprovalStatus": "Approved"}),
    );
    let r = app.handle(approved.clone(), Utc::now()).await.expect("handled");
    let [
        StepReport::Deploy {
            outcome:
                DeployOutcome::Deploying {
                    endpoint_config,
                    model_name,
                    ..
                },
            ..
        },
    ] = &r.steps[..]
    else {
        panic!("{r:?}")
    };
    let again = app.handle(approved, Utc::now()).await.expect("handled");
    assert!(
        matches!(
            &again.steps[..],
            [StepReport::Deploy {
                outcome: DeployOutcome::AlreadyDeployed { .. },
                ..
            }]
        ),
        "{again:?}"
    );
    let new_config = sm
        .describe_endpoint_config()
        .endpoint_config_name(endpoint_config)
        .send()
        .await
        .expect("the new configuration exists");
    let variant = &new_config.production_variants()[0];
    assert_eq!(variant.model_name(), Some(model_name.as_str()));
    assert_eq!(variant.initial_instance_count(), Some(2));
    let new_model = sm.describe_model().model_name(model_name).send().await.unwrap();
    let primary = new_model.primary_container().unwrap();
    assert_eq!(primary.model_data_url(), container.model_data_url());
    assert_eq!(
        primary
            .environment()
            .and_then(|e| e.get("SAGEMAKER_PROGRAM"))
            .map(String::as_str),
        Some("inference.py")
    );
    assert_eq!(stack.settled().await, endpoint_config.as_str());
    let described = describe_endpoint(sm, &stack.endpoint).await;
    let deployment = described
        .last_deployment_config()
        .expect("the deployment configuration");
    let routing = deployment
        .blue_green_update_policy()
        .unwrap()
        .traffic_routing_configuration()
        .unwrap();
    assert_eq!(routing.r#type(), Some(&TrafficRoutingConfigType::Canary));
    let canary = routing.canary_size().unwrap();
    assert_eq!(
        (canary.r#type(), canary.value()),
        (Some(&CapacitySizeType::InstanceCount), Some(1))
    );
    assert_eq!(routing.wait_interval_in_seconds(), Some(300));
    let alarms = deployment.auto_rollback_configuration().unwrap().alarms();
    assert_eq!(
        alarms[0].alarm_name(),
        Some(stack.deployment.env()["ROLLBACK_ALARMS"].as_str()),
        "the template's own alarm"
    );

    // The endpoint's state change records the version serving, and asks for its baseline (an EventBridge rule
    // routes the request, as the template routes it to suggest-baseline; here to a queue).
    let sdk = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (queue_url, queue_arn) = queue(&sqs, "mw-baseline").await;
    let eb = &stack.clients.eventbridge;
    // On the default bus, as the template deploys it: this endpoint's requests only.
    let rule = unique("baseline-requests");
    let pattern = serde_json::json!({"source": ["modelwatch.retraining"], "detail-type": ["Baseline Requested"],
        "resources": [stack.endpoint]});
    eb.put_rule()
        .name(&rule)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .expect("PutRule");
    eb.put_targets()
        .rule(&rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue_arn)
                .input_path("$.detail")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("PutTargets");
    let r = app
        .handle(in_service_event(&stack.endpoint), Utc::now())
        .await
        .expect("handled");
    let [
        StepReport::Reconcile {
            ended: Some(ended),
            baseline_requested: Some(request),
            ..
        },
    ] = &r.steps[..]
    else {
        panic!("{r:?}")
    };
    assert_eq!(ended.record.version, "1");
    assert_eq!(
        request["dataset"],
        format!("s3://{}/data/{}/train.csv", stack.bucket, now.format("%Y-%m-%d"))
    );
    let mut received = Vec::new();
    for _ in 0..10 {
        let got = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        received.extend(got.messages().iter().filter_map(|m| m.body().map(str::to_owned)));
        if !received.is_empty() {
            break;
        }
    }
    assert_eq!(received.len(), 1, "{received:?}");
    let delivered: serde_json::Value = serde_json::from_str(&received[0]).unwrap();
    assert_eq!(&delivered, request, "suggest-baseline gets the request itself");
    suggest_baseline::BaselineRequest::from_json(delivered).expect("a request suggest-baseline takes");
    let history = app
        .handle(
            serde_json::json!({"action": "history", "endpoint": stack.endpoint}),
            Utc::now(),
        )
        .await
        .expect("handled");
    let [StepReport::History { history, rendered, .. }] = &history.steps[..] else {
        panic!("{history:?}")
    };
    assert_eq!(history.serving().map(|d| d.version.as_str()), Some("1"), "{rendered}");

    // Rollback returns the original configuration in one UpdateEndpoint.
    let r = app
        .handle(
            serde_json::json!({"action": "rollback", "endpoint": stack.endpoint}),
            Utc::now(),
        )
        .await
        .expect("handled");
    let [StepReport::Rollback(rb)] = &r.steps[..] else {
        panic!("{r:?}")
    };
    assert_eq!((rb.from_version.as_str(), rb.to_version.as_str()), ("1", "initial"));
    let original = format!("{}-config", stack.endpoint);
    // A copy of the original configuration that keeps the fleet's current size and type.
    assert!(
        rb.endpoint_config != original && rb.endpoint_config.contains("rbinitial"),
        "{}",
        rb.endpoint_config
    );
    let copy = sm
        .describe_endpoint_config()
        .endpoint_config_name(&rb.endpoint_config)
        .send()
        .await
        .expect("the rollback's configuration");
    let first = sm
        .describe_endpoint_config()
        .endpoint_config_name(&original)
        .send()
        .await
        .expect("the original configuration");
    let variant = |c: &aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput| {
        let v = &c.production_variants()[0];
        (v.model_name().map(str::to_owned), v.initial_instance_count())
    };
    assert_eq!(variant(&copy).0, variant(&first).0, "the original's model");
    assert_eq!(variant(&copy).1, Some(2), "the fleet's current size");
    assert_eq!(stack.endpoint_config().await.0, EndpointStatus::Updating);
    assert_eq!(stack.settled().await, rb.endpoint_config);
    app.handle(in_service_event(&stack.endpoint), Utc::now())
        .await
        .expect("handled");
    let history = app
        .handle(
            serde_json::json!({"action": "history", "endpoint": stack.endpoint}),
            Utc::now(),
        )
        .await
        .expect("handled");
    let [StepReport::History { history, rendered, .. }] = &history.steps[..] else {
        panic!("{history:?}")
    };
    let serving = history.serving().expect("a version serves");
    assert_eq!(
        (serving.version.as_str(), serving.endpoint_config.as_str()),
        ("initial", rb.endpoint_config.as_str()),
        "{rendered}"
    );
    assert_eq!(
        history.deployments.len(),
        3,
        "initial, version 1, the rollback: {rendered}"
    );
    // Nothing that served was deleted: version 1's configuration and model are still there to go back to.
    sm.describe_endpoint_config()
        .endpoint_config_name(endpoint_config)
        .send()
        .await
        .expect("kept");
    sm.describe_model().model_name(model_name).send().await.expect("kept");

    // A day later the drift is back: the next job clones the last retraining job (the model's last training job),
    // with this launch's data and its own labelled-captures channel, not the earlier one's.
    for back in [-22, -23, -24] {
        stack.committed_window(now, back, 0.9).await;
    }
    let later = now + Duration::hours(25);
    let r = app
        .handle(alarm_notification(&stack.endpoint), later)
        .await
        .expect("handled");
    let [StepReport::Check(report)] = &r.steps[..] else {
        panic!("{r:?}")
    };
    let LaunchOutcome::Launched {
        job_name: second,
        template_job,
        ..
    } = &report.outcome
    else {
        panic!("{report:?}")
    };
    assert_eq!(template_job, &job_name);
    let job = sm
        .describe_training_job()
        .training_job_name(second)
        .send()
        .await
        .unwrap();
    let channels: Vec<&str> = job
        .input_data_config()
        .iter()
        .filter_map(|c| c.channel_name())
        .collect();
    assert_eq!(channels.iter().filter(|c| **c == "captured").count(), 1, "{channels:?}");
    assert!(
        channels.contains(&"train") && channels.contains(&"validation"),
        "{channels:?}"
    );
    let manifest = job
        .input_data_config()
        .iter()
        .find(|c| c.channel_name() == Some("captured"))
        .and_then(|c| c.data_source()?.s3_data_source()?.s3_uri())
        .unwrap();
    assert!(manifest.ends_with(&format!("/_manifests/{second}.json")), "{manifest}");
    assert_eq!(stack.training_jobs().await.len(), 2);
    stack.deployment.check();
}

fn in_service_event(endpoint: &str) -> serde_json::Value {
    eventbridge(
        "SageMaker Endpoint State Change",
        serde_json::json!({"EndpointName": endpoint, "EndpointStatus": "IN_SERVICE"}),
    )
}
