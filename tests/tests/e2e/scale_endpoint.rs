//! The `scale-endpoint` function end to end against the emulators: SageMaker and Application Auto Scaling from
//! moto (through the test stack's plugin, with its `UpdateEndpoint`), CloudWatch and S3 from LocalStack. The
//! endpoint's traffic is written with `PutMetricData` under SageMaker's own namespaces, so the function reads it
//! back with its one `GetMetricData` call; the handler runs in-process, and every change is checked with
//! SageMaker's and Application Auto Scaling's own Describe calls afterwards.

use aws_sdk_applicationautoscaling::types::{PolicyType, ScalableDimension, ServiceNamespace};
use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use aws_sdk_sagemaker::types::{ContainerDefinition, EndpointStatus, TrafficRoutingConfigType};
use chrono::{DateTime, Duration, Utc};
use modelwatch_aws::testing::{data_capture, invocations_tracking};
use modelwatch_core::scaling::controller::{Outcome, Plan};
use modelwatch_e2e::iam::{Deployment, Function};
use modelwatch_e2e::{bucket, describe_endpoint, put, sdk_config, serving_endpoint, settled_config, unique};
use scale_endpoint::config::Config;
use scale_endpoint::handler::{App, Clients};

const IMAGE: &str = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310";

fn schedule(now: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({"version": "0", "id": "e2e", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "000000000000", "time": now.to_rfc3339(), "region": "us-east-1", "resources": [], "detail": {}})
}

/// The emulators' clients, a fresh bucket, and a SageMaker endpoint with two variants and data capture.
struct Stack {
    clients: Clients,
    bucket: String,
    endpoint: String,
    namespace: String,
}

impl Stack {
    /// Creates the bucket, a model, an endpoint configuration (`AllTraffic` with `count` instances and a
    /// `Canary` with one, both `ml.m5.large`) and the endpoint.
    async fn new(count: i32) -> Self {
        let sdk = sdk_config().await;
        let clients = Clients {
            s3: modelwatch_aws::config::s3_client(&sdk),
            cloudwatch: modelwatch_aws::config::cloudwatch_client(&sdk),
            sagemaker: aws_sdk_sagemaker::Client::new(&sdk),
            autoscaling: aws_sdk_applicationautoscaling::Client::new(&sdk),
        };
        let bucket = bucket(&clients.s3, "mw-scale").await;
        let endpoint = unique("mw-scale");
        serving_endpoint(
            &clients.sagemaker,
            &endpoint,
            ContainerDefinition::builder().image(IMAGE).build(),
            &[("AllTraffic", count, 0.9), ("Canary", 1, 0.1)],
            Some(data_capture("s3://captures/datacapture", 50)),
        )
        .await;
        Self {
            clients,
            bucket,
            namespace: format!("modelwatch-e2e/{}", unique("scaling")),
            endpoint,
        }
    }

