//! The one loader of a baseline folder, over a read port, for the CLI, the evaluate-captures function and the
//! retraining loop alike.
//!
//! A baseline folder holds, as suggest-baseline writes it (and Model Monitor, for the first two):
//! - `statistics.json` and `constraints.json`: the data baseline (required);
//! - `model-quality/constraints.json`: the model-quality constraints (optional);
//! - `model-quality/cbpe_calibration.json`: the label-free estimate's calibration (optional).
//!
//! A file that is there but not valid is an error naming it, never skipped: a monitor that silently drops its
//! quality constraints stops alarming without saying so. The data baseline's two files are also checked against
//! each other ([`Baseline::check`]): a zero-row baseline, a feature named twice, constraints naming none of the
//! statistics' features or a share outside [0, 1] is an error naming the file and the feature; a feature that
//! only cannot be compared is reported as such ([`Baseline::not_comparable`]).

use crate::baseline::{Baseline, BaselineError, CONSTRAINTS_FILE, STATISTICS_FILE};
use crate::evaluate::QualityConfig;
use crate::ports::{PortError, StateStore};
use crate::quality::{CBPE_CALIBRATION_FILE, CbpeCalibration, ModelQualityConstraints, ProblemType};
use crate::report::QUALITY_DIR;

/// Named objects of one folder, read whole: any [`StateStore`] rooted at the folder is one.
pub trait ObjectReader {
    /// The object's bytes, or `None` when it does not exist.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the object when it cannot be read.
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, PortError>;
}

impl<S: StateStore + ?Sized> ObjectReader for S {
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, PortError> {
        Ok(self.get(name)?.map(|(bytes, _)| bytes))
    }
}

/// Everything a baseline folder holds.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineFiles {
    pub baseline: Baseline,
    /// `model-quality/constraints.json`, when present.
    pub quality_constraints: Option<ModelQualityConstraints>,
    /// `model-quality/cbpe_calibration.json`, when present.
    pub calibration: Option<CbpeCalibration>,
}

/// The path of the model-quality constraints in a baseline folder.
pub fn quality_constraints_name() -> String {
    format!("{QUALITY_DIR}/{CONSTRAINTS_FILE}")
}

/// The path of the CBPE calibration in a baseline folder.
pub fn calibration_name() -> String {
    format!("{QUALITY_DIR}/{CBPE_CALIBRATION_FILE}")
}

/// Reads the baseline folder `folder` (its name in errors: a path or an `s3://` URI) through `files`.
///
/// # Errors
///
/// [`BaselineError::Missing`] when `statistics.json` or `constraints.json` is absent, [`BaselineError::Read`]
/// when a file cannot be read, and [`BaselineError::Parse`] or [`BaselineError::Invalid`] naming the file that
/// is not valid or that contradicts the other.
pub fn load<R: ObjectReader + ?Sized>(folder: &str, files: &R) -> Result<BaselineFiles, BaselineError> {
    let folder_files = Folder { name: folder, files };
    let required = |name: &str| {
        folder_files.read(name)?.ok_or_else(|| BaselineError::Missing {
            path: folder_files.path(name),
        })
    };
    let baseline = Baseline::from_json(folder, &required(STATISTICS_FILE)?, &required(CONSTRAINTS_FILE)?)?;
    Ok(BaselineFiles {
        baseline,
        quality_constraints: load_quality_constraints(folder, files)?,
        calibration: load_calibration(folder, files)?,
    })
}

/// Reads only `model-quality/constraints.json` of the baseline folder `folder` (the retraining loop's need).
///
/// # Errors
///
/// As [`load`], for that file.
pub fn load_quality_constraints<R: ObjectReader + ?Sized>(
    folder: &str,
    files: &R,
) -> Result<Option<ModelQualityConstraints>, BaselineError> {
    let folder = Folder { name: folder, files };
    let name = quality_constraints_name();
    folder.parse(&name, "model-quality constraints", parse_quality_constraints)
}

/// Parses a model-quality `constraints.json` (from a baseline folder or named on its own), refusing one with no
/// problem type's block: every field is optional, so a data-quality constraints.json parses too, as no
/// constraint at all.
///
/// # Errors
///
/// The parse error, or the missing blocks.
pub fn parse_quality_constraints(
    text: &str,
) -> Result<ModelQualityConstraints, Box<dyn std::error::Error + Send + Sync>> {
    let constraints = ModelQualityConstraints::from_json(text)?;
    let sections = [
        &constraints.binary_classification_constraints,
        &constraints.multiclass_classification_constraints,
        &constraints.regression_constraints,
    ];
    if sections.iter().all(|s| s.is_none()) {
        return Err(
            "it has no binary_classification_constraints, multiclass_classification_constraints or \
             regression_constraints (a data-quality constraints.json?)"
                .into(),
        );
    }
    Ok(constraints)
}

