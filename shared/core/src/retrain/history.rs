//! The retraining jobs of one model: what was launched when, how it ended and how many hours it used.
//!
//! The launching function records a launch here (a compare-and-set write of the state object) before it calls
//! `CreateTrainingJob`, so of two handlers racing on the same alarm only the one whose write lands launches;
//! the other re-reads, finds the job `InProgress` and holds.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Where a training job is. The names are SageMaker's `TrainingJobStatus` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    /// Recorded and not yet seen to end.
    InProgress,
    /// Ended with a model.
    Completed,
    /// Ended with an error.
    Failed,
    /// Stopped by someone.
    Stopped,
}

impl JobStatus {
    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        self != Self::InProgress
    }
}

/// One launched training job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchRecord {
    /// When the launch was decided (and recorded).
    pub at: DateTime<Utc>,
    /// The training job's name.
    pub job_name: String,
    /// Where it is.
    pub status: JobStatus,
    /// Training hours it used, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_used: Option<f64>,
    /// The checks that triggered it (`quality drift_share`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trigger: String,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The model package it was registered as, once registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_package: Option<String>,
}

impl LaunchRecord {
    /// The hours the budget charges for it: what it used, at least the estimate while it runs, the estimate when
    /// it ended without a record of its hours (a cost never goes uncounted).
    pub fn charged_hours(&self, estimate: f64) -> f64 {
        let used = self.hours_used.filter(|h| h.is_finite() && *h >= 0.0);
        match (self.status, used) {
            (JobStatus::InProgress, Some(h)) => h.max(estimate),
            (JobStatus::InProgress, None) | (_, None) => estimate,
            (_, Some(h)) => h,
        }
    }
}

/// Why the history refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetrainHistoryError {
    /// A launch while another job is still in progress (at most one training per model).
    #[error("training job {running} is still in progress: {requested} is not recorded")]
    InProgress {
        /// The job running.
        running: String,
        /// The job that was to be recorded.
        requested: String,
    },
    /// A job name used before (SageMaker names are unique per account and region).
    #[error("training job {0} was already recorded")]
    Duplicate(String),
    /// A status for a job this history does not know.
    #[error("training job {0} is not in the history")]
    UnknownJob(String),
}

/// The launches of one model, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainHistory {
    /// The launches.
    #[serde(default)]
    pub launches: Vec<LaunchRecord>,
}

