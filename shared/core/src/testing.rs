//! Helpers for tests, in this crate and in the crates that enable feature `test-util` as a dev-dependency: the
//! real-data folder, the demo endpoint ready for a run, and the scaling policy and endpoint views the controller's
//! tests and the adapters' mocked-client tests share.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Duration;

use crate::baseline::Baseline;
use crate::demo::{self, DemoData};
use crate::evaluate::{EvaluationConfig, Sources, evaluate_window};
use crate::memory::MemorySource;
use crate::metrics::MetricScope;
use crate::profile::DatasetProfile;
use crate::scaling::endpoint::{ConfigVariant, ConfigView, EndpointView, LiveVariant};
use crate::scaling::{Policy, VariantStatus};
use crate::window::Window;

/// Where the shared real-data folder is: `../shared/realdata` beside the checkout (the workspace root's parent).
const REALDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/realdata");

/// The shared folder of real, third-party files (SageMaker captures, Model Monitor baselines, public data sets,
/// request traces), when it is beside the checkout.
///
/// When it is absent, a test that needs it cannot check anything. On a workstation that is a skip, announced on
/// stderr as `SKIPPED <test name>: ../shared/realdata is absent` so that it is not mistaken for a pass. In CI (the
/// `CI` environment variable set and not empty, as GitHub Actions and most CI services set it) the folder is part of
/// the set-up, so its absence is a broken set-up and this panics rather than letting the test pass silently.
///
/// The test name is the test harness's thread name, so callers pass nothing.
///
/// # Panics
///
/// When the folder is absent and `CI` is set.
pub fn realdata() -> Option<PathBuf> {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    // Straight to the stderr handle, not `eprintln!`: the test harness captures the macros' output and shows it only
    // for failing tests, which would make the skip silent again.
    realdata_in(Path::new(REALDATA), ci, &mut std::io::stderr())
}

/// Asserts that two JSON documents are the same but for numbers, which may differ by `relative` of their size:
/// sums and means merged in another grouping (a window read in parts) agree to rounding, not to the bit.
///
/// # Panics
///
/// At the first difference, naming its path.
pub fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value, relative: f64) {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, relative: f64, path: &str) {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                assert!((x - y).abs() <= relative * x.abs().max(y.abs()), "{path}: {x} vs {y}");
            }
            (Value::Array(x), Value::Array(y)) => {
                assert_eq!(x.len(), y.len(), "{path}: lengths");
                for (i, (x, y)) in x.iter().zip(y).enumerate() {
                    walk(x, y, relative, &format!("{path}[{i}]"));
                }
            }
            (Value::Object(x), Value::Object(y)) => {
                assert_eq!(
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>(),
                    "{path}: keys"
                );
                for (k, x) in x {
                    walk(x, &y[k], relative, &format!("{path}.{k}"));
                }
            }
            _ => assert_eq!(a, b, "{path}"),
        }
    }
    walk(a, b, relative, "$");
}

/// The project's own small fixtures (`shared/core/tests/fixtures`), written in the shapes of the real files so that
/// the paths the real-data tests cover are tested on every checkout.
pub fn fixtures() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).to_path_buf()
}

/// The demo endpoint ([`demo::generate`]) ready for a run: its files, its captures and ground truth as sources,
/// and a baseline.
pub struct DemoCase {
    pub data: DemoData,
    pub captures: MemorySource,
    pub ground_truth: MemorySource,
    pub baseline: Baseline,
}

impl DemoCase {
    fn with_baseline(data: DemoData, baseline: impl FnOnce(&DemoData, &MemorySource) -> Baseline) -> Self {
        let captures = MemorySource::new(data.captures.iter().map(|(p, c)| (p.clone(), c.clone())));
        let ground_truth = MemorySource::new(data.ground_truth.iter().map(|(p, c)| (p.clone(), c.clone())));
        let baseline = baseline(&data, &captures);
        Self {
            data,
            captures,
            ground_truth,
            baseline,
        }
    }

    /// With a baseline profiled from the demo's first (undrifted) hour of captures: no training set to read, so
    /// no data set reader (feature `datasets`).
    ///
    /// # Panics
    ///
    /// When the demo's first hour cannot be evaluated (a bug in the demo or the evaluator).
    pub fn first_hour() -> Self {
        Self::with_baseline(demo::generate(), |data, captures| {
            let sources = Sources {
                captures,
                ground_truth: None,
                quality_constraints: None,
                estimate: None,
                partials: None,
            };
            let scope = MetricScope {
                endpoint: "e".into(),
                schedule: "s".into(),
                timestamp: data.start,
            };
            let empty = Baseline::from_profile(&DatasetProfile::new(std::iter::empty()));
            let first = evaluate_window(
                &sources,
                Some(&hour_of(data, 0)),
                &empty,
                &EvaluationConfig::default(),
                &scope,
                &mut |_, _, _| {},
            )
            .expect("the demo's first hour evaluates");
            Baseline::from_profile(&first.profile)
        })
    }

