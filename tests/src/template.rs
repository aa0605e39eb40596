//! The SAM template (`infra/template.yaml`) resolved as CloudFormation would resolve it for a set of parameters:
//! its resources, a function's environment and a role's statements. Used by the template's checks
//! (`tests/infra.rs`) and by the IAM check of the end-to-end tests ([`crate::iam`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::{Value as Json, json};
use serde_norway::Value as Yaml;

pub fn infra(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra").join(file)
}

pub fn template_text() -> String {
    std::fs::read_to_string(infra("template.yaml")).expect("infra/template.yaml")
}

/// The stack name the checks resolve `AWS::StackName` to.
pub const STACK: &str = "modelwatch-check";

/// A CloudFormation template with parameter values: conditions and intrinsic functions evaluated as
/// CloudFormation would, for the functions the template uses (`Ref`, `Fn::Sub`, `Fn::If`, `Fn::GetAtt`,
/// `Fn::Join` and the condition functions). Any other intrinsic fails the check, so it cannot go unevaluated.
pub struct Stack {
    pub root: Yaml,
    pub params: BTreeMap<String, String>,
}

pub fn tag_name(tag: &serde_norway::value::Tag) -> String {
    tag.to_string().trim_start_matches('!').to_owned()
}

pub fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        other => panic!("a scalar was expected, not {other}"),
    }
}

impl Stack {
    /// The template with its parameters' defaults and `overrides`; a required parameter without a value, or an
    /// override of a parameter the template lacks, fails.
    pub fn new(overrides: &[(&str, &str)]) -> Self {
        let root: Yaml = serde_norway::from_str(&template_text()).expect("template.yaml is YAML");
        let mut params = BTreeMap::new();
        for (name, spec) in root["Parameters"].as_mapping().expect("Parameters") {
            let name = name.as_str().expect("parameter name").to_owned();
            if let Some(default) = spec.get("Default") {
                let value = match default {
                    Yaml::String(s) => s.clone(),
                    Yaml::Number(n) => n.to_string(),
                    other => panic!("parameter {name}: default {other:?}"),
                };
                params.insert(name, value);
            }
        }
        for (name, value) in overrides {
            assert!(
                root["Parameters"].get(*name).is_some(),
                "the template has no parameter {name}"
            );
            params.insert((*name).to_owned(), (*value).to_owned());
        }
        for name in root["Parameters"].as_mapping().unwrap().keys() {
            let name = name.as_str().unwrap();
            assert!(params.contains_key(name), "no value for the required parameter {name}");
        }
        Stack { root, params }
    }

    pub fn condition(&self, name: &str) -> bool {
        let c = self.root["Conditions"]
            .get(name)
            .unwrap_or_else(|| panic!("no condition {name}"));
        self.truth(c)
    }

    pub fn truth(&self, v: &Yaml) -> bool {
        let Yaml::Tagged(t) = v else {
            panic!("a condition function was expected, not {v:?}")
        };
        let args = t.value.as_sequence();
        match tag_name(&t.tag).as_str() {
            "Equals" => {
                let a = args.expect("Equals takes two values");
                text(&self.resolve(&a[0]).expect("a value")) == text(&self.resolve(&a[1]).expect("a value"))
            }
            "Not" => !self.truth(&args.expect("Not takes a list")[0]),
            "And" => args.expect("And takes a list").iter().all(|c| self.truth(c)),
            "Or" => args.expect("Or takes a list").iter().any(|c| self.truth(c)),
            "Condition" => self.condition(t.value.as_str().expect("a condition name")),
            other => panic!("unsupported condition function {other}"),
        }
    }

    pub fn resource(&self, name: &str) -> &Yaml {
        self.root["Resources"]
            .get(name)
            .unwrap_or_else(|| panic!("no resource {name}"))
    }

    /// Whether a resource is created: its condition, if any, holds.
    pub fn present(&self, name: &str) -> bool {
        self.resource(name)
            .get("Condition")
            .is_none_or(|c| self.condition(c.as_str().expect("a condition name")))
    }

    /// The resources created with these parameters, by logical id.
    pub fn resources(&self) -> Vec<(String, &Yaml)> {
        self.root["Resources"]
            .as_mapping()
            .expect("Resources")
            .iter()
            .map(|(k, v)| (k.as_str().expect("logical id").to_owned(), v))
            .filter(|(k, _)| self.present(k))
            .collect()
    }

    pub fn reference(&self, name: &str) -> Option<Json> {
        match name {
            "AWS::NoValue" => None,
            "AWS::Region" => Some(json!("us-east-1")),
            "AWS::AccountId" => Some(json!("000000000000")),
            "AWS::Partition" => Some(json!("aws")),
            "AWS::StackName" => Some(json!(STACK)),
            _ if self.params.contains_key(name) => Some(json!(self.params[name])),
            _ => {
                assert!(
                    self.present(name),
                    "{name} is referenced, but not created with these parameters"
                );
                // An alarm's Ref is its name (CloudFormation's AWS::CloudWatch::Alarm return values).
                let resource = self.resource(name);
                if resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                    && let Some(alarm_name) = resource["Properties"].get("AlarmName")
                {
                    return self.resolve(alarm_name);
                }
                Some(json!(format!("{STACK}-{}", name.to_lowercase())))
            }
        }
    }