/// Reads only `model-quality/cbpe_calibration.json` of the baseline folder `folder`.
///
/// # Errors
///
/// As [`load`], for that file.
pub fn load_calibration<R: ObjectReader + ?Sized>(
    folder: &str,
    files: &R,
) -> Result<Option<CbpeCalibration>, BaselineError> {
    let folder = Folder { name: folder, files };
    folder.parse(&calibration_name(), "CBPE calibration", |text| {
        Ok(CbpeCalibration::from_json(text)?)
    })
}

/// Model quality asked for with another problem type than the baseline's model-quality constraints are for: the
/// constraints would not be checked, and the metrics would be those of the wrong problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "model quality is asked for as {asked:?}, but the baseline's model-quality constraints are for {baseline:?}: \
     give the baseline's problem type, or leave it out to take the baseline's"
)]
pub struct QualityMismatch {
    pub asked: ProblemType,
    pub baseline: ProblemType,
}

impl BaselineFiles {
    /// The model quality the baseline's model-quality files describe: the problem type of the constraints' one
    /// block, and for a binary problem the threshold and positive label the CBPE calibration was fitted with (else
    /// the defaults). `None` without model-quality constraints.
    pub fn quality_config(&self) -> Option<QualityConfig> {
        let problem = self.quality_constraints.as_ref()?.problem_type()?;
        let mut config = QualityConfig::new(problem);
        if let (ProblemType::BinaryClassification, Some(c)) = (problem, &self.calibration) {
            config.threshold = c.options.threshold;
            config.positive_label = c.options.positive_label.clone();
        }
        Some(config)
    }

    /// The model quality to evaluate, the one path of the CLI and the function: `configured` (the configuration
    /// file's `quality` section) as it is; else `problem_type` when given, else the baseline's
    /// ([`Self::quality_config`]); `threshold` replaces the threshold taken. The baseline's threshold and positive
    /// label are kept for its own problem type. `None` when nothing names a problem type.
    ///
    /// # Errors
    ///
    /// [`QualityMismatch`] when the problem type differs from the one the baseline's constraints are for.
    pub fn resolve_quality(
        &self,
        configured: Option<QualityConfig>,
        problem_type: Option<ProblemType>,
        threshold: Option<f64>,
    ) -> Result<Option<QualityConfig>, QualityMismatch> {
        let own = self.quality_config();
        let resolved = match (configured, problem_type) {
            (Some(q), _) => Some(q),
            (None, Some(p)) => Some(
                own.clone()
                    .filter(|o| o.problem_type == p)
                    .unwrap_or_else(|| QualityConfig::new(p)),
            ),
            (None, None) => own,
        }
        .map(|mut q| {
            if let Some(t) = threshold {
                q.threshold = t;
            }
            q
        });
        let baseline = self
            .quality_constraints
            .as_ref()
            .and_then(ModelQualityConstraints::problem_type);
        match (&resolved, baseline) {
            (Some(q), Some(b)) if q.problem_type != b => Err(QualityMismatch {
                asked: q.problem_type,
                baseline: b,
            }),
            _ => Ok(resolved),
        }
    }
}

/// A folder's files, named in errors.
struct Folder<'a, R: ?Sized> {
    name: &'a str,
    files: &'a R,
}

