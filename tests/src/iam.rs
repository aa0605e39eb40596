//! The IAM check of the end-to-end tests: every AWS call a function makes is checked against that function's role
//! in `infra/template.yaml`.
//!
//! LocalStack's community edition does not enforce IAM, so a missing permission would only show on a real account.
//! A test that runs a function as the template deploys it builds a [`Deployment`]: the template resolved with the
//! test's bucket and endpoint, the function's environment taken from it (not written by hand), and SDK credentials
//! of its own. The test stack records every request made with those credentials
//! (`scripts/teststack/localstack_plugin/modelwatch_teststack/recorder.py`); [`Deployment::check`] maps each
//! recorded call to the permissions AWS authorises it with ([`needs`]: action, resource ARN, condition keys,
//! including what a call needs besides its own action, such as `iam:PassRole` for a role it hands over) and fails,
//! naming them, when the role does not allow one. What the role grants and the calls used is written beside the
//! records; `scripts/test.sh` prints what was granted but never used.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use serde_json::{Value as Json, json};

use crate::template::{Stack, environment, glob, items, statements, text};
use crate::{endpoint, teststack_env, unique};

/// The account and region the test stack answers for (`scripts/teststack/stack.sh`).
pub const ACCOUNT: &str = "000000000000";
pub const REGION: &str = "us-east-1";

/// Statements Lambda itself uses on the function's behalf (its logs, and the failure destination of an
/// asynchronous invocation): no call of the function's code uses them, and they are not listed as unused.
pub const PLATFORM_STATEMENTS: [&str; 2] = ["Logs", "RecordFailedInvocations"];

/// A function of the template: its logical id and its role's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    EvaluateCaptures,
    SuggestBaseline,
    ScaleEndpoint,
    LaunchRetraining,
}

impl Function {
    pub fn logical_id(self) -> &'static str {
        match self {
            Function::EvaluateCaptures => "EvaluateCapturesFunction",
            Function::SuggestBaseline => "SuggestBaselineFunction",
            Function::ScaleEndpoint => "ScaleEndpointFunction",
            Function::LaunchRetraining => "LaunchRetrainingFunction",
        }
    }

    pub fn role(self) -> &'static str {
        match self {
            Function::EvaluateCaptures => "EvaluateCapturesRole",
            Function::SuggestBaseline => "SuggestBaselineRole",
            Function::ScaleEndpoint => "ScaleEndpointRole",
            Function::LaunchRetraining => "LaunchRetrainingRole",
        }
    }
}

/// A function as the template deploys it, with the parameters a test gives.
pub struct Deployment {
    pub function: Function,
    pub stack: Stack,
    /// The access key id the function's calls are made and recorded with.
    key: String,
}

/// One request, as the test stack recorded it.
#[derive(Debug, Clone)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub params: Json,
    /// The HTTP status of the response.
    pub status: u16,
}

/// A permission a call is authorised with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    pub action: String,
    pub resource: String,
    /// Condition keys and their values in the request's context.
    pub context: BTreeMap<String, String>,
}

impl Need {
    pub fn new(action: &str, resource: impl Into<String>) -> Self {
        Need {
            action: action.to_owned(),
            resource: resource.into(),
            context: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.context.insert(key.to_owned(), value.to_owned());
        self
    }
}

impl Deployment {
    /// The template with `params` (each a template parameter); `DataBucketName` and `EndpointName` are
    /// required, as for a deployment to an existing bucket.
    pub fn new(function: Function, params: &[(&str, &str)]) -> Self {
        let stack = Stack::new(params);
        assert!(
            stack.present(function.logical_id()),
            "{} is not deployed with {params:?}",
            function.logical_id()
        );
        Deployment {
            function,
            stack,
            key: unique("mwiam").replace('-', ""),
        }
    }

    /// The function's environment, as the template sets it.
    pub fn env(&self) -> HashMap<String, String> {
        environment(&self.stack, self.function.logical_id())
    }

    /// The SDK configuration the function's clients are built from: the stack's endpoint and this deployment's
    /// credentials, so that its calls are recorded apart from the test's own.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_at(&endpoint()).await
    }

