//! The name and the tags of a launched training job, always within SageMaker's limits whatever the model is
//! called.
//!
//! The tags record the lineage of the job: the model, what triggered it (the checks that fired and each
//! violation with its numbers), the baseline it was judged against and the model it replaces. Tags copied from
//! the template job (cost allocation, owner) are kept verbatim when they fit, except the template's own
//! `modelwatch:` lineage.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::decide::Reason;

/// Most tags one SageMaker resource takes: the `Tags` array of CreateTrainingJob (like every SageMaker create
/// call) holds "Minimum number of 0 items. Maximum number of 50 items" (SageMaker API Reference).
pub const MAX_TAGS: usize = 50;
/// Longest tag key: "Length Constraints: Minimum length of 1. Maximum length of 128" (SageMaker API Reference,
/// `Tag`). Lengths count Unicode characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value: "Length Constraints: Minimum length of 0. Maximum length of 256" (SageMaker API Reference,
/// `Tag`).
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// The punctuation tag keys and values may hold besides letters, digits and spaces: the `Tag` pattern is
/// `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$` (SageMaker API Reference, `Tag`).
pub const TAG_PUNCTUATION: &str = "_.:/=+-@";
/// Tag keys beginning with this are reserved for AWS and rejected (AWS General Reference, tagging best practices).
pub const RESERVED_TAG_PREFIX: &str = "aws:";
/// The namespace of the tags this module writes.
pub const TAG_PREFIX: &str = "modelwatch:";
/// Longest training job name: `TrainingJobName` has "Length Constraints: Minimum length of 1. Maximum length
/// of 63" and the pattern `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$` (SageMaker API Reference, CreateTrainingJob).
pub const MAX_TRAINING_JOB_NAME: usize = 63;
/// Evidence tags kept even when the template's tags would fill every slot (the lineage must say why).
pub const MIN_EVIDENCE_TAGS: usize = 3;

/// A resource tag, serialised as SageMaker's `{"Key": ..., "Value": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

impl Tag {
    fn new(key: &str, value: &str) -> Self {
        Self {
            key: key.to_owned(),
            value: tag_value(value),
        }
    }
}

fn allowed_ascii(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' ' || TAG_PUNCTUATION.contains(c)
}

/// Whether a character is in the `Tag` pattern. Letters and digits outside ASCII count as `\p{L}`/`\p{N}` and
/// spaces as `\p{Z}`: good enough to judge tags that SageMaker itself returned; the values this module writes use
/// ASCII only.
fn allowed_char(c: char) -> bool {
    allowed_ascii(c) || (!c.is_ascii() && !c.is_control() && (c.is_alphanumeric() || c.is_whitespace()))
}

/// Whether a tag satisfies SageMaker's `Tag` constraints and is not reserved for AWS.
pub fn is_valid_tag(tag: &Tag) -> bool {
    let key_len = tag.key.chars().count();
    (1..=MAX_TAG_KEY_CHARS).contains(&key_len)
        && tag.value.chars().count() <= MAX_TAG_VALUE_CHARS
        && tag.key.chars().all(allowed_char)
        && tag.value.chars().all(allowed_char)
        && !tag.key.to_ascii_lowercase().starts_with(RESERVED_TAG_PREFIX)
}

/// Whether a tag uses only the ASCII part of the pattern (what this module writes).
pub fn is_ascii_tag(tag: &Tag) -> bool {
    is_valid_tag(tag) && tag.key.chars().all(allowed_ascii) && tag.value.chars().all(allowed_ascii)
}

/// A tag value from any text: characters outside the ASCII part of the pattern become `_`, and a text longer
/// than [`MAX_TAG_VALUE_CHARS`] is cut, ending in `...`.
pub fn tag_value(text: &str) -> String {
    let clean: String = text.chars().map(|c| if allowed_ascii(c) { c } else { '_' }).collect();
    if clean.len() <= MAX_TAG_VALUE_CHARS {
        clean
    } else {
        // ASCII only: byte and character positions agree.
        format!("{}...", &clean[..MAX_TAG_VALUE_CHARS - 3])
    }
}