impl<R: ObjectReader + ?Sized> Folder<'_, R> {
    fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.name.trim_end_matches('/'))
    }

    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, BaselineError> {
        self.files.read(name).map_err(|source| BaselineError::Read {
            path: self.path(name),
            source,
        })
    }

    /// The optional file `name` parsed by `parse`; any failure is [`BaselineError::Invalid`] naming it.
    fn parse<T>(
        &self,
        name: &str,
        what: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Box<dyn std::error::Error + Send + Sync>>,
    ) -> Result<Option<T>, BaselineError> {
        let Some(bytes) = self.read(name)? else {
            return Ok(None);
        };
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| e.into())
            .and_then(parse)
            .map_err(|source| BaselineError::Invalid {
                path: self.path(name),
                what,
                source,
            })?;
        Ok(Some(parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryState;
    use crate::ports::PortErrorKind;
    use crate::profile::{DatasetProfile, InferredType};
    use crate::quality::{BinaryOptions, ModelQualityStatistics, SuggestOptions};

    fn folder() -> MemoryState {
        let mut profile = DatasetProfile::new([("x".to_owned(), Some(InferredType::Fractional))]);
        for i in 0..10 {
            profile.features[0].add_number(f64::from(i), false);
            profile.item_count += 1;
        }
        let b = Baseline::from_profile(&profile);
        let store = MemoryState::default();
        store
            .put_if(STATISTICS_FILE, &serde_json::to_vec(&b.statistics).unwrap(), None)
            .unwrap();
        store
            .put_if(CONSTRAINTS_FILE, &serde_json::to_vec(&b.constraints).unwrap(), None)
            .unwrap();
        store
    }

    fn quality_constraints() -> String {
        let statistics: ModelQualityStatistics = serde_json::from_value(serde_json::json!({
            "version": 0.0,
            "binary_classification_metrics": {
                "accuracy": {"value": 0.9, "standard_deviation": 0.01}
            }
        }))
        .unwrap();
        crate::quality::suggest_constraints(&statistics, &SuggestOptions::default())
            .to_json()
            .unwrap()
    }

    #[test]
    fn reads_the_data_baseline_and_the_optional_quality_files() {
        let store = folder();
        let files = load("s3://b/base", &store).unwrap();
        assert!(files.quality_constraints.is_none() && files.calibration.is_none());
        assert_eq!(files.baseline.statistics.features.len(), 1);

        store
            .put_if(&quality_constraints_name(), quality_constraints().as_bytes(), None)
            .unwrap();
        let calibration = CbpeCalibration::fit(BinaryOptions::default(), [("0", Some(0.1)), ("1", Some(0.9))]).unwrap();
        store
            .put_if(&calibration_name(), calibration.to_json().as_bytes(), None)
            .unwrap();
        let files = load("s3://b/base", &store).unwrap();
        assert!(files.quality_constraints.is_some());
        assert_eq!(files.calibration, Some(calibration));
    }

    #[test]
    fn a_missing_or_invalid_file_is_an_error_naming_it() {
        let empty = MemoryState::default();
        let err = load("s3://b/base/", &empty).unwrap_err();
        assert_eq!(
            err.to_string(),
            "baseline file s3://b/base/statistics.json does not exist"
        );

        // A data-quality constraints file where the model-quality one belongs is not dropped: it is refused.
        let store = folder();
        let (data_constraints, _) = store.get(CONSTRAINTS_FILE).unwrap().unwrap();
        store
            .put_if(&quality_constraints_name(), &data_constraints, None)
            .unwrap();
        let err = load("base", &store).unwrap_err();
        assert_eq!(
            err.to_string(),
            "base/model-quality/constraints.json is not a valid model-quality constraints file"
        );
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains("a data-quality constraints.json?"), "{cause}");
        // Nor is a file that does not parse.
        let store = folder();
        store
            .put_if(&quality_constraints_name(), b"{\"version\": ", None)
            .unwrap();
        assert!(matches!(load("base", &store), Err(BaselineError::Invalid { .. })));

        let store = folder();
        store.put_if(&calibration_name(), b"{}", None).unwrap();
        let err = load("base", &store).unwrap_err();
        assert_eq!(
            err.to_string(),
            "base/model-quality/cbpe_calibration.json is not a valid CBPE calibration file"
        );
    }

    #[test]
    fn model_quality_comes_from_the_baseline_unless_asked_and_a_mismatch_is_refused() {
        let store = folder();
        let none = load("base", &store).unwrap();
        assert_eq!(
            none.resolve_quality(None, None, None),
            Ok(None),
            "nothing names a problem"
        );
        let regression = none
            .resolve_quality(None, Some(ProblemType::Regression), None)
            .unwrap()
            .unwrap();
        assert_eq!(regression, QualityConfig::new(ProblemType::Regression));

        // A binary baseline with a calibration fitted at 0.7 for the class "yes".
        store
            .put_if(&quality_constraints_name(), quality_constraints().as_bytes(), None)
            .unwrap();
        let options = BinaryOptions {
            threshold: 0.7,
            positive_label: "yes".into(),
            ..BinaryOptions::default()
        };
        let calibration = CbpeCalibration::fit(options, [("no", Some(0.1)), ("yes", Some(0.9))]).unwrap();
        store
            .put_if(&calibration_name(), calibration.to_json().as_bytes(), None)
            .unwrap();
        let files = load("base", &store).unwrap();
        let own = files.resolve_quality(None, None, None).unwrap().unwrap();
        assert_eq!(own.problem_type, ProblemType::BinaryClassification);
        assert_eq!((own.threshold, own.positive_label.as_str()), (0.7, "yes"));
        // The same problem named on the command line keeps the baseline's rule; a threshold replaces it.
        let named = files
            .resolve_quality(None, Some(ProblemType::BinaryClassification), Some(0.6))
            .unwrap()
            .unwrap();
        assert_eq!((named.threshold, named.positive_label.as_str()), (0.6, "yes"));
        // Another problem than the constraints' is refused, from a flag or from the configuration file.
        let err = files
            .resolve_quality(None, Some(ProblemType::Regression), None)
            .unwrap_err();
        assert_eq!(
            err,
            QualityMismatch {
                asked: ProblemType::Regression,
                baseline: ProblemType::BinaryClassification
            }
        );
        let configured = QualityConfig::new(ProblemType::MulticlassClassification);
        assert!(files.resolve_quality(Some(configured), None, None).is_err());
    }

    /// A store whose reads fail.
    struct Broken;

    impl StateStore for Broken {
        fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, PortError> {
            Err(PortError::new("reading", key, PortErrorKind::Other, "access denied"))
        }

        fn put_if(&self, key: &str, _: &[u8], _: Option<&String>) -> Result<String, PortError> {
            Err(PortError::new("writing", key, PortErrorKind::Other, "read only"))
        }
    }

    #[test]
    fn a_failed_read_names_the_file() {
        let err = load("s3://b/base", &Broken).unwrap_err();
        assert_eq!(err.to_string(), "reading s3://b/base/statistics.json");
    }
}