    /// [`Self::sdk_config`] through another endpoint (a [`crate::proxy::Proxy`] in front of the stack).
    pub async fn sdk_config_at(&self, endpoint_url: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint_url)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(&self.key, "test", None, None, "iam-check"))
            .retry_config(modelwatch_aws::config::retry_config())
            .load()
            .await
    }

    fn calls_dir() -> PathBuf {
        PathBuf::from(teststack_env("MODELWATCH_TESTSTACK_CALLS_DIR"))
    }

    /// The calls recorded so far.
    pub fn calls(&self) -> Vec<Call> {
        let file = Self::calls_dir().join(format!("{}.jsonl", self.key));
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("no calls recorded for {:?} ({}): {e}", self.function, file.display()));
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Json = serde_json::from_str(l).unwrap_or_else(|e| panic!("a recorded call: {e}: {l}"));
                Call {
                    service: v["service"].as_str().expect("service").to_owned(),
                    operation: v["operation"].as_str().expect("operation").to_owned(),
                    params: v["params"].clone(),
                    status: v["status"]
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok())
                        .expect("status"),
                }
            })
            .collect()
    }

    /// Checks every recorded call against the function's role; fails naming each permission the role lacks.
    /// Returns the distinct permissions used, and writes the role's grants and those used beside the records.
    pub fn check(&self) -> Vec<Need> {
        let calls = self.calls();
        assert!(!calls.is_empty(), "{:?} made no call", self.function);
        let statements = statements(&self.stack, self.function.role());
        let mut used: BTreeSet<(String, String)> = BTreeSet::new();
        let mut needed: BTreeSet<Need> = BTreeSet::new();
        let mut missing: Vec<String> = Vec::new();
        for call in &calls {
            for need in needs(call) {
                match allowing(&statements, &need) {
                    Some(sid) => {
                        used.insert((sid, need.action.clone()));
                    }
                    None => missing.push(format!(
                        "{} on {} {:?} (for {}:{})",
                        need.action, need.resource, need.context, call.service, call.operation
                    )),
                }
                needed.insert(need);
            }
        }
        let granted: BTreeSet<(String, String)> = statements
            .iter()
            .flat_map(|s| {
                let sid = s["Sid"].as_str().unwrap_or("").to_owned();
                items(&s["Action"]).into_iter().map(move |a| (sid.clone(), a))
            })
            .collect();
        let summary = json!({
            "role": self.function.role(),
            "granted": granted.iter().map(|(s, a)| json!([s, a])).collect::<Vec<_>>(),
            "used": used.iter().map(|(s, a)| json!([s, a])).collect::<Vec<_>>(),
        });
        let file = Self::calls_dir().join(format!("{}.grants.json", self.key));
        std::fs::write(&file, summary.to_string()).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        missing.sort();
        missing.dedup();
        assert!(
            missing.is_empty(),
            "{} does not allow what {:?} called:\n  {}",
            self.function.role(),
            self.function,
            missing.join("\n  ")
        );
        needed.into_iter().collect()
    }
}

/// The `Sid` of the first statement that allows `need`, if one does (the template's roles hold Allow statements
/// only; a Deny would have to be checked first).
pub fn allowing(statements: &[Json], need: &Need) -> Option<String> {
    statements
        .iter()
        .find(|s| {
            assert_eq!(s["Effect"], "Allow", "a statement other than Allow: {s}");
            items(&s["Action"])
                .iter()
                .any(|a| glob(&a.to_ascii_lowercase(), &need.action.to_ascii_lowercase()))
                && items(&s["Resource"]).iter().any(|r| glob(r, &need.resource))
                && conditions_hold(&s["Condition"], &need.context)
        })
        .map(|s| s["Sid"].as_str().unwrap_or("").to_owned())
}

/// IAM's `StringEquals` and `StringLike` (any of the values; a key absent from the request's context fails the
/// condition). Any other operator fails the check, so that it cannot pass unevaluated.
fn conditions_hold(condition: &Json, context: &BTreeMap<String, String>) -> bool {
    let Some(operators) = condition.as_object() else {
        return true;
    };
    operators.iter().all(|(operator, keys)| {
        keys.as_object()
            .expect("a condition's keys")
            .iter()
            .all(|(key, values)| {
                let Some(actual) = context.get(key) else {
                    return false;
                };
                let values = items(values);
                match operator.as_str() {
                    "StringEquals" => values.iter().any(|v| v == actual),
                    "StringLike" => values.iter().any(|v| glob(v, actual)),
                    other => panic!("condition operator {other} is not evaluated by the IAM check"),
                }
            })
    })
}

fn arn(service: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}")
}

/// SageMaker writes resource ARNs in lower case (see the template's `EndpointName`).
fn sagemaker_arn(kind: &str, name: &str) -> String {
    arn("sagemaker", &format!("{kind}/{}", name.to_lowercase()))
}

fn param<'a>(call: &'a Call, name: &str) -> &'a str {
    call.params[name]
        .as_str()
        .unwrap_or_else(|| panic!("{}:{} without {name}: {}", call.service, call.operation, call.params))
}