/// What a launch came from.
#[derive(Debug, Clone, Copy)]
pub struct Lineage<'a> {
    /// The model (its Model Package Group name).
    pub model: &'a str,
    /// When the launch was decided.
    pub decided_at: DateTime<Utc>,
    /// The decision's reasons (the fired checks become the trigger and the violations).
    pub reasons: &'a [Reason],
    /// The baseline the windows were judged against (an S3 URI).
    pub baseline: Option<&'a str>,
    /// The model being replaced (a model package ARN or model name).
    pub previous_model: Option<&'a str>,
    /// The training job that produced it.
    pub previous_training_job: Option<&'a str>,
}

/// The tags of a launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchTags {
    /// At most [`MAX_TAGS`], each valid, keys unique.
    pub tags: Vec<Tag>,
    /// Keys of template tags left out (invalid, reserved, lineage of the template, duplicate, or no room), for
    /// the log.
    pub dropped: Vec<String>,
    /// Violations that had no room (their count is in the `modelwatch:violations` tag).
    pub omitted_violations: usize,
}

fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One line per violation behind the fired checks, for the `modelwatch:violation-NN` tags.
pub fn violation_lines(reasons: &[Reason]) -> Vec<String> {
    let run = |n: u32, first: DateTime<Utc>| format!("windows={n} from {}", time_text(first));
    let mut out = Vec::new();
    for r in reasons {
        match r {
            Reason::QualityViolated {
                consecutive_windows,
                first_window,
                violations,
                ..
            } => {
                for q in violations {
                    out.push(format!(
                        "quality {}={} {} {} {}",
                        q.metric,
                        q.value,
                        q.operator.as_str(),
                        q.threshold,
                        run(*consecutive_windows, *first_window)
                    ));
                }
            }
            Reason::DriftShareAboveThreshold {
                consecutive_windows,
                first_window,
                drift_share,
                threshold,
                ..
            } => out.push(format!(
                "drift_share={drift_share} above {threshold} {}",
                run(*consecutive_windows, *first_window)
            )),
            Reason::FeaturesDrifted {
                consecutive_windows,
                first_window,
                features,
                ..
            } => {
                for f in features {
                    out.push(format!(
                        "drifted_feature {f} {}",
                        run(*consecutive_windows, *first_window)
                    ));
                }
            }
            Reason::DataQualityViolated {
                consecutive_windows,
                first_window,
                violations,
                ..
            } => {
                for v in violations {
                    out.push(format!(
                        "data_quality {} {} {}",
                        v.check_type.as_str(),
                        v.feature,
                        run(*consecutive_windows, *first_window)
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// The tags of a launch: the lineage first, then the template's tags, then one tag per violation as room
/// allows (at least [`MIN_EVIDENCE_TAGS`] of them before the template's tags). Pure and deterministic.
pub fn lineage_tags(lineage: &Lineage<'_>, inherited: &[Tag]) -> LaunchTags {
    let mut tags = vec![
        Tag::new("modelwatch:model", lineage.model),
        Tag::new("modelwatch:decided-at", &time_text(lineage.decided_at)),
    ];
    let mut trigger: Vec<&str> = lineage
        .reasons
        .iter()
        .filter_map(|r| r.fired_check())
        .map(|c| c.as_str())
        .collect();
    trigger.dedup();
    tags.push(Tag::new("modelwatch:trigger", &trigger.join(" ")));
    for (key, value) in [
        ("modelwatch:baseline", lineage.baseline),
        ("modelwatch:previous-model", lineage.previous_model),
        ("modelwatch:previous-training-job", lineage.previous_training_job),
    ] {
        if let Some(v) = value {
            tags.push(Tag::new(key, v));
        }
    }
    let lines = violation_lines(lineage.reasons);
    tags.push(Tag::new("modelwatch:violations", &lines.len().to_string()));

    let reserve = lines.len().min(MIN_EVIDENCE_TAGS);
    let mut dropped = Vec::new();
    for t in inherited {
        let lineage_key = t.key.to_ascii_lowercase().starts_with(TAG_PREFIX);
        let taken = tags.iter().any(|have| have.key == t.key);
        if lineage_key || taken || !is_valid_tag(t) || tags.len() + reserve >= MAX_TAGS {
            dropped.push(t.key.clone());
        } else {
            tags.push(t.clone());
        }
    }
    let room = MAX_TAGS - tags.len();
    let kept = lines.len().min(room);
    for (i, line) in lines.iter().take(kept).enumerate() {
        tags.push(Tag::new(&format!("modelwatch:violation-{:02}", i + 1), line));
    }
    LaunchTags {
        tags,
        dropped,
        omitted_violations: lines.len() - kept,
    }
}

/// Whether `name` is a valid `TrainingJobName`: `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`, at most
/// [`MAX_TRAINING_JOB_NAME`] characters.
pub fn is_valid_training_job_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TRAINING_JOB_NAME
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// FNV-1a, 32 bits: a hash that never changes between Rust versions or platforms (a name must be derivable
/// again from the same inputs).
fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The lowercase ASCII letters and digits of `text`, every other run of characters one `-`, without leading
/// or trailing `-`, at most `max` bytes.
fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if out.len() == max {
                break;
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            if out.len() + 1 >= max {
                break;
            }
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The training job name of a launch of `model` at `at`: `{model}-{hash}-{yyyymmddhhmmss}`, where `model` is
/// the name's ASCII letters and digits (lowercased, other runs as `-`, cut to fit, `model` if none remain) and
/// `hash` eight hex digits of FNV-1a over the full name, so that models whose names differ only in case or in
/// characters outside ASCII, or past the cut, get different names. Always a valid `TrainingJobName`; unique per
/// model and second (the policy allows one launch per model at a time, and the history refuses a repeated name).
/// SageMaker names are compared without case, hence lowercase.
pub fn training_job_name(model: &str, at: DateTime<Utc>) -> String {
    // Years outside 0..=9999 are no launch time, but still give digits only.
    let stamp = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        at.year().unsigned_abs(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    let hash = format!("{:08x}", fnv1a32(model.as_bytes()));
    let room = MAX_TRAINING_JOB_NAME - stamp.len() - hash.len() - 2;
    let mut base = slug(model, room);
    if base.is_empty() {
        base = "model".to_owned();
    }
    format!("{base}-{hash}-{stamp}")
}

/// A SageMaker resource name (Model, EndpointConfig: at most 63 characters, `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`):
/// `{base}-{hash}-{suffix}`, `base` slugged and cut to fit as in [`training_job_name`], `hash` over the full
/// base, `suffix` kept whole (ASCII letters, digits and `-`, at most 40 bytes).
pub fn resource_name(base: &str, suffix: &str) -> String {
    let suffix: String = slug(suffix, 40);
    let hash = format!("{:08x}", fnv1a32(base.as_bytes()));
    let room = MAX_TRAINING_JOB_NAME - suffix.len() - hash.len() - 2;
    let mut head = slug(base, room);
    if head.is_empty() {
        head = "model".to_owned();
    }
    if suffix.is_empty() {
        format!("{head}-{hash}")
    } else {
        format!("{head}-{hash}-{suffix}")
    }
}

/// An idempotency token (`ClientToken`: 1 to 36 characters, `^[a-zA-Z0-9-]+$`) that is the same for the same
/// text on every platform and Rust version: two FNV-1a hashes of it, 16 hex digits.
pub fn client_token(text: &str) -> String {
    let salted: Vec<u8> = text.bytes().rev().collect();
    format!("{:08x}{:08x}", fnv1a32(text.as_bytes()), fnv1a32(&salted))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::quality::report::ComparisonOperator;
    use crate::retrain::signals::{DataQualitySignal, QualitySignal};
    use crate::violations::CheckType;

    #[test]
    fn resource_names_are_valid_and_keep_their_suffix() {
        for base in [
            "churn",
            "Ünïcode model name that is far too long for any SageMaker resource name",
            "---",
            "",
        ] {
            let n = resource_name(base, "v12-20261127101500");
            assert!(is_valid_training_job_name(&n), "{n}");
            assert!(n.ends_with("-v12-20261127101500"), "{n}");
        }
        assert_ne!(resource_name("Churn", "v1"), resource_name("churn", "v1"));
        let t = client_token("churn-5dc80105-20261126130509");
        assert_eq!(t.len(), 16);
        assert_eq!(t, client_token("churn-5dc80105-20261126130509"));
        assert_ne!(t, client_token("churn-5dc80105-20261126130510"));
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 13, 5, 9).unwrap()
    }

    fn reasons(n_quality: usize) -> Vec<Reason> {
        vec![
            Reason::QualityViolated {
                consecutive_windows: 3,
                required: 3,
                first_window: t0() - Duration::hours(3),
                last_window: t0() - Duration::hours(1),
                violations: (0..n_quality)
                    .map(|i| QualitySignal {
                        metric: format!("m{i}"),
                        value: 0.61,
                        threshold: 0.7,
                        operator: ComparisonOperator::LessThanThreshold,
                    })
                    .collect(),
            },
            Reason::DataQualityViolated {
                consecutive_windows: 4,
                required: 3,
                first_window: t0() - Duration::hours(4),
                last_window: t0() - Duration::hours(1),
                violations: vec![DataQualitySignal {
                    check_type: CheckType::CompletenessCheck,
                    feature: "région (€)".to_owned(),
                }],
            },
        ]
    }

    fn value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
        tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }

    #[test]
    fn training_job_name_concrete() {
        let name = training_job_name("Churn_Model v2", t0());
        assert_eq!(
            name,
            format!("churn-model-v2-{:08x}-20261126130509", fnv1a32(b"Churn_Model v2"))
        );
        assert!(is_valid_training_job_name(&name));
        // FNV-1a reference values (the FNV test suite: "" -> 811c9dc5, "a" -> e40c292c).
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        // Case and non-ASCII differences still give different names.
        assert_ne!(training_job_name("Churn", t0()), training_job_name("churn", t0()));
        assert!(training_job_name("模型", t0()).starts_with("model-"));
        assert_eq!(training_job_name(&"x".repeat(500), t0()).len(), MAX_TRAINING_JOB_NAME);
    }

    #[test]
    fn job_name_validator_follows_the_pattern() {
        for ok in ["a", "A-1", "a--b", &"a".repeat(63)] {
            assert!(is_valid_training_job_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a_b", "a.b", "é", &"a".repeat(64)] {
            assert!(!is_valid_training_job_name(bad), "{bad}");
        }
    }

    #[test]
    fn lineage_tags_concrete() {
        let r = reasons(2);
        let lineage = Lineage {
            model: "churn",
            decided_at: t0(),
            reasons: &r,
            baseline: Some("s3://bucket/baselines/churn/v3"),
            previous_model: Some("arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/3"),
            previous_training_job: Some("churn-0a1b2c3d-20261101000000"),
        };
        let inherited = vec![
            Tag::new("cost-center", "ml-42"),
            Tag::new("modelwatch:trigger", "old lineage"),
            Tag {
                key: "aws:cloudformation:stack-name".to_owned(),
                value: "x".to_owned(),
            },
        ];
        let out = lineage_tags(&lineage, &inherited);
        assert_eq!(value(&out.tags, "modelwatch:trigger"), Some("quality data_quality"));
        assert_eq!(value(&out.tags, "modelwatch:decided-at"), Some("2026-11-26T13:05:09Z"));
        assert_eq!(
            value(&out.tags, "modelwatch:baseline"),
            Some("s3://bucket/baselines/churn/v3")
        );
        assert_eq!(value(&out.tags, "cost-center"), Some("ml-42"));
        assert_eq!(value(&out.tags, "modelwatch:violations"), Some("3"));
        assert_eq!(
            value(&out.tags, "modelwatch:violation-01"),
            Some("quality m0=0.61 LessThanThreshold 0.7 windows=3 from 2026-11-26T10:05:09Z")
        );
        // Non-ASCII and parentheses are outside what this module writes.
        assert_eq!(
            value(&out.tags, "modelwatch:violation-03"),
            Some("data_quality completeness_check r_gion ___ windows=4 from 2026-11-26T09:05:09Z")
        );
        assert_eq!(
            out.dropped,
            vec![
                "modelwatch:trigger".to_owned(),
                "aws:cloudformation:stack-name".to_owned()
            ]
        );
        assert_eq!(out.omitted_violations, 0);
        assert!(out.tags.iter().all(is_valid_tag));
    }

    #[test]
    fn tags_stay_within_fifty_and_evidence_keeps_its_minimum() {
        let r = reasons(80);
        let lineage = Lineage {
            model: "m",
            decided_at: t0(),
            reasons: &r,
            baseline: None,
            previous_model: None,
            previous_training_job: None,
        };
        let inherited: Vec<Tag> = (0..60).map(|i| Tag::new(&format!("team-{i}"), "x")).collect();
        let out = lineage_tags(&lineage, &inherited);
        assert_eq!(out.tags.len(), MAX_TAGS);
        let evidence = out
            .tags
            .iter()
            .filter(|t| t.key.starts_with("modelwatch:violation-"))
            .count();
        assert_eq!(evidence, MIN_EVIDENCE_TAGS);
        assert_eq!(out.omitted_violations, 81 - MIN_EVIDENCE_TAGS);
        assert_eq!(value(&out.tags, "modelwatch:violations"), Some("81"));
        // Fixed lineage: model, decided-at, trigger, violations; the rest inherited.
        assert_eq!(out.dropped.len(), 60 - (MAX_TAGS - 4 - MIN_EVIDENCE_TAGS));
    }

    #[test]
    fn long_values_are_cut_with_an_ellipsis() {
        let v = tag_value(&"é".repeat(300));
        assert_eq!(v.len(), MAX_TAG_VALUE_CHARS);
        assert!(v.ends_with("...") && v.starts_with("___"));
        assert_eq!(tag_value("s3://b/k=v+1@x"), "s3://b/k=v+1@x");
    }

    fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
        // Every time chrono represents, from year -262143 to 262142.
        (-8_334_601_228_800i64..8_210_266_876_799i64).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    fn any_name() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,300}",
            "[a-zA-Z0-9_ .-]{0,120}",
            "[-_ ]{0,10}",
            "\\PC{0,80}",
            "[\\u{0300}-\\u{036F}\\u{1F600}-\\u{1F64F}\\u{4E00}-\\u{4E20}]{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn job_names_are_always_valid(model in any_name(), at in any_time()) {
            let name = training_job_name(&model, at);
            prop_assert!(is_valid_training_job_name(&name), "{model:?} -> {name:?}");
            prop_assert_eq!(&name, &training_job_name(&model, at), "deterministic");
        }

        #[test]
        fn job_names_differ_by_second_and_by_model(
            a in any_name(),
            b in any_name(),
            s in 0i64..4_000_000_000,
            d in 1i64..100_000_000,
        ) {
            let t = DateTime::from_timestamp(s, 0).unwrap();
            prop_assert_ne!(training_job_name(&a, t), training_job_name(&a, t + Duration::seconds(d)));
            if a != b && fnv1a32(a.as_bytes()) != fnv1a32(b.as_bytes()) {
                prop_assert_ne!(training_job_name(&a, t), training_job_name(&b, t));
            }
        }

        #[test]
        fn tags_are_always_valid(
            model in any_name(),
            baseline in proptest::option::of(any_name()),
            previous in proptest::option::of(any_name()),
            n_quality in 0usize..70,
            inherited in prop::collection::vec((any_name(), any_name()), 0..70),
            at in any_time(),
        ) {
            let r = reasons(n_quality);
            let lineage = Lineage {
                model: &model,
                decided_at: at,
                reasons: &r,
                baseline: baseline.as_deref(),
                previous_model: previous.as_deref(),
                previous_training_job: previous.as_deref(),
            };
            let inherited: Vec<Tag> = inherited.into_iter().map(|(key, value)| Tag { key, value }).collect();
            let out = lineage_tags(&lineage, &inherited);
            prop_assert!(out.tags.len() <= MAX_TAGS);
            for t in &out.tags {
                prop_assert!(is_valid_tag(t), "{t:?}");
                if t.key.starts_with(TAG_PREFIX) {
                    prop_assert!(is_ascii_tag(t), "{t:?}");
                }
            }
            let mut keys: Vec<&str> = out.tags.iter().map(|t| t.key.as_str()).collect();
            keys.sort_unstable();
            let n = keys.len();
            keys.dedup();
            prop_assert_eq!(keys.len(), n, "duplicate keys");
            // Every template tag is either kept verbatim or reported dropped.
            for t in &inherited {
                prop_assert!(out.tags.contains(t) || out.dropped.contains(&t.key), "{t:?} lost");
            }
            // The evidence is counted in full, and shown up to the room left.
            let lines = violation_lines(&r).len();
            let shown = out.tags.iter().filter(|t| t.key.starts_with("modelwatch:violation-")).count();
            prop_assert_eq!(shown + out.omitted_violations, lines);
            prop_assert!(shown >= lines.min(MIN_EVIDENCE_TAGS));
        }
    }
}