/// The first instant of the calendar month (UTC) holding `t`.
pub fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let d = NaiveDate::from_ymd_opt(t.year(), t.month(), 1).expect("the first of a month exists");
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// The calendar month (UTC) of `t` as `YYYY-MM`.
pub fn month_label(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

impl RetrainHistory {
    /// The job in progress, if any (the newest one, should a hand-edited history hold several).
    pub fn in_progress(&self) -> Option<&LaunchRecord> {
        self.launches.iter().rev().find(|l| l.status == JobStatus::InProgress)
    }

    /// The newest launch, whatever became of it.
    pub fn last_launch(&self) -> Option<&LaunchRecord> {
        self.launches.iter().max_by_key(|l| l.at)
    }

    /// Hours charged to the calendar month (UTC) of `now`: jobs are charged to the month they were launched in.
    pub fn hours_in_month(&self, now: DateTime<Utc>, estimate: f64) -> f64 {
        let start = month_start(now);
        self.launches
            .iter()
            .filter(|l| month_start(l.at) == start)
            .map(|l| l.charged_hours(estimate))
            .sum()
    }

    /// Records a launch as `InProgress`.
    ///
    /// # Errors
    ///
    /// [`RetrainHistoryError::InProgress`] while another job runs, [`RetrainHistoryError::Duplicate`] for a name
    /// already recorded.
    pub fn record_launch(&mut self, at: DateTime<Utc>, job_name: &str) -> Result<(), RetrainHistoryError> {
        if let Some(running) = self.in_progress() {
            return Err(RetrainHistoryError::InProgress {
                running: running.job_name.clone(),
                requested: job_name.to_owned(),
            });
        }
        if self.launches.iter().any(|l| l.job_name == job_name) {
            return Err(RetrainHistoryError::Duplicate(job_name.to_owned()));
        }
        self.launches.push(LaunchRecord {
            at,
            job_name: job_name.to_owned(),
            status: JobStatus::InProgress,
            hours_used: None,
            trigger: String::new(),
            failure: None,
            model_package: None,
        });
        Ok(())
    }

    /// Records a job's status and hours, as a state-change event or DescribeTrainingJob reports them. Ended jobs
    /// stay ended: an `InProgress` event delivered after the final one changes nothing. Returns whether the record
    /// changed, so a repeated event is not written again.
    ///
    /// # Errors
    ///
    /// [`RetrainHistoryError::UnknownJob`] for a job this history did not launch.
    pub fn update_status(
        &mut self,
        job_name: &str,
        status: JobStatus,
        hours_used: Option<f64>,
    ) -> Result<bool, RetrainHistoryError> {
        let rec = self
            .launches
            .iter_mut()
            .find(|l| l.job_name == job_name)
            .ok_or_else(|| RetrainHistoryError::UnknownJob(job_name.to_owned()))?;
        let before = rec.clone();
        if !(rec.status.is_terminal() && status == JobStatus::InProgress) {
            rec.status = status;
        }
        if let Some(h) = hours_used.filter(|h| h.is_finite() && *h >= 0.0) {
            rec.hours_used = Some(h);
        }
        Ok(*rec != before)
    }

    /// The record of a job.
    pub fn job_mut(&mut self, job_name: &str) -> Option<&mut LaunchRecord> {
        self.launches.iter_mut().find(|l| l.job_name == job_name)
    }

    /// Drops ended launches from before `cutoff`, keeping the newest launch (the minimum interval needs it).
    /// With `cutoff` at the start of the previous month, the budget and the interval see everything they need.
    pub fn prune_before(&mut self, cutoff: DateTime<Utc>) {
        let newest = self.last_launch().map(|l| l.job_name.clone());
        self.launches
            .retain(|l| l.at >= cutoff || !l.status.is_terminal() || Some(&l.job_name) == newest.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
    }

    #[test]
    fn one_job_at_a_time_and_unique_names() {
        let mut h = RetrainHistory::default();
        h.record_launch(t(1, 0), "a").unwrap();
        assert_eq!(
            h.record_launch(t(1, 1), "b"),
            Err(RetrainHistoryError::InProgress {
                running: "a".to_owned(),
                requested: "b".to_owned()
            })
        );
        assert_eq!(h.update_status("a", JobStatus::Completed, Some(1.5)), Ok(true));
        assert_eq!(
            h.record_launch(t(2, 0), "a"),
            Err(RetrainHistoryError::Duplicate("a".to_owned()))
        );
        h.record_launch(t(2, 0), "b").unwrap();
        assert_eq!(h.in_progress().map(|l| l.job_name.as_str()), Some("b"));
        assert_eq!(
            h.update_status("zzz", JobStatus::Failed, None),
            Err(RetrainHistoryError::UnknownJob("zzz".to_owned()))
        );
    }

    #[test]
    fn ended_jobs_stay_ended_and_repeats_change_nothing() {
        let mut h = RetrainHistory::default();
        h.record_launch(t(1, 0), "a").unwrap();
        assert_eq!(h.update_status("a", JobStatus::Completed, Some(2.0)), Ok(true));
        assert_eq!(h.update_status("a", JobStatus::Completed, Some(2.0)), Ok(false));
        assert_eq!(h.update_status("a", JobStatus::InProgress, None), Ok(false));
        assert_eq!(h.launches[0].status, JobStatus::Completed);
        assert_eq!(
            h.update_status("a", JobStatus::Completed, Some(f64::NAN)),
            Ok(false),
            "NaN hours ignored"
        );
    }

    #[test]
    fn budget_charges_the_launch_month_and_estimates_the_unknown() {
        let mut h = RetrainHistory::default();
        h.record_launch(Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap(), "feb")
            .unwrap();
        h.update_status("feb", JobStatus::Completed, Some(5.0)).unwrap();
        h.record_launch(t(1, 0), "done").unwrap();
        h.update_status("done", JobStatus::Completed, Some(1.25)).unwrap();
        h.record_launch(t(2, 0), "lost").unwrap();
        h.update_status("lost", JobStatus::Failed, None).unwrap();
        h.record_launch(t(3, 0), "long").unwrap();
        h.update_status("long", JobStatus::InProgress, Some(3.0)).unwrap();
        // March: 1.25 used + 2 estimated for the failed job without hours + max(3, 2) for the running one.
        assert_eq!(h.hours_in_month(t(20, 0), 2.0), 6.25);
        assert_eq!(h.hours_in_month(t(1, 0) - Duration::hours(2), 2.0), 5.0);
        assert_eq!(month_label(t(20, 0)), "2026-03");
    }

    #[test]
    fn prune_keeps_the_newest_and_running_jobs() {
        let mut h = RetrainHistory::default();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            h.record_launch(t(1 + i as u32, 0), name).unwrap();
            h.update_status(name, JobStatus::Completed, Some(1.0)).unwrap();
        }
        h.prune_before(t(20, 0));
        let names: Vec<&str> = h.launches.iter().map(|l| l.job_name.as_str()).collect();
        assert_eq!(names, vec!["c"]);
    }
}