/// `iam:PassRole` of `role` to SageMaker.
fn pass_role(role: &str) -> Need {
    Need::new("iam:PassRole", role).with("iam:PassedToService", "sagemaker.amazonaws.com")
}

/// A create call that carries tags is also authorised as `sagemaker:AddTags` on the new resource (SageMaker
/// Developer Guide, "Provide permissions for tagging SageMaker AI resources").
fn tags_on(call: &Call, resource: &str) -> Option<Need> {
    call.params["Tags"]
        .as_array()
        .is_some_and(|t| !t.is_empty())
        .then(|| Need::new("sagemaker:AddTags", resource))
}

/// The permissions AWS authorises `call` with: its own action on its resource (the Service Authorization
/// Reference's resource types, "*" where an action has none) with the condition keys the template uses, and what
/// the call needs besides. An operation without a mapping fails, so that a new call cannot go unchecked.
pub fn needs(call: &Call) -> Vec<Need> {
    let op = call.operation.as_str();
    match call.service.as_str() {
        "s3" => {
            let bucket = param(call, "Bucket");
            let object = || format!("arn:aws:s3:::{bucket}/{}", param(call, "Key"));
            match op {
                // A missing object answers 404 only to a caller allowed s3:ListBucket on the bucket, 403
                // AccessDenied otherwise (S3 API Reference, GetObject, "Permissions"); the request carries no
                // s3:prefix, so a grant conditioned on one does not count. The functions take a 404 for "no
                // state yet": a 403 would fail every run.
                "GetObject" | "HeadObject" if call.status == 404 => vec![
                    Need::new("s3:GetObject", object()),
                    Need::new("s3:ListBucket", format!("arn:aws:s3:::{bucket}")),
                ],
                "GetObject" | "HeadObject" => vec![Need::new("s3:GetObject", object())],
                "PutObject" => vec![Need::new("s3:PutObject", object())],
                "DeleteObject" => vec![Need::new("s3:DeleteObject", object())],
                "ListObjectsV2" | "ListObjects" => {
                    let prefix = call.params["Prefix"].as_str().unwrap_or("");
                    vec![Need::new("s3:ListBucket", format!("arn:aws:s3:::{bucket}")).with("s3:prefix", prefix)]
                }
                other => panic!("the IAM check has no mapping for s3:{other}"),
            }
        }
        "cloudwatch" => match op {
            "PutMetricData" => {
                vec![Need::new("cloudwatch:PutMetricData", "*").with("cloudwatch:namespace", param(call, "Namespace"))]
            }
            "GetMetricData" | "ListMetrics" | "GetMetricStatistics" => {
                vec![Need::new(&format!("cloudwatch:{op}"), "*")]
            }
            "DescribeAlarms" => match call.params["AlarmNames"].as_array() {
                Some(names) if !names.is_empty() => names
                    .iter()
                    .map(|n| {
                        Need::new(
                            "cloudwatch:DescribeAlarms",
                            arn("cloudwatch", &format!("alarm:{}", text(n))),
                        )
                    })
                    .collect(),
                _ => vec![Need::new("cloudwatch:DescribeAlarms", "*")],
            },
            other => panic!("the IAM check has no mapping for cloudwatch:{other}"),
        },
        "sagemaker" => sagemaker_needs(call),
        "stepfunctions" => match op {
            "StartExecution" => vec![Need::new("states:StartExecution", param(call, "stateMachineArn"))],
            other => panic!("the IAM check has no mapping for stepfunctions:{other}"),
        },
        "application-autoscaling" => autoscaling_needs(call),
        "events" => match op {
            "PutEvents" => call.params["Entries"]
                .as_array()
                .expect("PutEvents' entries")
                .iter()
                .map(|e| {
                    let bus = e["EventBusName"].as_str().unwrap_or("default");
                    let bus = if bus.starts_with("arn:") {
                        bus.to_owned()
                    } else {
                        arn("events", &format!("event-bus/{bus}"))
                    };
                    Need::new("events:PutEvents", bus)
                })
                .collect(),
            other => panic!("the IAM check has no mapping for events:{other}"),
        },
        // GetCallerIdentity needs no permission.
        "sts" if op == "GetCallerIdentity" => vec![],
        other => panic!("the IAM check has no mapping for {other}:{op}"),
    }
}

