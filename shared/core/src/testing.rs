//! Helpers for tests, in this crate and in the crates that enable feature `test-util` as a dev-dependency.

use std::path::{Path, PathBuf};

/// Where the shared real-data folder is: `../shared/realdata` beside the checkout (the workspace root's parent).
const REALDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/realdata");

/// The shared folder of real, third-party files (SageMaker captures, Model Monitor baselines, public data sets,
/// request traces), when it is beside the checkout.
///
/// When it is absent, a test that needs it cannot check anything. On a workstation that is a skip, announced on
/// stderr as `SKIPPED <test name>: ../shared/realdata is absent` so that it is not mistaken for a pass. In CI (the
/// `CI` environment variable set and not empty, as GitHub Actions and most CI services set it) the folder is part of
/// the set-up, so its absence is a broken set-up and this panics rather than letting the test pass silently.
///
/// The test name is the test harness's thread name, so callers pass nothing.
///
/// # Panics
///
/// When the folder is absent and `CI` is set.
pub fn realdata() -> Option<PathBuf> {
    realdata_in(
        Path::new(REALDATA),
        std::env::var_os("CI").is_some_and(|v| !v.is_empty()),
    )
}

fn realdata_in(path: &Path, ci: bool) -> Option<PathBuf> {
    if path.is_dir() {
        return Some(path.to_path_buf());
    }
    if ci {
        panic!(
            "../shared/realdata is absent ({}) but CI is set: in CI the real data must be beside the checkout",
            path.display()
        );
    }
    let thread = std::thread::current();
    eprintln!(
        "SKIPPED {}: ../shared/realdata is absent",
        thread.name().unwrap_or("<unnamed test>")
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_present_folder_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(realdata_in(dir.path(), true).as_deref(), Some(dir.path()));
        assert_eq!(realdata_in(dir.path(), false).as_deref(), Some(dir.path()));
    }

    #[test]
    fn an_absent_folder_is_a_skip_outside_ci() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(realdata_in(&dir.path().join("absent"), false), None);
    }

    #[test]
    #[should_panic(expected = "in CI the real data must be beside the checkout")]
    fn an_absent_folder_fails_in_ci() {
        let dir = tempfile::tempdir().unwrap();
        realdata_in(&dir.path().join("absent"), true);
    }
}
