//! What a retraining job must not inherit from the job it clones: the pure rules the adapter applies to the
//! template's `DescribeTrainingJob` before `CreateTrainingJob`.
//!
//! - **Metric definitions.** `DescribeTrainingJob` returns the metric definitions of a built-in algorithm (the
//!   algorithm's own), but `CreateTrainingJob` refuses `AlgorithmSpecification.MetricDefinitions` for a built-in
//!   algorithm's image: they are left out for those images ([`is_built_in_algorithm`]) and kept for the others
//!   (framework and custom containers need them to report metrics).
//! - **Locations of the template job.** `CheckpointConfig.S3Uri` and the SageMaker Python SDK's `model_dir`
//!   hyperparameter point below the template job's own prefix: a clone would resume from the template's
//!   checkpoints or overwrite its files. They are moved to the new job's prefix ([`job_uri`]), as is the SDK's
//!   `sagemaker_job_name`.

use std::collections::HashMap;

/// The repositories of SageMaker's built-in algorithm images ("Docker Registry Paths and Example Code", Amazon
/// SageMaker developer guide), by the name after the registry: `{account}.dkr.ecr.{region}.amazonaws.com/{name}`.
pub const BUILT_IN_ALGORITHM_REPOSITORIES: &[&str] = &[
    "blazingtext",
    "factorization-machines",
    "forecasting-deepar",
    "image-classification",
    "ipinsights",
    "kmeans",
    "knn",
    "lda",
    "linear-learner",
    "ntm",
    "object-detection",
    "object2vec",
    "pca",
    "randomcutforest",
    "semantic-segmentation",
    "seq2seq",
    "xgboost",
];

/// The XGBoost image, a built-in algorithm when run without a training script and a framework with one.
pub const XGBOOST_REPOSITORY: &str = "sagemaker-xgboost";

/// The hyperparameter in which the SageMaker Python SDK records a framework job's training script (script mode).
pub const SDK_PROGRAM_HYPERPARAMETER: &str = "sagemaker_program";

/// The hyperparameter in which the SageMaker Python SDK records a job's own name.
pub const SDK_JOB_NAME_HYPERPARAMETER: &str = "sagemaker_job_name";

/// The hyperparameter in which the SageMaker Python SDK's TensorFlow estimator gives the script an S3 location
/// below the job's output (`s3://{bucket}/{job name}/model`).
pub const SDK_MODEL_DIR_HYPERPARAMETER: &str = "model_dir";

/// The repository of an ECR image URI (`{registry}/{repository}:{tag}` or `@{digest}`), without the registry.
pub fn image_repository(image: &str) -> &str {
    let path = image.split_once('/').map_or(image, |(_, path)| path);
    let end = path.find(['@', ':']).unwrap_or(path.len());
    &path[..end]
}

/// Whether `image` with `hyperparameters` runs a SageMaker built-in algorithm, whose metric definitions
/// `CreateTrainingJob` refuses: an image of [`BUILT_IN_ALGORITHM_REPOSITORIES`], or the XGBoost image without a
/// training script ([`SDK_PROGRAM_HYPERPARAMETER`]).
pub fn is_built_in_algorithm(image: &str, hyperparameters: &HashMap<String, String>) -> bool {
    let repository = image_repository(image);
    BUILT_IN_ALGORITHM_REPOSITORIES.contains(&repository)
        || (repository == XGBOOST_REPOSITORY && !hyperparameters.contains_key(SDK_PROGRAM_HYPERPARAMETER))
}

/// An S3 location of the template job made the new job's: the template job's name, where it is a segment of the
/// path, becomes the new job's name; a location without it gets the new job's name as a last segment (the new job
/// writes beside the template's files, not over them).
pub fn job_uri(uri: &str, template_job: &str, new_job: &str) -> String {
    let (scheme, path) = uri.split_once("://").unwrap_or(("", uri));
    let trailing = path.ends_with('/');
    let mut segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut replaced = false;
    for s in segments.iter_mut().skip(1) {
        if *s == template_job {
            *s = new_job;
            replaced = true;
        }
    }
    if !replaced {
        segments.push(new_job);
    }
    let joined = segments.join("/");
    let path = if trailing { format!("{joined}/") } else { joined };
    if scheme.is_empty() {
        path
    } else {
        format!("{scheme}://{path}")
    }
}