    /// `per_minute` invocations of `AllTraffic` in each of the `minutes` whole minutes before `now`, and the
    /// instances' CPU, in SageMaker's namespaces.
    async fn traffic(&self, now: DateTime<Utc>, minutes: i64, per_minute: f64) {
        let dims = vec![
            Dimension::builder().name("EndpointName").value(&self.endpoint).build(),
            Dimension::builder().name("VariantName").value("AllTraffic").build(),
        ];
        let start = now.timestamp() / 60 * 60;
        for (namespace, name, value, unit) in [
            ("AWS/SageMaker", "Invocations", per_minute, StandardUnit::None),
            (
                "/aws/sagemaker/Endpoints",
                "CPUUtilization",
                55.0,
                StandardUnit::Percent,
            ),
        ] {
            let data = (1..=minutes)
                .map(|m| {
                    MetricDatum::builder()
                        .metric_name(name)
                        .set_dimensions(Some(dims.clone()))
                        .timestamp(CwDateTime::from_secs(start - m * 60 + 10))
                        .value(value)
                        .unit(unit.clone())
                        .build()
                })
                .collect();
            self.clients
                .cloudwatch
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(data))
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutMetricData {namespace}: {e:?}"));
        }
    }

    async fn policy(&self, json: serde_json::Value) {
        let key = format!("policies/{}/AllTraffic.json", self.endpoint);
        put(&self.clients.s3, &self.bucket, &key, json.to_string().into_bytes()).await;
    }

    /// The function as the template deploys it for this endpoint (its environment and its role:
    /// [`Deployment::check`]), applying its decisions unless `params` say otherwise; `params` are template
    /// parameters.
    async fn app(&self, params: &[(&str, &str)]) -> (App, Deployment) {
        let policy_key = format!("policies/{}/AllTraffic.json", self.endpoint);
        let mut all: Vec<(&str, &str)> = vec![
            ("DataBucketName", &self.bucket),
            ("EndpointName", &self.endpoint),
            ("VariantName", "AllTraffic"),
            ("ScalingPolicyKey", &policy_key),
            ("ScalingMetricsNamespace", &self.namespace),
            ("ScalingDryRun", "false"),
        ];
        all.retain(|(k, _)| !params.iter().any(|(p, _)| p == k));
        all.extend_from_slice(params);
        let deployment = Deployment::new(Function::ScaleEndpoint, &all);
        let sdk = deployment.sdk_config().await;
        let app = App {
            config: Config::from_vars(&deployment.env()).expect("the template's environment"),
            clients: Clients {
                s3: modelwatch_aws::config::s3_client(&sdk),
                cloudwatch: modelwatch_aws::config::cloudwatch_client(&sdk),
                sagemaker: aws_sdk_sagemaker::Client::new(&sdk),
                autoscaling: aws_sdk_applicationautoscaling::Client::new(&sdk),
            },
        };
        (app, deployment)
    }

    fn resource_id(&self) -> String {
        format!("endpoint/{}/variant/AllTraffic", self.endpoint)
    }

    /// A target-tracking registration of `AllTraffic`, as a team would have set it up.
    async fn register_autoscaling(&self, min: i32, max: i32) {
        let aas = &self.clients.autoscaling;
        aas.register_scalable_target()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(self.resource_id())
            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
            .min_capacity(min)
            .max_capacity(max)
            .send()
            .await
            .expect("RegisterScalableTarget");
        // The stack answers ConcurrentUpdateException to a change right after another, as AWS does while a change
        // is pending: a team's set-up waits for the registration to settle.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let mut tracking = invocations_tracking(70.0);
        tracking.scale_out_cooldown = Some(60);
        aas.put_scaling_policy()
            .policy_name("invocations-target")
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(self.resource_id())
            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(tracking)
            .send()
            .await
            .expect("PutScalingPolicy");
    }

    /// The registered target's (min, max), and its policies' (name, target value).
    async fn autoscaling(&self) -> (Option<(i32, i32)>, Vec<(String, f64)>) {
        let aas = &self.clients.autoscaling;
        let targets = aas
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_ids(self.resource_id())
            .send()
            .await
            .unwrap();
        let target = targets
            .scalable_targets()
            .iter()
            .find(|t| t.resource_id() == self.resource_id())
            .map(|t| (t.min_capacity(), t.max_capacity()));
        let policies = aas
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(self.resource_id())
            .send()
            .await
            .unwrap();
        let policies = policies
            .scaling_policies()
            .iter()
            .filter(|p| p.resource_id() == self.resource_id())
            .map(|p| {
                let target = p
                    .target_tracking_scaling_policy_configuration()
                    .map_or(f64::NAN, |c| c.target_value());
                (p.policy_name().to_owned(), target)
            })
            .collect();
        (target, policies)
    }

    /// A nightly scheduled action on the registration, as a team would add one.
    async fn schedule_nightly_floor(&self) {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        self.clients
            .autoscaling
            .put_scheduled_action()
            .service_namespace(ServiceNamespace::Sagemaker)
            .scheduled_action_name("nightly-floor")
            .resource_id(self.resource_id())
            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
            .schedule("cron(0 20 * * ? *)")
            .scalable_target_action(
                aws_sdk_applicationautoscaling::types::ScalableTargetAction::builder()
                    .min_capacity(1)
                    .max_capacity(2)
                    .build(),
            )
            .send()
            .await
            .expect("PutScheduledAction");
    }

    /// The registration's scheduled actions' (name, schedule).
    async fn scheduled_actions(&self) -> Vec<(String, String)> {
        let out = self
            .clients
            .autoscaling
            .describe_scheduled_actions()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(self.resource_id())
            .send()
            .await
            .expect("DescribeScheduledActions");
        out.scheduled_actions()
            .iter()
            .filter(|a| a.resource_id() == self.resource_id())
            .map(|a| (a.scheduled_action_name().to_owned(), a.schedule().to_owned()))
            .collect()
    }

    /// Each variant's (name, desired count) as `DescribeEndpoint` reports it, and the status.
    async fn counts(&self) -> (String, Vec<(String, i32)>) {
        let out = describe_endpoint(&self.clients.sagemaker, &self.endpoint).await;
        let counts = out
            .production_variants()
            .iter()
            .map(|v| {
                (
                    v.variant_name().unwrap().to_owned(),
                    v.desired_instance_count().unwrap_or(-1),
                )
            })
            .collect();
        (out.endpoint_status().unwrap().as_str().to_owned(), counts)
    }

    /// The values of one of the function's metrics over the last ten minutes.
    async fn published(&self, name: &str, now: DateTime<Utc>) -> Vec<f64> {
        let metric = Metric::builder()
            .namespace(&self.namespace)
            .metric_name(name)
            .dimensions(Dimension::builder().name("EndpointName").value(&self.endpoint).build())
            .dimensions(Dimension::builder().name("VariantName").value("AllTraffic").build())
            .build();
        let out = self
            .clients
            .cloudwatch
            .get_metric_data()
            .metric_data_queries(
                MetricDataQuery::builder()
                    .id("m")
                    .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Maximum").build())
                    .build(),
            )
            .start_time(CwDateTime::from_secs((now - Duration::minutes(10)).timestamp()))
            .end_time(CwDateTime::from_secs((now + Duration::minutes(5)).timestamp()))
            .send()
            .await
            .unwrap();
        out.metric_data_results()[0].values().to_vec()
    }
}

