//! The CloudWatch metric sink: the core's data sent with `PutMetricData`, in batches within the API's limits.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum as CwDatum, StandardUnit, StatisticSet as CwStatisticSet};
use modelwatch_core::metrics::{MetricDatum, Unit};
use modelwatch_core::ports::{MetricSink, PortError, PortErrorKind};
use tokio::runtime::Handle;

use crate::error::port_error;

/// At most 1,000 metrics per `PutMetricData` request (CloudWatch API reference, `PutMetricData`).
pub const MAX_DATUMS_PER_REQUEST: usize = 1000;
/// At most 1 MB per `PutMetricData` HTTP POST request (CloudWatch API reference, `PutMetricData`).
pub const MAX_REQUEST_BYTES: usize = 1_000_000;
/// CloudWatch rejects values outside `[-2^360, 2^360]`, and NaN and infinities (API reference, `MetricDatum`).
const MAX_MAGNITUDE: f64 = 2.348_542_582_773_833e108; // 2^360
/// Room for the request's own fields (action, version, namespace) when sizing a batch.
const REQUEST_OVERHEAD_BYTES: usize = 1024;

/// One `PutMetricData` request's worth of data: one namespace, within the limits.
#[derive(Debug, PartialEq)]
pub struct Batch<'a> {
    pub namespace: &'a str,
    pub data: Vec<&'a MetricDatum>,
}

/// An upper bound of a datum's size on the wire, in the largest of the SDK's encodings (the query protocol's
/// form encoding, where every field repeats its member path and any character may be percent-encoded).
pub fn encoded_size(datum: &MetricDatum) -> usize {
    const MEMBER_PATH: usize = 40; // "MetricData.member.1000.Dimensions.member.30."
    const FIXED_FIELDS: usize = 6 * (MEMBER_PATH + 32); // value, unit, timestamp and the statistic set
    let dimensions: usize = datum
        .dimensions
        .iter()
        .map(|(n, v)| 2 * MEMBER_PATH + 3 * (n.len() + v.len()))
        .sum();
    FIXED_FIELDS + MEMBER_PATH + 3 * datum.metric_name.len() + dimensions
}

/// Whether CloudWatch would accept the datum's values.
pub fn publishable(datum: &MetricDatum) -> bool {
    let ok = |v: f64| v.is_finite() && v.abs() <= MAX_MAGNITUDE;
    ok(datum.value)
        && datum
            .statistics
            .is_none_or(|s| ok(s.sample_count) && ok(s.sum) && ok(s.minimum) && ok(s.maximum))
}

/// Splits `data` into requests: grouped by namespace (in order of first appearance), each at most
/// [`MAX_DATUMS_PER_REQUEST`] data and [`MAX_REQUEST_BYTES`] by [`encoded_size`].
pub fn batches(data: &[MetricDatum]) -> Vec<Batch<'_>> {
    let mut namespaces: Vec<&str> = Vec::new();
    for d in data {
        if !namespaces.contains(&d.namespace.as_str()) {
            namespaces.push(&d.namespace);
        }
    }
    let mut out = Vec::new();
    for namespace in namespaces {
        let mut current = Batch {
            namespace,
            data: Vec::new(),
        };
        let mut bytes = REQUEST_OVERHEAD_BYTES;
        for d in data.iter().filter(|d| d.namespace == namespace) {
            let size = encoded_size(d);
            if !current.data.is_empty()
                && (current.data.len() == MAX_DATUMS_PER_REQUEST || bytes + size > MAX_REQUEST_BYTES)
            {
                out.push(std::mem::replace(
                    &mut current,
                    Batch {
                        namespace,
                        data: Vec::new(),
                    },
                ));
                bytes = REQUEST_OVERHEAD_BYTES;
            }
            bytes += size;
            current.data.push(d);
        }
        if !current.data.is_empty() {
            out.push(current);
        }
    }
    out
}

fn unit(unit: Unit) -> StandardUnit {
    match unit {
        Unit::None => StandardUnit::None,
        Unit::Count => StandardUnit::Count,
        Unit::Percent => StandardUnit::Percent,
        Unit::Seconds => StandardUnit::Seconds,
        Unit::Milliseconds => StandardUnit::Milliseconds,
    }
}

/// The SDK's datum for a core datum.
pub fn to_sdk(datum: &MetricDatum) -> CwDatum {
    let mut builder = CwDatum::builder()
        .metric_name(&datum.metric_name)
        .unit(unit(datum.unit))
        .timestamp(DateTime::from_millis(datum.timestamp.timestamp_millis()));
    for (name, value) in &datum.dimensions {
        builder = builder.dimensions(Dimension::builder().name(name).value(value).build());
    }
    builder = match datum.statistics {
        Some(s) => builder.statistic_values(
            CwStatisticSet::builder()
                .sample_count(s.sample_count)
                .sum(s.sum)
                .minimum(s.minimum)
                .maximum(s.maximum)
                .build(),
        ),
        None => builder.value(datum.value),
    };
    builder.build()
}

/// Publishes to CloudWatch. A namespace override replaces Model Monitor's namespaces (data and model metrics keep
/// apart as `{override}/data-metrics` and `{override}/model-metrics`, by the last segment of the original).
pub struct CloudWatchSink {
    client: Client,
    handle: Handle,
    namespace_override: Option<String>,
}

