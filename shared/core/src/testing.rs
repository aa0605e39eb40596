//! Helpers for tests, in this crate and in the crates that enable feature `test-util` as a dev-dependency.

use std::io::Write;
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
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    // Straight to the stderr handle, not `eprintln!`: the test harness captures the macros' output and shows it only
    // for failing tests, which would make the skip silent again.
    realdata_in(Path::new(REALDATA), ci, &mut std::io::stderr())
}

/// The project's own small fixtures (`shared/core/tests/fixtures`), written in the shapes of the real files so that
/// the paths the real-data tests cover are tested on every checkout.
pub fn fixtures() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).to_path_buf()
}

fn realdata_in(path: &Path, ci: bool, skips: &mut impl Write) -> Option<PathBuf> {
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
    let _ = writeln!(
        skips,
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
        let mut out = Vec::new();
        assert_eq!(realdata_in(dir.path(), true, &mut out).as_deref(), Some(dir.path()));
        assert_eq!(realdata_in(dir.path(), false, &mut out).as_deref(), Some(dir.path()));
        assert!(out.is_empty());
    }

    #[test]
    fn an_absent_folder_is_a_skip_outside_ci() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        assert_eq!(realdata_in(&dir.path().join("absent"), false, &mut out), None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SKIPPED testing::tests::an_absent_folder_is_a_skip_outside_ci: ../shared/realdata is absent\n",
            "named after the test's thread"
        );
    }

    #[test]
    #[should_panic(expected = "in CI the real data must be beside the checkout")]
    fn an_absent_folder_fails_in_ci() {
        let dir = tempfile::tempdir().unwrap();
        realdata_in(&dir.path().join("absent"), true, &mut Vec::new());
    }
}