fn sagemaker_needs(call: &Call) -> Vec<Need> {
    let op = call.operation.as_str();
    let action = format!("sagemaker:{op}");
    let own = |kind: &str, name_param: &str| Need::new(&action, sagemaker_arn(kind, param(call, name_param)));
    match op {
        "DescribeEndpoint" | "UpdateEndpointWeightsAndCapacities" | "DeleteEndpoint" => {
            vec![own("endpoint", "EndpointName")]
        }
        "UpdateEndpoint" => {
            // Authorised on the configuration it deploys as well as on the endpoint; auto-rollback alarms are read
            // with the caller's permission: "Ensure that your IAM execution role has permission to perform the
            // cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify" (SageMaker Developer Guide,
            // Auto-Rollback Configuration and Monitoring).
            let mut needs = vec![
                own("endpoint", "EndpointName"),
                own("endpoint-config", "EndpointConfigName"),
            ];
            let alarms = &call.params["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"];
            for alarm in alarms.as_array().into_iter().flatten() {
                let name = alarm["AlarmName"].as_str().expect("an alarm name");
                needs.push(Need::new(
                    "cloudwatch:DescribeAlarms",
                    arn("cloudwatch", &format!("alarm:{name}")),
                ));
            }
            needs
        }
        "DescribeEndpointConfig" | "DeleteEndpointConfig" => vec![own("endpoint-config", "EndpointConfigName")],
        "CreateEndpointConfig" => {
            let resource = sagemaker_arn("endpoint-config", param(call, "EndpointConfigName"));
            let mut needs = vec![Need::new(&action, resource.clone())];
            needs.extend(tags_on(call, &resource));
            if let Some(key) = call.params["KmsKeyId"].as_str() {
                needs.push(Need::new("kms:CreateGrant", key));
            }
            if let Some(role) = call.params["ExecutionRoleArn"].as_str() {
                needs.push(pass_role(role));
            }
            needs
        }
        "DescribeTrainingJob" => vec![own("training-job", "TrainingJobName")],
        "CreateTrainingJob" => {
            let resource = sagemaker_arn("training-job", param(call, "TrainingJobName"));
            let mut needs = vec![Need::new(&action, resource.clone()), pass_role(param(call, "RoleArn"))];
            needs.extend(tags_on(call, &resource));
            needs
        }
        "DescribeModel" => vec![own("model", "ModelName")],
        "CreateModel" => {
            let resource = sagemaker_arn("model", param(call, "ModelName"));
            let mut needs = vec![
                Need::new(&action, resource.clone()),
                pass_role(param(call, "ExecutionRoleArn")),
            ];
            needs.extend(tags_on(call, &resource));
            needs
        }
        "CreateModelPackage" => {
            // The version's ARN is model-package/{group}/{n}, n not known before the call.
            let group = param(call, "ModelPackageGroupName").to_lowercase();
            let resource = arn("sagemaker", &format!("model-package/{group}/new"));
            let mut needs = vec![Need::new(&action, resource.clone())];
            needs.extend(tags_on(call, &resource));
            needs
        }
        "DescribeModelPackage" | "UpdateModelPackage" => {
            let name = param(call, "ModelPackageName");
            let resource = if name.starts_with("arn:") {
                name.to_lowercase()
            } else {
                sagemaker_arn("model-package", name)
            };
            vec![Need::new(&action, resource)]
        }
        "AddTags" | "ListTags" => vec![Need::new(&action, param(call, "ResourceArn"))],
        "ListModelPackages" | "ListTrainingJobs" | "ListEndpoints" | "ListEndpointConfigs" => {
            vec![Need::new(&action, "*")]
        }
        other => panic!("the IAM check has no mapping for sagemaker:{other}"),
    }
}