fn pairs(v: &[(&str, i32)]) -> Vec<(String, i32)> {
    v.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scales_out_refusing_an_autoscaling_policy_then_taking_it_over() {
    let stack = Stack::new(1).await;
    let now = Utc::now();
    stack.traffic(now, 10, 150.0).await;
    stack
        .policy(serde_json::json!({
            "endpoint": stack.endpoint, "variant": "AllTraffic", "instance_type": "ml.m5.large",
            "min_instances": 1, "max_instances": 3, "target_invocations_per_instance": 60,
            "forecast": {"enabled": false}, "anticipate_trend": false
        }))
        .await;
    stack.register_autoscaling(1, 3).await;

    // Dry run: the decision (1 -> 3, taking Application Auto Scaling over) is made and recorded, nothing changes.
    let (dry_app, dry_deployment) = stack
        .app(&[("ScalingDryRun", "true"), ("ScalingAasMode", "take_over")])
        .await;
    let dry = dry_app.handle(schedule(now), now).await.expect("dry run");
    let report = &dry.runs[0];
    assert!(
        matches!(
            &report.outcome,
            Outcome::DryRun {
                plan: Plan::SetCount {
                    count: 3,
                    take_over: Some(_)
                }
            }
        ),
        "{report:?}"
    );
    assert_eq!(stack.counts().await.1, pairs(&[("AllTraffic", 1), ("Canary", 1)]));
    assert_eq!(stack.autoscaling().await.0, Some((1, 3)));

    // Application Auto Scaling's policy owns the count: the decision is recorded as refused, nothing changes.
    let refused_at = now + Duration::seconds(10);
    let (refusing_app, refusing_deployment) = stack.app(&[]).await;
    let refused = refusing_app
        .handle(schedule(refused_at), refused_at)
        .await
        .expect("refusing is not an error");
    let report = &refused.runs[0];
    assert_eq!(report.decision.desired_count, 3, "{report:?}");
    let Outcome::Refused { why } = &report.outcome else {
        panic!("{report:?}")
    };
    assert!(why.contains("policy:invocations-target"), "{why}");
    assert_eq!(stack.counts().await.1, pairs(&[("AllTraffic", 1), ("Canary", 1)]));
    assert_eq!(stack.autoscaling().await.0, Some((1, 3)));

    // Taken over: the target and its policy go, and the count follows the policy file.
    let later = now + Duration::seconds(20);
    let (taking_app, taking_deployment) = stack.app(&[("ScalingAasMode", "take_over")]).await;
    let applied = taking_app.handle(schedule(later), later).await.expect("scale out");
    let report = &applied.runs[0];
    assert!(
        matches!(&report.outcome, Outcome::Applied { plan: Plan::SetCount { count: 3, take_over: Some(r) } }
            if r.resource_id == stack.resource_id()),
        "{report:?}"
    );
    // Updating for a while, as on AWS: the next run holds.
    let (status, counts) = stack.counts().await;
    assert_eq!(status, "Updating");
    assert_eq!(counts, pairs(&[("AllTraffic", 3), ("Canary", 1)]), "the desired counts");
    let (held_app, held_deployment) = stack.app(&[("ScalingAasMode", "take_over")]).await;
    let held_at = later + Duration::seconds(10);
    let held = held_app.handle(schedule(held_at), held_at).await.expect("held");
    assert_eq!(held.runs[0].status, "Updating");
    assert_eq!(held.runs[0].outcome, Outcome::Held);
    settled_config(&stack.clients.sagemaker, &stack.endpoint).await;
    let (status, counts) = stack.counts().await;
    assert_eq!(status, "InService");
    assert_eq!(counts, pairs(&[("AllTraffic", 3), ("Canary", 1)]));
    assert_eq!(stack.autoscaling().await, (None, vec![]));

    // Both counts were published by every run: 3 desired (dry run and take-over), 1 desired (refused), 1 serving.
    let desired = stack.published("DesiredInstanceCount", later).await;
    assert!(desired.contains(&3.0), "{desired:?}");
    let current = stack.published("CurrentInstanceCount", later).await;
    assert!(!current.is_empty() && current.iter().all(|&c| c == 1.0), "{current:?}");
    for deployment in [dry_deployment, refusing_deployment, taking_deployment, held_deployment] {
        deployment.check();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_up_the_ladder_blue_green_around_application_auto_scaling() {
    // At its maximum of 2 instances, 200 requests a minute against 2 x 60 at target: a larger type.
    let stack = Stack::new(2).await;
    let now = Utc::now();
    stack.traffic(now, 10, 200.0).await;
    stack
        .policy(serde_json::json!({
            "endpoint": stack.endpoint, "variant": "AllTraffic", "instance_type": "ml.m5.large",
            "min_instances": 1, "max_instances": 2, "target_invocations_per_instance": 60,
            "forecast": {"enabled": false}, "anticipate_trend": false,
            "vertical": {"ladder": [
                {"instance_type": "ml.m5.large", "target_invocations_per_instance": 60},
                {"instance_type": "ml.m5.xlarge", "target_invocations_per_instance": 100}],
              "up_after_minutes": 3, "down_after_minutes": 30}
        }))
        .await;
    stack.register_autoscaling(1, 2).await;
    stack.schedule_nightly_floor().await;
    let nightly = vec![("nightly-floor".to_owned(), "cron(0 20 * * ? *)".to_owned())];
    assert_eq!(stack.scheduled_actions().await, nightly);
    let (app, deployment) = stack
        .app(&[("ScalingRollbackAlarms", "mw-e2e-5xx, mw-e2e-latency")])
        .await;

    let first = app.handle(schedule(now), now).await.expect("type change");
    let report = &first.runs[0];
    let Outcome::Applied {
        plan: Plan::ChangeType { config, .. },
    } = &report.outcome
    else {
        panic!("{report:?}")
    };
    let new_config = config.name.clone();
    assert!(new_config.starts_with(&stack.endpoint), "{new_config}");
    // Deregistered for the update, which SageMaker refuses for a registered variant, scheduled actions and all.
    assert_eq!(stack.autoscaling().await, (None, vec![]));
    assert_eq!(stack.scheduled_actions().await, vec![]);

    // The new configuration: the variant on the larger type with the decided count, the other variant and the
    // data capture kept.
    let sm = &stack.clients.sagemaker;
    let created = sm
        .describe_endpoint_config()
        .endpoint_config_name(&new_config)
        .send()
        .await
        .expect("the new configuration exists");
    let variants: Vec<(&str, &str, i32)> = created
        .production_variants()
        .iter()
        .map(|v| {
            (
                v.variant_name().unwrap(),
                v.instance_type().unwrap().as_str(),
                v.initial_instance_count().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        variants,
        vec![("AllTraffic", "ml.m5.xlarge", 2), ("Canary", "ml.m5.large", 1)]
    );
    let dc = created.data_capture_config().expect("data capture kept");
    assert_eq!(
        (dc.destination_s3_uri(), dc.initial_sampling_percentage()),
        (Some("s3://captures/datacapture"), Some(50))
    );

    // The update is still running a minute later: the function waits, autoscaling stays off.
    let second_at = now + Duration::minutes(1);
    let second = app.handle(schedule(second_at), second_at).await.unwrap();
    assert_eq!(second.runs[0].status, "Updating");
    assert_eq!(second.runs[0].outcome, Outcome::Held);
    assert_eq!(stack.autoscaling().await.0, None);

    // In service on the new configuration: the registration and its policy come back as they were.
    settled_config(sm, &stack.endpoint).await;
    let third_at = now + Duration::minutes(2);
    let third = app.handle(schedule(third_at), third_at).await.unwrap();
    assert!(
        matches!(
            third.runs[0].outcome,
            Outcome::Applied {
                plan: Plan::Reregister { .. }
            }
        ),
        "{:?}",
        third.runs[0]
    );
    assert_eq!(third.runs[0].instance_type, "ml.m5.xlarge");
    assert_eq!(
        stack.autoscaling().await,
        (Some((1, 2)), vec![("invocations-target".to_owned(), 70.0)])
    );
    assert_eq!(stack.scheduled_actions().await, nightly);

    let described = describe_endpoint(sm, &stack.endpoint).await;
    assert_eq!(described.endpoint_status(), Some(&EndpointStatus::InService));
    assert_eq!(described.endpoint_config_name(), Some(new_config.as_str()));
    let sent = described
        .last_deployment_config()
        .expect("the deployment config was sent");
    let routing = sent
        .blue_green_update_policy()
        .and_then(|b| b.traffic_routing_configuration())
        .expect("blue/green");
    assert_eq!(routing.r#type(), Some(&TrafficRoutingConfigType::AllAtOnce));
    assert_eq!(routing.wait_interval_in_seconds(), Some(600));
    let alarms: Vec<&str> = sent
        .auto_rollback_configuration()
        .expect("auto-rollback")
        .alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .collect();
    assert_eq!(alarms, vec!["mw-e2e-5xx", "mw-e2e-latency"]);
    assert_eq!(stack.counts().await.1, pairs(&[("AllTraffic", 2), ("Canary", 1)]));
    deployment.check();
}
