//! Environment variables into typed configuration: the parsing every function shares (required and optional
//! values, S3 locations and `{endpoint}`/`{variant}` templates, comma lists), with errors that name the variable.

use std::collections::HashMap;

use crate::s3::{LocationError, S3Location};

/// A configuration error, naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// `message` says what is wrong; `source` is the parse error that said it, when one did.
    #[error("environment variable {name}: {message}")]
    Invalid {
        name: &'static str,
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// An invalid-variable error that a check of ours found (no parse error behind it).
pub fn invalid(name: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: message.into(),
        source: None,
    }
}

/// An invalid-variable error that a parser found: its text is the message, and it is kept as the source.
pub fn unparsable(name: &'static str, error: impl std::error::Error + Send + Sync + 'static) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: error.to_string(),
        source: Some(Box::new(error)),
    }
}

/// The variant an `ENDPOINTS` item names when it names an endpoint alone (SageMaker's default variant name).
pub const DEFAULT_VARIANT: &str = "AllTraffic";
/// Endpoint and variant names: at most 63 characters, `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}` (SageMaker API
/// reference, `CreateEndpoint` and `ProductionVariant`).
pub const NAME_MAX: usize = 63;

/// Whether `name` is a valid SageMaker endpoint or variant name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// One configured endpoint variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointVariant {
    pub endpoint: String,
    pub variant: String,
}

/// `template` with `{endpoint}` and `{variant}` replaced.
pub fn fill(template: &str, endpoint: &str, variant: &str) -> String {
    template.replace("{endpoint}", endpoint).replace("{variant}", variant)
}

/// A set of variables (the process environment, or a map in tests). Blank values count as unset.
#[derive(Debug, Clone, Default)]
pub struct Vars(HashMap<String, String>);

impl Vars {
    /// The process environment.
    pub fn from_env() -> Self {
        Self(std::env::vars().collect())
    }

    /// Variables from a map.
    pub fn from_map(vars: HashMap<String, String>) -> Self {
        Self(vars)
    }

    /// The trimmed value, unless unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The value of a required variable.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Missing`].
    pub fn required(&self, name: &'static str) -> Result<&str, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// A required `s3://bucket/prefix`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when missing or not an S3 URI.
    pub fn location(&self, name: &'static str) -> Result<S3Location, ConfigError> {
        self.required(name)?
            .parse()
            .map_err(|e: LocationError| unparsable(name, e))
    }

    /// An optional S3 URI template with `{endpoint}` and `{variant}`, checked by filling it in.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when it is not an S3 URI once filled.
    pub fn template(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(t) => {
                fill(t, "e", "v")
                    .parse::<S3Location>()
                    .map_err(|e| unparsable(name, e))?;
                Ok(Some(t.to_owned()))
            }
        }
    }

    /// A required comma-separated list of `endpoint` or `endpoint/variant` (variant [`DEFAULT_VARIANT`]), each a
    /// valid SageMaker name, none twice.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when missing, empty, or an item is invalid or repeated.
    pub fn endpoint_variants(&self, name: &'static str) -> Result<Vec<EndpointVariant>, ConfigError> {
        self.required(name)?;
        let mut out: Vec<EndpointVariant> = Vec::new();
        for item in self.list(name) {
            let (endpoint, variant) = item.split_once('/').unwrap_or((&item, DEFAULT_VARIANT));
            for part in [endpoint, variant] {
                if !valid_name(part) {
                    return Err(invalid(
                        name,
                        format!(
                            "{part:?} in {item:?} is not a SageMaker name (letters, digits and '-', at most {NAME_MAX})"
                        ),
                    ));
                }
            }
            let ev = EndpointVariant {
                endpoint: endpoint.to_owned(),
                variant: variant.to_owned(),
            };
            if out.contains(&ev) {
                return Err(invalid(name, format!("{endpoint}/{variant} is named twice")));
            }
            out.push(ev);
        }
        if out.is_empty() {
            return Err(invalid(name, "names no endpoint"));
        }
        Ok(out)
    }

    /// A whole number `>= 0`, or `default` when unset.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when it is not one.
    pub fn number(&self, name: &'static str, default: i64) -> Result<i64, ConfigError> {
        self.get(name).map_or(Ok(default), |v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid(name, format!("{v:?} is not a whole number")))
        })
    }

    /// The comma-separated items of a variable (none when unset).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::from_map(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn values_templates_and_lists() {
        let v = vars(&[
            ("A", " s3://b/p "),
            ("T", "s3://b/{endpoint}/{variant}/x.json"),
            ("BAD", "b/p"),
            ("L", "a, b,,c "),
            ("BLANK", "  "),
        ]);
        assert_eq!(v.location("A").unwrap().bucket, "b");
        assert_eq!(
            fill(&v.template("T").unwrap().unwrap(), "ep", "AllTraffic"),
            "s3://b/ep/AllTraffic/x.json"
        );
        let bad = v.template("BAD").unwrap_err();
        assert!(matches!(bad, ConfigError::Invalid { name: "BAD", .. }));
        let cause = std::error::Error::source(&bad).expect("the parse error is kept");
        assert_eq!(bad.to_string(), format!("environment variable BAD: {cause}"));
        assert!(std::error::Error::source(&invalid("X", "too long")).is_none());
        assert!(matches!(v.required("BLANK"), Err(ConfigError::Missing("BLANK"))));
        assert_eq!(v.list("L"), vec!["a", "b", "c"]);
        assert!(v.list("NONE").is_empty());
    }

    #[test]
    fn endpoints_and_numbers() {
        let v = vars(&[
            ("E", "a, b/Canary"),
            ("DUP", "a,a/AllTraffic"),
            ("BAD", "a_b"),
            ("N", "7"),
            ("NEG", "-1"),
        ]);
        let e = v.endpoint_variants("E").unwrap();
        assert_eq!((e[0].endpoint.as_str(), e[0].variant.as_str()), ("a", DEFAULT_VARIANT));
        assert_eq!(e[1].variant, "Canary");
        assert!(
            v.endpoint_variants("DUP")
                .unwrap_err()
                .to_string()
                .contains("named twice")
        );
        assert!(
            v.endpoint_variants("BAD")
                .unwrap_err()
                .to_string()
                .contains("not a SageMaker name")
        );
        assert!(matches!(v.endpoint_variants("NONE"), Err(ConfigError::Missing("NONE"))));
        assert_eq!((v.number("N", 1).unwrap(), v.number("NONE", 3).unwrap()), (7, 3));
        assert!(v.number("NEG", 1).is_err());
        assert!(!valid_name("-a") && !valid_name(&"a".repeat(64)) && valid_name("a-1"));
    }
}