    /// With the baseline profiled from the demo's training set (label `default` left out), as `modelwatch demo`
    /// and the suggest-baseline function profile it.
    ///
    /// # Panics
    ///
    /// When the training set cannot be written to the temporary folder or profiled.
    #[cfg(feature = "datasets")]
    pub fn training() -> Self {
        Self::training_from(demo::start())
    }

    /// [`Self::training`] with the demo's hours starting at `start` ([`demo::generate_from`]).
    ///
    /// # Panics
    ///
    /// As [`Self::training`].
    #[cfg(feature = "datasets")]
    pub fn training_from(start: chrono::DateTime<chrono::Utc>) -> Self {
        use crate::dataset::{DatasetOptions, profile_dataset};

        Self::with_baseline(demo::generate_from(start), |data, _| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_nanos();
            let path =
                std::env::temp_dir().join(format!("modelwatch-demo-training-{}-{nanos}.csv", std::process::id()));
            std::fs::write(&path, &data.training_csv).expect("write the demo's training set");
            let options = DatasetOptions {
                has_header: true,
                label_column: Some(demo::LABEL.to_owned()),
                ..Default::default()
            };
            let profile = profile_dataset(&path, &options);
            let _ = std::fs::remove_file(&path);
            Baseline::from_profile(&profile.expect("profile the demo's training set"))
        })
    }

    /// The demo's hour `h` (0-based).
    pub fn hour(&self, h: i64) -> Window {
        hour_of(&self.data, h)
    }
}

fn hour_of(data: &DemoData, h: i64) -> Window {
    Window {
        start: data.start + Duration::hours(h),
        end: data.start + Duration::hours(h + 1),
    }
}

/// The scaling policy of variant `ep/AllTraffic` on a two-rung ladder: `ml.g5.xlarge` at 60 invocations per
/// instance, then `ml.g5.2xlarge` at 100, between 1 and 4 instances, without forecast or trend.
///
/// # Panics
///
/// Never: the policy is valid.
pub fn ladder_policy() -> Policy {
    Policy::from_json(
        r#"{"endpoint":"ep","variant":"AllTraffic","instance_type":"ml.g5.xlarge","min_instances":1,"max_instances":4,
            "target_invocations_per_instance":60,"forecast":{"enabled":false},"anticipate_trend":false,
            "vertical":{"ladder":[
                {"instance_type":"ml.g5.xlarge","target_invocations_per_instance":60},
                {"instance_type":"ml.g5.2xlarge","target_invocations_per_instance":100}],
              "up_after_minutes":5,"down_after_minutes":30}}"#,
    )
    .expect("a valid policy")
}

/// Endpoint `name` running configuration `config` in `status`, with `(variant, instances, weight)`: as many
/// current as desired instances.
pub fn endpoint_view(name: &str, config: &str, status: VariantStatus, variants: &[(&str, u32, f32)]) -> EndpointView {
    EndpointView {
        name: name.into(),
        status,
        status_text: format!("{status:?}"),
        config_name: config.into(),
        failure_reason: None,
        variants: variants
            .iter()
            .map(|&(name, count, weight)| LiveVariant {
                name: name.into(),
                current_count: Some(count),
                desired_count: Some(count),
                desired_weight: Some(weight),
            })
            .collect(),
    }
}

/// Endpoint configuration `name` with `(variant, instance type, instances)`, each serving model `model` at
/// weight 1.
pub fn config_view(name: &str, variants: &[(&str, &str, u32)]) -> ConfigView {
    ConfigView {
        name: name.into(),
        variants: variants
            .iter()
            .map(|&(name, instance_type, count)| ConfigVariant {
                name: name.into(),
                instance_type: Some(instance_type.into()),
                initial_count: Some(count),
                initial_weight: Some(1.0),
                model_name: Some("model".into()),
            })
            .collect(),
    }
}

fn realdata_in(path: &Path, ci: bool, skips: &mut impl Write) -> Option<PathBuf> {
    if path.is_dir() {
        return Some(path.to_path_buf());
    }
    if ci {
        panic!(
            "../shared/realdata is absent ({}) but CI is set: in CI the real data must be beside the checkout",
            path.display()
        );
    }
    let thread = std::thread::current();
    let _ = writeln!(
        skips,
        "SKIPPED {}: ../shared/realdata is absent",
        thread.name().unwrap_or("<unnamed test>")
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_present_folder_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        assert_eq!(realdata_in(dir.path(), true, &mut out).as_deref(), Some(dir.path()));
        assert_eq!(realdata_in(dir.path(), false, &mut out).as_deref(), Some(dir.path()));
        assert!(out.is_empty());
    }

    #[test]
    fn an_absent_folder_is_a_skip_outside_ci() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        assert_eq!(realdata_in(&dir.path().join("absent"), false, &mut out), None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SKIPPED testing::tests::an_absent_folder_is_a_skip_outside_ci: ../shared/realdata is absent\n",
            "named after the test's thread"
        );
    }

    #[test]
    #[should_panic(expected = "in CI the real data must be beside the checkout")]
    fn an_absent_folder_fails_in_ci() {
        let dir = tempfile::tempdir().unwrap();
        realdata_in(&dir.path().join("absent"), true, &mut Vec::new());
    }
}
