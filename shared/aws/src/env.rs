//! Environment variables into typed configuration: the parsing every function shares (required and optional
//! values, S3 locations and `{endpoint}`/`{variant}` templates, comma lists), with errors that name the variable.

use std::collections::HashMap;

use crate::s3::{LocationError, S3Location};

/// A configuration error, naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// An invalid-variable error.
pub fn invalid(name: &'static str, message: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: message.to_string(),
    }
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
            .map_err(|e: LocationError| invalid(name, e))
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
                fill(t, "e", "v").parse::<S3Location>().map_err(|e| invalid(name, e))?;
                Ok(Some(t.to_owned()))
            }
        }
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
        assert!(matches!(
            v.template("BAD"),
            Err(ConfigError::Invalid { name: "BAD", .. })
        ));
        assert!(matches!(v.required("BLANK"), Err(ConfigError::Missing("BLANK"))));
        assert_eq!(v.list("L"), vec!["a", "b", "c"]);
        assert!(v.list("NONE").is_empty());
    }
}
