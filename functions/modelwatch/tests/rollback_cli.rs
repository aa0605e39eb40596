//! `modelwatch history` and `modelwatch rollback` (feature `aws`) against the emulators: an endpoint serving
//! version 1 after an initial version, with the version history where the retraining function keeps it. The
//! binary is run as a user would, with the emulator's endpoint in its environment.

use std::process::{Command, Output};

use aws_sdk_sagemaker::types::{ContainerDefinition, EndpointStatus, ProductionVariant, ProductionVariantInstanceType};
use chrono::{Duration, Utc};
use modelwatch_core::retrain::lifecycle::versions_key;
use modelwatch_core::retrain::{ChangeCause, Deployment, Outcome, VersionHistory};
use modelwatch_e2e::{endpoint, get, put, sdk_config, unique};

const ROLE: &str = "arn:aws:iam::000000000000:role/modelwatch-model";
const IMAGE: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";

fn modelwatch(args: &[&str]) -> Output {
    command(args).output().expect("modelwatch runs")
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_modelwatch"));
    c.args(args)
        .env_remove("MODELWATCH_STATE")
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    c
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_the_versions_and_rollback_restores_the_previous_configuration() {
    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let sm = aws_sdk_sagemaker::Client::new(&sdk);
    let bucket = unique("mw-rollback");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let ep = unique("mw-rollback");
    for v in ["initial", "v1"] {
        sm.create_model()
            .model_name(format!("{ep}-{v}"))
            .execution_role_arn(ROLE)
            .primary_container(ContainerDefinition::builder().image(IMAGE).build())
            .send()
            .await
            .expect("CreateModel");
        sm.create_endpoint_config()
            .endpoint_config_name(format!("{ep}-{v}"))
            .production_variants(
                ProductionVariant::builder()
                    .variant_name("AllTraffic")
                    .model_name(format!("{ep}-{v}"))
                    .instance_type(ProductionVariantInstanceType::MlM5Large)
                    .initial_instance_count(1)
                    .build(),
            )
            .send()
            .await
            .expect("CreateEndpointConfig");
    }
    sm.create_endpoint()
        .endpoint_name(&ep)
        .endpoint_config_name(format!("{ep}-v1"))
        .send()
        .await
        .expect("CreateEndpoint");
    // What the retraining function recorded: the initial version served, then version 1 replaced it.
    let t0 = Utc::now() - Duration::days(2);
    let mut history = VersionHistory::new(&ep);
    for (i, (version, cause)) in [
        ("initial", ChangeCause::Initial),
        (
            "1",
            ChangeCause::Retrained {
                training_job: "churn-5dc80105-20261125100000".into(),
                trigger: "drift_share".into(),
            },
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let config = format!("{ep}-{}", if i == 0 { "initial" } else { "v1" });
        let at = t0 + Duration::hours(i as i64);
        history
            .record_deployment(Deployment {
                version: version.into(),
                model_name: config.clone(),
                endpoint_config: config.clone(),
                at,
                cause,
            })
            .unwrap();
        history.record_outcome(&config, at, Outcome::Served).unwrap();
    }
    let state = format!("s3://{bucket}/state/monitor");
    let key = format!("state/monitor/{}", versions_key(&ep));
    put(&s3, &bucket, &key, history.to_json().into_bytes()).await;

    let listed = modelwatch(&["history", "--endpoint", &ep, "--state", &state]);
    assert!(listed.status.success(), "{}", text(&listed));
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(
        out.contains("drift_share") && out.contains("initial"),
        "{}",
        text(&listed)
    );

    let unknown = modelwatch(&["rollback", "--endpoint", &ep, "--to", "7", "--state", &state]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("version 7 is not in the history"),
        "{}",
        text(&unknown)
    );

    // The state location from the environment, as a team sets it once: `modelwatch rollback --endpoint NAME`.
    let rolled = command(&["rollback", "--endpoint", &ep, "--requested-by", "oncall"])
        .env("MODELWATCH_STATE", &state)
        .output()
        .expect("modelwatch runs");
    assert!(rolled.status.success(), "{}", text(&rolled));
    assert!(
        String::from_utf8_lossy(&rolled.stdout).contains("from version 1 to version initial"),
        "{}",
        text(&rolled)
    );
    let mut serving = None;
    for _ in 0..10 {
        let d = sm.describe_endpoint().endpoint_name(&ep).send().await.unwrap();
        if d.endpoint_status() == Some(&EndpointStatus::InService) {
            serving = d.endpoint_config_name().map(str::to_owned);
            break;
        }
    }
    assert_eq!(serving, Some(format!("{ep}-initial")));
    let stored = VersionHistory::from_json(&String::from_utf8(get(&s3, &bucket, &key).await).unwrap()).unwrap();
    let last = stored.deployments.last().unwrap();
    assert_eq!(last.endpoint_config, format!("{ep}-initial"));
    assert!(
        matches!(&last.cause, ChangeCause::Rollback { from_version, requested_by } if from_version == "1" && requested_by == "oncall")
    );

    let json = modelwatch(&["history", "--endpoint", &ep, "--state", &state, "--json"]);
    let parsed = VersionHistory::from_json(&String::from_utf8_lossy(&json.stdout)).expect("JSON history");
    assert_eq!(parsed.deployments.len(), 3);
}
