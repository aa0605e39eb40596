//! The embedded synthetic endpoint that `modelwatch demo` writes and evaluates.
//!
//! A credit-risk model behind endpoint `credit-risk`, variant `AllTraffic`: a training set, six hours of
//! CSV-encoded captures in S3's layout, and late-arriving ground truth. From the fourth hour on the world changes:
//! `income` rises by half, `region` shifts towards `west` and a new region `central` appears (data drift), and debt
//! stops predicting default the way it did (concept drift), so the model's quality falls. Everything is generated
//! from a fixed seed, so the demo's output is the same on every machine.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal, Poisson};

use crate::window::hour_prefix;

pub const ENDPOINT: &str = "credit-risk";
pub const VARIANT: &str = "AllTraffic";
/// The training set's label column.
pub const LABEL: &str = "default";
/// The features, in the order of the captured CSV rows.
pub const FEATURES: [&str; 7] = [
    "age",
    "income",
    "credit_score",
    "debt_ratio",
    "num_accounts",
    "region",
    "channel",
];
/// The features drifted from hour [`DRIFT_FROM_HOUR`] on.
pub const DRIFTED_FEATURES: [&str; 2] = ["income", "region"];
/// The first hour (0-based) with drift.
pub const DRIFT_FROM_HOUR: usize = 3;
pub const HOURS: usize = 6;
pub const RECORDS_PER_HOUR: usize = 2000;
pub const TRAINING_ROWS: usize = 10_000;
pub const VALIDATION_ROWS: usize = 5_000;
/// The share of captures whose label arrives.
pub const LABELLED_SHARE: f64 = 0.8;

/// The demo's files, as relative paths and contents.
#[derive(Debug, Clone)]
pub struct DemoData {
    /// `training.csv`, with a header, label first.
    pub training_csv: String,
    /// `validation.csv`: a held-out labelled set with the model's score (`default,score`), for the model-quality
    /// baseline.
    pub validation_csv: String,
    /// `(path, jsonl)` under `captures/`.
    pub captures: Vec<(String, String)>,
    /// `(path, jsonl)` under `ground-truth/`.
    pub ground_truth: Vec<(String, String)>,
    /// The first hour.
    pub start: DateTime<Utc>,
}

struct Row {
    age: i64,
    income: f64,
    credit_score: i64,
    debt_ratio: f64,
    num_accounts: u64,
    region: &'static str,
    channel: &'static str,
}

impl Row {
    fn csv(&self) -> String {
        format!(
            "{},{:.2},{},{:.4},{},{},{}",
            self.age, self.income, self.credit_score, self.debt_ratio, self.num_accounts, self.region, self.channel
        )
    }
}

fn draw(rng: &mut SmallRng, drifted: bool) -> Row {
    let age = Normal::<f64>::new(42.0, 12.0)
        .expect("valid")
        .sample(rng)
        .clamp(18.0, 90.0)
        .round() as i64;
    let income_mu = if drifted { 11.0 + 1.5f64.ln() } else { 11.0 };
    let income = LogNormal::new(income_mu, 0.45).expect("valid").sample(rng);
    let credit_score = Normal::<f64>::new(680.0, 60.0)
        .expect("valid")
        .sample(rng)
        .clamp(300.0, 850.0)
        .round() as i64;
    let debt_ratio = rng.random::<f64>().powf(1.5);
    let num_accounts = Poisson::new(4.0).expect("valid").sample(rng) as u64;
    let u: f64 = rng.random();
    let region = if drifted {
        match u {
            u if u < 0.10 => "north",
            u if u < 0.20 => "south",
            u if u < 0.30 => "east",
            u if u < 0.75 => "west",
            _ => "central",
        }
    } else {
        match u {
            u if u < 0.30 => "north",
            u if u < 0.55 => "south",
            u if u < 0.80 => "east",
            _ => "west",
        }
    };
    let channel = match rng.random::<f64>() {
        u if u < 0.5 => "web",
        u if u < 0.85 => "app",
        _ => "branch",
    };
    Row {
        age,
        income,
        credit_score,
        debt_ratio,
        num_accounts,
        region,
        channel,
    }
}

