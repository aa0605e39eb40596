//! `modelwatch history` and `modelwatch rollback` (feature `aws`) against the emulators: an endpoint serving
//! version 1 after an initial version, with the version history where the retraining function keeps it. The
//! binary is run as a user would, with the emulator's endpoint in its environment.

use std::process::{Command, Output};

use aws_sdk_sagemaker::types::ContainerDefinition;
use chrono::{Duration, Utc};
use modelwatch_core::retrain::lifecycle::versions_key;
use modelwatch_core::retrain::{ChangeCause, Deployment, Outcome, VersionHistory};
use modelwatch_e2e::{
    bucket, create_endpoint, create_endpoint_config, create_model, endpoint, get, put, sdk_config, settled_config,
    unique,
};

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
    let bucket = bucket(&s3, "mw-rollback").await;
    let ep = unique("mw-rollback");
    for v in ["initial", "v1"] {
        let name = format!("{ep}-{v}");
        create_model(&sm, &name, ContainerDefinition::builder().image(IMAGE).build()).await;
        create_endpoint_config(&sm, &name, &name, &[("AllTraffic", 1, 1.0)], None).await;
    }
    create_endpoint(&sm, &ep, &format!("{ep}-v1")).await;
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
    // A copy of the initial configuration (the fleet keeps its current size and type), serving its model.
    let stored = VersionHistory::from_json(&String::from_utf8(get(&s3, &bucket, &key).await).unwrap()).unwrap();
    let last = stored.deployments.last().unwrap();
    assert!(last.endpoint_config.contains("rbinitial"), "{}", last.endpoint_config);
    assert_eq!(settled_config(&sm, &ep).await, last.endpoint_config);
    let model = |config: String| {
        let sm = sm.clone();
        async move {
            let c = sm
                .describe_endpoint_config()
                .endpoint_config_name(config)
                .send()
                .await
                .unwrap();
            c.production_variants()[0].model_name().map(str::to_owned)
        }
    };
    assert_eq!(
        model(last.endpoint_config.clone()).await,
        model(format!("{ep}-initial")).await
    );
    assert!(
        matches!(&last.cause, ChangeCause::Rollback { from_version, requested_by } if from_version == "1" && requested_by == "oncall")
    );

    let json = modelwatch(&["history", "--endpoint", &ep, "--state", &state, "--json"]);
    let parsed = VersionHistory::from_json(&String::from_utf8_lossy(&json.stdout)).expect("JSON history");
    assert_eq!(parsed.deployments.len(), 3);
}