/// The template's hyperparameters for the new job: [`SDK_JOB_NAME_HYPERPARAMETER`] names the new job and an S3
/// [`SDK_MODEL_DIR_HYPERPARAMETER`] moves to its prefix ([`job_uri`]). The SDK writes both as JSON strings (quoted);
/// a quoted value stays quoted. A local `model_dir` (`/opt/ml/model`) is left alone.
pub fn clone_hyperparameters(
    hyperparameters: &HashMap<String, String>,
    template_job: &str,
    new_job: &str,
) -> HashMap<String, String> {
    let mut out = hyperparameters.clone();
    if let Some(name) = out.get_mut(SDK_JOB_NAME_HYPERPARAMETER) {
        *name = format!("\"{new_job}\"");
    }
    if let Some(dir) = out.get_mut(SDK_MODEL_DIR_HYPERPARAMETER) {
        let quoted = dir.len() >= 2 && dir.starts_with('"') && dir.ends_with('"');
        let value = if quoted { &dir[1..dir.len() - 1] } else { dir.as_str() };
        if value.starts_with("s3://") {
            let moved = job_uri(value, template_job, new_job);
            *dir = if quoted { format!("\"{moved}\"") } else { moved };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com";

    #[test]
    fn built_in_algorithm_images_are_known_by_repository() {
        let none = HashMap::new();
        assert_eq!(
            image_repository(&format!("{REGISTRY}/linear-learner:1")),
            "linear-learner"
        );
        assert_eq!(image_repository(&format!("{REGISTRY}/kmeans@sha256:abc")), "kmeans");
        assert_eq!(image_repository("xgboost"), "xgboost");
        assert!(is_built_in_algorithm(&format!("{REGISTRY}/linear-learner:1"), &none));
        assert!(is_built_in_algorithm(
            &format!("{REGISTRY}/sagemaker-xgboost:1.7-1"),
            &none
        ));
        let script: HashMap<String, String> =
            [(SDK_PROGRAM_HYPERPARAMETER.to_owned(), "\"train.py\"".to_owned())].into();
        assert!(!is_built_in_algorithm(
            &format!("{REGISTRY}/sagemaker-xgboost:1.7-1"),
            &script
        ));
        assert!(!is_built_in_algorithm(
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3-cpu-py311",
            &none
        ));
        assert!(!is_built_in_algorithm(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/churn:latest",
            &none
        ));
    }

    #[test]
    fn the_template_jobs_locations_become_the_new_jobs() {
        assert_eq!(
            job_uri("s3://b/checkpoints/churn-1/", "churn-1", "churn-2"),
            "s3://b/checkpoints/churn-2/"
        );
        assert_eq!(job_uri("s3://b/ckpt", "churn-1", "churn-2"), "s3://b/ckpt/churn-2");
        // The bucket is never taken for the job's name.
        assert_eq!(
            job_uri("s3://churn-1/x", "churn-1", "churn-2"),
            "s3://churn-1/x/churn-2"
        );
        let template: HashMap<String, String> = [
            (SDK_JOB_NAME_HYPERPARAMETER, "\"churn-1\""),
            (SDK_MODEL_DIR_HYPERPARAMETER, "\"s3://b/churn-1/model\""),
            ("epochs", "10"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let cloned = clone_hyperparameters(&template, "churn-1", "churn-2");
        assert_eq!(cloned[SDK_JOB_NAME_HYPERPARAMETER], "\"churn-2\"");
        assert_eq!(cloned[SDK_MODEL_DIR_HYPERPARAMETER], "\"s3://b/churn-2/model\"");
        assert_eq!(cloned["epochs"], "10");
        let local: HashMap<String, String> =
            [(SDK_MODEL_DIR_HYPERPARAMETER.to_owned(), "\"/opt/ml/model\"".to_owned())].into();
        assert_eq!(clone_hyperparameters(&local, "churn-1", "churn-2"), local);
    }
}