/// Application Auto Scaling: the Describe calls take "*"; the others a scalable target, whose ARN carries an id
/// the caller does not know. Besides its own action, a call needs the caller's permissions on the target service
/// and on CloudWatch (Application Auto Scaling User Guide, "Identity-based policy examples: Permissions required
/// for API actions on target services and CloudWatch"): registering a SageMaker variant, `sagemaker:DescribeEndpoint`
/// and `sagemaker:UpdateEndpointWeightsAndCapacities`; a target tracking or step scaling policy, the alarms it
/// creates and deletes (named `TargetTracking-{resource id}-…`).
fn autoscaling_needs(call: &Call) -> Vec<Need> {
    let op = call.operation.as_str();
    let action = format!("application-autoscaling:{op}");
    if op.starts_with("Describe") {
        return vec![Need::new(&action, "*")];
    }
    let mut needs = vec![Need::new(
        &action,
        arn("application-autoscaling", "scalable-target/unknown-id"),
    )];
    let resource_id = param(call, "ResourceId");
    let alarm = |a: &str| {
        Need::new(
            a,
            arn(
                "cloudwatch",
                &format!("alarm:TargetTracking-{resource_id}-AlarmHigh-unknown-id"),
            ),
        )
    };
    match op {
        "RegisterScalableTarget" => {
            let endpoint = resource_id
                .strip_prefix("endpoint/")
                .and_then(|r| r.split('/').next())
                .unwrap_or_else(|| panic!("a SageMaker variant's resource id, not {resource_id}"));
            for a in [
                "sagemaker:DescribeEndpoint",
                "sagemaker:UpdateEndpointWeightsAndCapacities",
            ] {
                needs.push(Need::new(a, sagemaker_arn("endpoint", endpoint)));
            }
        }
        "PutScalingPolicy" => needs.extend(
            [
                "cloudwatch:DescribeAlarms",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
            ]
            .map(alarm),
        ),
        "DeleteScalingPolicy" | "DeregisterScalableTarget" => {
            needs.extend(["cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"].map(alarm))
        }
        "PutScheduledAction" | "DeleteScheduledAction" => {}
        other => panic!("the IAM check has no mapping for application-autoscaling:{other}"),
    }
    needs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(service: &str, operation: &str, params: Json) -> Call {
        Call {
            service: service.into(),
            operation: operation.into(),
            params,
            status: 200,
        }
    }

    #[test]
    fn a_prefix_condition_allows_listing_inside_it_only() {
        let statements = vec![json!({"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::b", "Condition": {"StringLike": {"s3:prefix": ["state/monitor/*"]}}})];
        let inside = needs(&call(
            "s3",
            "ListObjectsV2",
            json!({"Bucket": "b", "Prefix": "state/monitor/x/"}),
        ));
        assert_eq!(allowing(&statements, &inside[0]).as_deref(), Some("List"));
        let outside = needs(&call(
            "s3",
            "ListObjectsV2",
            json!({"Bucket": "b", "Prefix": "state/scaling/"}),
        ));
        assert_eq!(allowing(&statements, &outside[0]), None);
        let other_bucket = needs(&call(
            "s3",
            "ListObjectsV2",
            json!({"Bucket": "c", "Prefix": "state/monitor/"}),
        ));
        assert_eq!(allowing(&statements, &other_bucket[0]), None);
        // A missing object is a 404 only with ListBucket on the bucket, which the prefix condition does not give.
        let missing = needs(&Call {
            status: 404,
            ..call(
                "s3",
                "GetObject",
                json!({"Bucket": "b", "Key": "state/monitor/x/last_window.json"}),
            )
        });
        assert_eq!(missing[1].action, "s3:ListBucket");
        assert_eq!(allowing(&statements, &missing[1]), None);
        let unconditioned = vec![json!({"Sid": "Missing", "Effect": "Allow", "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::b"})];
        assert_eq!(allowing(&unconditioned, &missing[1]).as_deref(), Some("Missing"));
    }

    #[test]
    fn a_training_job_needs_to_pass_its_role_to_sagemaker_and_to_tag_it() {
        let c = call(
            "sagemaker",
            "CreateTrainingJob",
            json!({"TrainingJobName": "Churn-1", "RoleArn": "arn:aws:iam::000000000000:role/t", "Tags": [{"Key": "k"}]}),
        );
        let n = needs(&c);
        let actions: Vec<&str> = n.iter().map(|n| n.action.as_str()).collect();
        assert_eq!(
            actions,
            ["sagemaker:CreateTrainingJob", "iam:PassRole", "sagemaker:AddTags"]
        );
        assert_eq!(
            n[0].resource,
            "arn:aws:sagemaker:us-east-1:000000000000:training-job/churn-1"
        );
        let pass_to_sagemaker = vec![json!({"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::000000000000:role/t",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}})];
        assert!(allowing(&pass_to_sagemaker, &n[1]).is_some());
        let pass_to_lambda = vec![json!({"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::000000000000:role/t",
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}})];
        assert!(allowing(&pass_to_lambda, &n[1]).is_none());
    }

    #[test]
    fn a_target_tracking_policy_needs_its_alarms_and_an_unknown_operation_fails() {
        let n = needs(&call(
            "application-autoscaling",
            "PutScalingPolicy",
            json!({"ResourceId": "endpoint/e/variant/AllTraffic", "PolicyType": "TargetTrackingScaling"}),
        ));
        assert!(n.iter().any(|n| n.action == "cloudwatch:PutMetricAlarm"), "{n:?}");
        let unknown = std::panic::catch_unwind(|| needs(&call("s3", "DeleteBucket", json!({"Bucket": "b"}))));
        assert!(unknown.is_err());
    }
}