/// The log-odds of default: what the model learnt, and (before the concept drift) how the world works.
fn log_odds(r: &Row, concept_drifted: bool) -> f64 {
    let debt = if concept_drifted {
        -2.0 * r.debt_ratio
    } else {
        4.0 * r.debt_ratio
    };
    -1.0 - 0.012 * (r.credit_score - 680) as f64 + debt - 0.3 * (r.income / 60_000.0 - 1.0)
        + 0.15 * (r.num_accounts as f64 - 4.0)
        - if concept_drifted { 0.3 } else { 0.0 }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Generates the demo's files, its first hour starting at [`start`].
pub fn generate() -> DemoData {
    generate_from(start())
}

/// The demo's first hour: fixed, so that its files and reports are the same on every run.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0)
        .single()
        .expect("valid date")
}

/// The demo's files with its first hour starting at `start` (a whole hour): the same rows, the dates moved. The
/// end-to-end tests use recent hours, as CloudWatch takes no data older than two weeks.
pub fn generate_from(start: DateTime<Utc>) -> DemoData {
    let mut rng = SmallRng::seed_from_u64(20_240_501);

    let mut training_csv = format!("{LABEL},{}\n", FEATURES.join(","));
    for _ in 0..TRAINING_ROWS {
        let row = draw(&mut rng, false);
        let label = u8::from(rng.random::<f64>() < sigmoid(log_odds(&row, false)));
        training_csv.push_str(&format!("{label},{}\n", row.csv()));
    }

    let mut validation_csv = format!("{LABEL},score\n");
    for _ in 0..VALIDATION_ROWS {
        let row = draw(&mut rng, false);
        let score = sigmoid(log_odds(&row, false));
        let label = u8::from(rng.random::<f64>() < score);
        validation_csv.push_str(&format!("{label},{score:.6}\n"));
    }

    let mut captures = Vec::new();
    let mut ground_truth = Vec::new();
    for hour in 0..HOURS {
        let hour_start = start + Duration::hours(hour as i64);
        let drifted = hour >= DRIFT_FROM_HOUR;
        let mut lines = String::new();
        let mut labels = String::new();
        for i in 0..RECORDS_PER_HOUR {
            let row = draw(&mut rng, drifted);
            let score = sigmoid(log_odds(&row, false));
            let truth = u8::from(rng.random::<f64>() < sigmoid(log_odds(&row, drifted)));
            let event_id = format!("{:08x}-{:04x}-4000-8000-{:012x}", rng.random::<u32>(), hour, i);
            let time = hour_start + Duration::milliseconds((i as i64 * 3_600_000) / RECORDS_PER_HOUR as i64);
            let record = serde_json::json!({
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": row.csv(), "encoding": "CSV"},
                    "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                                       "data": format!("{score:.6}"), "encoding": "CSV"}
                },
                "eventMetadata": {"eventId": event_id, "inferenceTime": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
                "eventVersion": "0"
            });
            lines.push_str(&record.to_string());
            lines.push('\n');
            if rng.random::<f64>() < LABELLED_SHARE {
                let label = serde_json::json!({
                    "groundTruthData": {"data": truth.to_string(), "encoding": "CSV"},
                    "eventMetadata": {"eventId": event_id},
                    "eventVersion": "0"
                });
                labels.push_str(&label.to_string());
                labels.push('\n');
            }
        }
        let file = format!("{}-demo.jsonl", hour_start.format("%M-%S-000"));
        captures.push((
            format!("{}{file}", hour_prefix("", ENDPOINT, VARIANT, hour_start)),
            lines,
        ));
        // Labels are collected an hour after the inferences they label.
        let label_hour = hour_start + Duration::hours(1);
        ground_truth.push((
            format!("{ENDPOINT}/{}/labels.jsonl", label_hour.format("%Y/%m/%d/%H")),
            labels,
        ));
    }
    DemoData {
        training_csv,
        validation_csv,
        captures,
        ground_truth,
        start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_shaped_like_s3() {
        let a = generate();
        let b = generate();
        assert_eq!(a.training_csv, b.training_csv);
        assert_eq!(a.captures[0].1, b.captures[0].1);
        assert_eq!(a.captures.len(), HOURS);
        assert_eq!(
            a.captures[0].0,
            "credit-risk/AllTraffic/2026/11/26/08/00-00-000-demo.jsonl"
        );
        assert_eq!(a.captures[0].1.lines().count(), RECORDS_PER_HOUR);
        assert_eq!(a.training_csv.lines().count(), TRAINING_ROWS + 1);
        let labelled = a.ground_truth[0].1.lines().count() as f64 / RECORDS_PER_HOUR as f64;
        assert!((labelled - LABELLED_SHARE).abs() < 0.05);
    }
}
