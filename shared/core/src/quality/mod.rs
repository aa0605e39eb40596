//! Model quality: ground truth, its join with captured predictions, Model Monitor's model-quality metrics and
//! files, and a label-free estimate of binary performance.
//!
//! # Layout
//!
//! - [`ground_truth`]: the reader of SageMaker's ground-truth merge records (JSON Lines).
//! - [`join`]: the memory-bounded join of captures and labels on the inference id, and its report.
//! - [`metrics`]: the streaming accumulators and the pure metric formulas (binary, multiclass, regression).
//! - [`report`]: Model Monitor's model-quality `statistics.json` and `constraints.json`, suggested constraints,
//!   constraint checks into violations, and the CloudWatch data.
//! - [`cbpe`]: confidence-based performance estimation (isotonic calibration, expected confusion matrix).
//!
//! # Flow
//!
//! ```text
//! captures ──add_capture──┐
//!                         ├─ QualityJoin ──evaluate──> (JoinReport, ModelQualityStatistics)
//! ground truth ─read──────┘                                  │
//!                          suggest_constraints / check_constraints / quality_metric_data
//! ```
//!
//! # Ids
//!
//! Captures and labels join on the inference id: `eventMetadata.inferenceId` when present, else `eventMetadata.eventId`
//! (the rule Model Monitor's ground-truth merge documents). A multi-instance request yields several rows under one
//! id; row `i` of such a request is identified as `"<id>:<i>"` (see [`join::row_id`]), so its label must carry that
//! id. A single-row request uses the bare id.

pub mod cbpe;
pub mod ground_truth;
pub mod join;
pub mod metrics;
pub mod report;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The ground-truth reader's old name of [`SkipReport`], the crate's one skip report, so that callers still naming
/// it need no change.
pub use crate::skip::{SkipReason, SkipReport};
pub use cbpe::{
    CBPE_CALIBRATION_FILE, CbpeAccumulator, CbpeCalibration, CbpeError, EstimatedMetrics, IsotonicCalibrator,
    estimate_metric_data,
};
pub use ground_truth::{GroundTruth, GroundTruthError, LabelValue, read_ground_truth};
pub use join::{JoinError, JoinPart, JoinReport, QualityEvaluation, QualityJoin, row_id};
pub use metrics::{BinaryOptions, Decision, ProblemSpec};
pub use report::{
    ComparisonOperator, ConstraintCheck, MetricValue, MetricsBlock, ModelQualityConstraints, ModelQualityStatistics,
    QualityViolation, SuggestOptions, ThresholdConstraint, check_constraints, quality_metric_data, suggest_constraints,
};

/// The problem types of Model Monitor's model-quality job (`problem_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProblemType {
    BinaryClassification,
    MulticlassClassification,
    Regression,
}

/// The canonical text of a class label, so that captures and ground truth written by different producers agree:
/// surrounding whitespace and one pair of double quotes are removed, and an integral number is written without a
/// fraction (`"1.0"`, `" 1 "` and `"\"1\""` all become `"1"`), because endpoints often answer `1.0` where labels say
/// `1`.
pub fn normalize_class(text: &str) -> Cow<'_, str> {
    let mut t = text.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t = t[1..t.len() - 1].trim();
    }
    if is_canonical_integer(t) {
        return Cow::Borrowed(t); // what the conversion below would write, without its allocation
    }
    if let Ok(v) = t.parse::<f64>() {
        // Integral and exactly representable: write as an integer. 2^53 keeps the conversion exact.
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
            let int = format!("{}", v as i64);
            if int != t {
                return Cow::Owned(int);
            }
        }
    }
    Cow::Borrowed(t)
}

/// Whether `t` is an integer as `{}` writes an `i64`, with at most 15 digits (below 2^53, so exact as an `f64`).
fn is_canonical_integer(t: &str) -> bool {
    let digits = t.strip_prefix('-').unwrap_or(t).as_bytes();
    !digits.is_empty()
        && digits.len() <= 15
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || digits.len() == 1)
        && t != "-0"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_labels_are_normalized() {
        assert_eq!(normalize_class("1"), "1");
        assert_eq!(normalize_class("1.0"), "1");
        assert_eq!(normalize_class(" 1 "), "1");
        assert_eq!(normalize_class("\"1\""), "1");
        assert_eq!(normalize_class("-2.00"), "-2");
        assert_eq!(normalize_class("0.5"), "0.5");
        assert_eq!(normalize_class("cat"), "cat");
        assert_eq!(normalize_class(" \"dog\" "), "dog");
        assert_eq!(normalize_class("NaN"), "NaN");
        // The integer fast path agrees with the conversion, and leaves what is not canonical to it.
        for (text, want) in [("007", "7"), ("-0", "0"), ("+1", "1"), ("-12", "-12"), ("0", "0")] {
            assert_eq!(normalize_class(text), want, "{text}");
        }
        for i in [
            0i64,
            1,
            -1,
            999_999_999_999_999,
            -999_999_999_999_999,
            1_000_000_000_000_000,
        ] {
            let t = i.to_string();
            assert_eq!(normalize_class(&t), t);
            assert_eq!(is_canonical_integer(&t), t.trim_start_matches('-').len() <= 15);
        }
    }
}
