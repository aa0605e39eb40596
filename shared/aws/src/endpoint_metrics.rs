//! The endpoint's CloudWatch metrics: the core's [`MetricsRequest`] sent as one `GetMetricData` call.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use chrono::{DateTime, Utc};
use modelwatch_core::ports::{PortError, PortErrorKind};
use modelwatch_core::scaling::controller::EndpointMetrics;
use modelwatch_core::scaling::endpoint::{MetricsRequest, PERIOD_SECONDS, Series};
use tokio::runtime::Handle;

use crate::error::port_error;

/// At most 500 `MetricDataQuery` structures per `GetMetricData` call (CloudWatch API reference,
/// `GetMetricData`); a run asks for at most twelve.
pub const MAX_QUERIES_PER_CALL: usize = 500;

/// The queries of `request`, one `MetricStat` each at one-minute periods.
pub fn queries(request: &MetricsRequest) -> Vec<MetricDataQuery> {
    request
        .queries
        .iter()
        .map(|q| {
            let dimensions = request
                .dimensions(q)
                .into_iter()
                .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                .collect();
            let metric = Metric::builder()
                .namespace(q.namespace)
                .metric_name(q.metric_name)
                .set_dimensions(Some(dimensions))
                .build();
            MetricDataQuery::builder()
                .id(q.id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(PERIOD_SECONDS)
                        .stat(q.stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect()
}

fn chrono_of(t: &CwDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// The datapoints of one answer page, per query id.
pub fn series(out: &GetMetricDataOutput) -> Vec<Series> {
    out.metric_data_results()
        .iter()
        .map(|r| Series {
            id: r.id().unwrap_or_default().to_owned(),
            points: r
                .timestamps()
                .iter()
                .zip(r.values())
                .filter_map(|(t, v)| chrono_of(t).map(|t| (t, *v)))
                .collect(),
        })
        .collect()
}

/// Reads endpoint metrics from CloudWatch, blocking on a runtime handle.
pub struct CloudWatchEndpointMetrics {
    client: Client,
    handle: Handle,
}

impl CloudWatchEndpointMetrics {
    /// The adapter over `client`, blocking on `handle`.
    pub fn new(client: Client, handle: Handle) -> Self {
        Self { client, handle }
    }

    async fn fetch_all(&self, request: &MetricsRequest) -> Result<Vec<Series>, PortError> {
        let resource = format!("{}/{}", request.endpoint, request.variant);
        let queries = queries(request);
        if queries.len() > MAX_QUERIES_PER_CALL {
            return Err(PortError::new(
                "reading metrics of",
                resource,
                PortErrorKind::Other,
                format!(
                    "{} queries exceed GetMetricData's {MAX_QUERIES_PER_CALL}",
                    queries.len()
                ),
            ));
        }
        let mut out: Vec<Series> = Vec::new();
        let mut next_token: Option<String> = None;
        // One call; CloudWatch pages only when an answer exceeds its datapoint limit, which a day of minutes
        // for a dozen metrics does not reach.
        loop {
            let page = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(CwDateTime::from_secs(request.start.timestamp()))
                .end_time(CwDateTime::from_secs(request.end.timestamp()))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| port_error("reading metrics of", resource.clone(), e))?;
            for s in series(&page) {
                match out.iter_mut().find(|o| o.id == s.id) {
                    Some(o) => o.points.extend(s.points),
                    None => out.push(s),
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => next_token = Some(t.to_owned()),
                _ => return Ok(out),
            }
        }
    }
}

impl EndpointMetrics for CloudWatchEndpointMetrics {
    fn fetch(&self, request: &MetricsRequest) -> Result<Vec<Series>, PortError> {
        self.handle.block_on(self.fetch_all(request))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatch::types::MetricDataResult;
    use chrono::TimeZone;
    use modelwatch_core::scaling::policy::Percentile;

    use super::*;

    #[test]
    fn queries_carry_namespace_dimensions_stat_and_period() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 30).unwrap();
        let r = MetricsRequest::new("ep", "AllTraffic", now, 10, Some(Percentile::P90), true);
        let q = queries(&r);
        assert_eq!(q.len(), 10);
        let p90 = q.iter().find(|q| q.id() == Some("latency_p90")).unwrap();
        let stat = p90.metric_stat().unwrap();
        assert_eq!((stat.stat(), stat.period()), (Some("p90"), Some(60)));
        let metric = stat.metric().unwrap();
        assert_eq!(
            (metric.namespace(), metric.metric_name()),
            (Some("AWS/SageMaker"), Some("ModelLatency"))
        );
        let dims: Vec<(&str, &str)> = metric
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(dims, vec![("EndpointName", "ep"), ("VariantName", "AllTraffic")]);
        let cpu = q.iter().find(|q| q.id() == Some("cpu")).unwrap();
        assert_eq!(
            cpu.metric_stat().unwrap().metric().unwrap().namespace(),
            Some("/aws/sagemaker/Endpoints")
        );
        let backlog = q.iter().find(|q| q.id() == Some("backlog")).unwrap();
        assert_eq!(backlog.metric_stat().unwrap().metric().unwrap().dimensions().len(), 1);
    }

    #[test]
    fn answers_become_series() {
        let out = GetMetricDataOutput::builder()
            .metric_data_results(
                MetricDataResult::builder()
                    .id("invocations")
                    .timestamps(CwDateTime::from_secs(1_714_564_800))
                    .values(42.0)
                    .build(),
            )
            .build();
        let s = series(&out);
        assert_eq!(s[0].id, "invocations");
        assert_eq!(s[0].points, vec![(Utc.timestamp_opt(1_714_564_800, 0).unwrap(), 42.0)]);
    }
}