impl CloudWatchSink {
    /// A sink blocking on `handle`.
    pub fn new(client: Client, handle: Handle, namespace_override: Option<String>) -> Self {
        Self {
            client,
            handle,
            namespace_override,
        }
    }

    fn namespace(&self, original: &str) -> String {
        match &self.namespace_override {
            Some(root) => format!("{root}/{}", original.rsplit('/').next().unwrap_or(original)),
            None => original.to_owned(),
        }
    }
}

impl MetricSink for CloudWatchSink {
    /// Sends every batch, even after one failed, so that one bad request loses no other data; the first failure
    /// is returned with the number of failed batches. Data CloudWatch would reject (NaN, infinities, magnitudes
    /// beyond 2^360) are left out and logged with their count.
    fn publish(&self, data: &[MetricDatum]) -> Result<(), PortError> {
        let (good, rejected): (Vec<MetricDatum>, Vec<MetricDatum>) = data.iter().cloned().partition(publishable);
        if !rejected.is_empty() {
            tracing::warn!(
                count = rejected.len(),
                first = %rejected[0].metric_name,
                "Metric data left out: CloudWatch rejects NaN, infinite and out-of-range values."
            );
        }
        let batches = batches(&good);
        let mut failures = Vec::new();
        for batch in &batches {
            let namespace = self.namespace(batch.namespace);
            let request = self
                .client
                .put_metric_data()
                .namespace(&namespace)
                .set_metric_data(Some(batch.data.iter().map(|d| to_sdk(d)).collect()));
            if let Err(e) = self.handle.block_on(request.send()) {
                failures.push(port_error("publishing metrics to", namespace, e));
            }
        }
        let failed = failures.len();
        match failures.into_iter().next() {
            None => Ok(()),
            Some(first) => Err(PortError::new(
                "publishing metrics to",
                format!("{} ({failed} of {} batches failed)", first.resource, batches.len()),
                PortErrorKind::Other,
                first,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use modelwatch_core::metrics::MetricScope;

    use super::*;

    fn datum(namespace: &str, name: &str, value: f64) -> MetricDatum {
        let scope = MetricScope {
            endpoint: "ep".into(),
            schedule: "sched".into(),
            timestamp: chrono::Utc.with_ymd_and_hms(2024, 5, 1, 14, 0, 0).unwrap(),
        };
        scope.datum(namespace, name, value, Unit::None)
    }

    #[test]
    fn batches_split_at_the_datum_limit_and_by_namespace() {
        let mut data: Vec<MetricDatum> = (0..2500).map(|i| datum("a", &format!("m{i}"), 1.0)).collect();
        data.insert(10, datum("b", "other", 2.0));
        let b = batches(&data);
        let sizes: Vec<(&str, usize)> = b.iter().map(|b| (b.namespace, b.data.len())).collect();
        assert_eq!(sizes, vec![("a", 1000), ("a", 1000), ("a", 500), ("b", 1)]);
        assert_eq!(b.iter().map(|b| b.data.len()).sum::<usize>(), data.len());
    }

    #[test]
    fn batches_split_at_the_size_limit() {
        // Long dimension values (metric names are capped at 255 characters when the datum is made).
        let long = "x".repeat(1000);
        let data: Vec<MetricDatum> = (0..400)
            .map(|i| {
                let mut d = datum("a", &format!("m{i}"), 1.0);
                d.dimensions[0].1 = format!("{long}{i}");
                d
            })
            .collect();
        let b = batches(&data);
        assert!(b.len() > 1, "400 data of over 3 kB each exceed 1 MB");
        for batch in &b {
            let bytes: usize = REQUEST_OVERHEAD_BYTES + batch.data.iter().map(|d| encoded_size(d)).sum::<usize>();
            assert!(bytes <= MAX_REQUEST_BYTES, "{bytes}");
        }
        assert_eq!(b.iter().map(|b| b.data.len()).sum::<usize>(), 400);
    }

    #[test]
    fn rejects_what_cloudwatch_rejects() {
        assert!(publishable(&datum("a", "m", 0.25)));
        assert!(!publishable(&datum("a", "m", f64::NAN)));
        assert!(!publishable(&datum("a", "m", f64::INFINITY)));
        assert!(!publishable(&datum("a", "m", 1e109)));
    }

    #[test]
    fn converts_statistic_sets_and_dimensions() {
        let mut d = datum("a", "feature_data_x", 2.0);
        d.statistics = Some(modelwatch_core::metrics::StatisticSet {
            sample_count: 4.0,
            sum: 8.0,
            minimum: 1.0,
            maximum: 3.0,
        });
        let sdk = to_sdk(&d);
        assert_eq!(sdk.metric_name(), Some("feature_data_x"));
        assert_eq!(sdk.value(), None);
        assert_eq!(sdk.statistic_values().and_then(|s| s.sum()), Some(8.0));
        let dims: Vec<(&str, &str)> = sdk
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(dims, vec![("Endpoint", "ep"), ("MonitoringSchedule", "sched")]);
    }
}