    pub fn attribute(&self, resource: &str, attribute: &str) -> Json {
        assert!(
            self.present(resource),
            "{resource}.{attribute} is referenced, but {resource} is not created with these parameters"
        );
        json!(format!("arn:aws:test:us-east-1:000000000000:{resource}/{attribute}"))
    }

    pub fn substitute(&self, template: &str, vars: &BTreeMap<String, Json>) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            if let Some(literal) = after.strip_prefix('!') {
                out.push_str("${");
                rest = literal;
                continue;
            }
            let end = after.find('}').expect("a closing brace in Fn::Sub");
            let name = &after[..end];
            let value = match vars.get(name) {
                Some(v) => v.clone(),
                None => match name.split_once('.') {
                    Some((r, a)) if !name.starts_with("AWS::") => self.attribute(r, a),
                    _ => self
                        .reference(name)
                        .unwrap_or_else(|| panic!("${{{name}}} is AWS::NoValue")),
                },
            };
            out.push_str(&text(&value));
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The value CloudFormation would see; `None` for `AWS::NoValue`.
    pub fn resolve(&self, v: &Yaml) -> Option<Json> {
        match v {
            Yaml::Null => Some(Json::Null),
            Yaml::Bool(b) => Some(json!(b)),
            Yaml::Number(n) => Some(serde_json::to_value(n).expect("a number")),
            Yaml::String(s) => Some(json!(s)),
            Yaml::Sequence(items) => Some(Json::Array(items.iter().filter_map(|i| self.resolve(i)).collect())),
            Yaml::Mapping(m) => Some(Json::Object(
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str().expect("string keys").to_owned(), self.resolve(v)?)))
                    .collect(),
            )),
            Yaml::Tagged(t) => {
                let v = &t.value;
                match tag_name(&t.tag).as_str() {
                    "Ref" => self.reference(v.as_str().expect("Ref takes a name")),
                    "GetAtt" => {
                        let (r, a) = v.as_str().expect("GetAtt Resource.Attribute").split_once('.').unwrap();
                        Some(self.attribute(r, a))
                    }
                    "If" => {
                        let args = v.as_sequence().expect("If takes a list");
                        let branch = if self.condition(args[0].as_str().expect("a condition name")) {
                            &args[1]
                        } else {
                            &args[2]
                        };
                        self.resolve(branch)
                    }
                    "Sub" => {
                        let (template, vars) = match v {
                            Yaml::String(s) => (s.as_str(), BTreeMap::new()),
                            Yaml::Sequence(args) => {
                                let vars = args[1]
                                    .as_mapping()
                                    .expect("Sub's variables")
                                    .iter()
                                    .map(|(k, v)| {
                                        let name = k.as_str().unwrap().to_owned();
                                        let value = self.resolve(v).unwrap_or_else(|| panic!("{name} is NoValue"));
                                        (name, value)
                                    })
                                    .collect();
                                (args[0].as_str().expect("Sub's template"), vars)
                            }
                            other => panic!("Sub takes a string or a list, not {other:?}"),
                        };
                        Some(json!(self.substitute(template, &vars)))
                    }
                    "Join" => {
                        let args = v.as_sequence().expect("Join takes a list");
                        let parts = self.resolve(&args[1]).expect("Join's values");
                        let parts: Vec<String> = parts.as_array().expect("a list").iter().map(text).collect();
                        Some(json!(parts.join(args[0].as_str().expect("Join's delimiter"))))
                    }
                    other => panic!("unsupported intrinsic function {other}"),
                }
            }
        }
    }

    /// A resource's properties, resolved.
    pub fn properties(&self, name: &str) -> Json {
        self.resolve(&self.resource(name)["Properties"]).expect("Properties")
    }
}

/// A function's environment, resolved.
pub fn environment(stack: &Stack, function: &str) -> HashMap<String, String> {
    stack.properties(function)["Environment"]["Variables"]
        .as_object()
        .unwrap_or_else(|| panic!("{function} has no Environment.Variables"))
        .iter()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect()
}

/// The statements of a role's inline policies, resolved.
pub fn statements(stack: &Stack, role: &str) -> Vec<Json> {
    stack.properties(role)["Policies"]
        .as_array()
        .expect("Policies")
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().expect("Statement").clone())
        .collect()
}

/// An `Action` or `Resource` element as a list.
pub fn items(v: &Json) -> Vec<String> {
    match v {
        Json::Array(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

/// IAM's ARN matching: `*` matches any run of characters, `/` included; `?` one character.
pub fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some((b'?', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

/// Whether some statement allows `action` on `resource` (all statements here are Allow).
pub fn allows(statements: &[Json], action: &str, resource: &str) -> bool {
    statements.iter().any(|s| {
        items(&s["Action"]).iter().any(|a| a == action) && items(&s["Resource"]).iter().any(|r| glob(r, resource))
    })
}

/// The object ARN of `key` in `bucket`.
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}
