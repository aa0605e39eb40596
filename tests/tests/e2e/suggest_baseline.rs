//! The `suggest-baseline` function end to end against LocalStack's S3: a training set and a labelled validation
//! set in S3, the handler invoked in-process as the template deploys it (its role: [`Deployment::check`]), the
//! baseline files read back.

use modelwatch_core::baseline::Baseline;
use modelwatch_core::demo;
use modelwatch_e2e::iam::{Deployment, Function};
use modelwatch_e2e::{get, put, sdk_config, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_model_monitor_baselines_from_a_data_set_in_s3() {
    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let bucket = unique("mw-suggest");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    // The template's default prefixes: data sets below `training-data/`, baselines below `baselines/`.
    let deployment = Deployment::new(
        Function::SuggestBaseline,
        &[("DataBucketName", &bucket), ("EndpointName", demo::ENDPOINT)],
    );
    let function = modelwatch_aws::config::s3_client(&deployment.sdk_config().await);
    let data = demo::generate();
    put(&s3, &bucket, "training-data/train.csv", data.training_csv.as_bytes()).await;
    put(
        &s3,
        &bucket,
        "training-data/validation.csv",
        data.validation_csv.as_bytes(),
    )
    .await;
    let folder = format!("s3://{bucket}/baselines/{}/{}", demo::ENDPOINT, demo::VARIANT);

    let training = serde_json::json!({
        "dataset": format!("s3://{bucket}/training-data/train.csv"), "baseline": folder, "label_column": demo::LABEL
    });
    let response = suggest_baseline::handler::handle(&function, training)
        .await
        .expect("training baseline");
    assert_eq!(response.features, demo::FEATURES.len());
    assert_eq!(response.item_count, demo::TRAINING_ROWS as u64);
    assert_eq!(response.written.len(), 2);
    let prefix = format!("baselines/{}/{}", demo::ENDPOINT, demo::VARIANT);
    let statistics = get(&s3, &bucket, &format!("{prefix}/statistics.json")).await;
    let constraints = get(&s3, &bucket, &format!("{prefix}/constraints.json")).await;
    let baseline = Baseline::from_json("s3", &statistics, &constraints).expect("Model Monitor baseline files");
    let names: Vec<&str> = baseline.statistics.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, demo::FEATURES.to_vec());
    assert!(!names.contains(&demo::LABEL));

    // The validation set beside it: only the model-quality files, the data baseline untouched.
    let validation = serde_json::json!({
        "dataset": format!("s3://{bucket}/training-data/validation.csv"), "baseline": folder,
        "label_column": demo::LABEL, "prediction_column": "score", "problem_type": "BinaryClassification",
        "quality_only": true
    });
    let response = suggest_baseline::handler::handle(&function, validation)
        .await
        .expect("quality baseline");
    let written: Vec<String> = response
        .written
        .iter()
        .map(|w| w.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        written,
        ["statistics.json", "constraints.json", "cbpe_calibration.json"]
    );
    assert!(response.written.iter().all(|w| w.contains("/model-quality/")));
    let quality: serde_json::Value =
        serde_json::from_slice(&get(&s3, &bucket, &format!("{prefix}/model-quality/statistics.json")).await).unwrap();
    let auc = quality["binary_classification_metrics"]["auc"]["value"]
        .as_f64()
        .unwrap();
    assert!((0.6..1.0).contains(&auc), "{auc}");
    assert_eq!(
        get(&s3, &bucket, &format!("{prefix}/statistics.json")).await,
        statistics
    );

    // A data set that is not there, and an event with a typo: clear errors.
    let missing = serde_json::json!({"dataset": format!("s3://{bucket}/training-data/nope.csv"), "baseline": folder});
    let error = suggest_baseline::handler::handle(&function, missing).await.unwrap_err();
    let diagnostic = modelwatch_aws::lambda::diagnostic(&error);
    let message = diagnostic.error_message;
    assert!(
        message.contains("nope.csv") && message.contains("NoSuchKey"),
        "{message}"
    );
    assert_eq!(diagnostic.error_type, modelwatch_aws::lambda::BAD_INPUT);
    let typo = serde_json::json!({"dataset": format!("s3://{bucket}/training-data/train.csv"), "baseline": folder, "labels": "x"});
    let error = suggest_baseline::handler::handle(&function, typo).await.unwrap_err();
    let error = modelwatch_core::ports::error_chain(&error);
    assert!(error.contains("unknown field `labels`"), "{error}");
    deployment.check();
}
