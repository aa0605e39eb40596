//! The local adapters: the core's ports over the filesystem, with S3's layout in folders.

use std::io::{Read, Write as _};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use modelwatch_core::capture::is_capture_file;
use modelwatch_core::ports::{
    CaptureObject, CaptureSource, PortError, PortErrorKind, ReportStore, StateStore, StateVersion,
};
use modelwatch_core::window::{Window, hour_of_key};

/// Capture files under a folder (any depth), or one file.
pub struct FsCaptureSource {
    root: PathBuf,
}

impl FsCaptureSource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// `s3://bucket/key` objects in a local copy of the buckets: `{root}/bucket/key` (what `aws s3 sync s3://bucket
/// {root}/bucket` writes), for a Batch Transform job's capture and the objects its manifests name.
pub struct FsObjects {
    root: PathBuf,
}

impl FsObjects {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, uri: &str) -> Result<PathBuf, PortError> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| PortError::new("resolving", uri.to_owned(), PortErrorKind::Other, "not an s3:// URI"))?;
        let relative = Path::new(rest);
        if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(PortError::new(
                "resolving",
                uri.to_owned(),
                PortErrorKind::Other,
                "not a plain key",
            ));
        }
        Ok(self.root.join(relative))
    }
}

impl modelwatch_core::transform::ObjectStore for FsObjects {
    fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        let dir = self.path(prefix.trim_end_matches('/'))?;
        let mut paths = Vec::new();
        match walk(&dir, &mut paths) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(PortError::new(
                    "listing",
                    dir.display().to_string(),
                    PortErrorKind::Other,
                    e,
                ));
            }
        }
        let base = prefix.trim_end_matches('/');
        let mut uris: Vec<String> = paths
            .iter()
            .filter_map(|p| p.strip_prefix(&dir).ok())
            .map(|rel| format!("{base}/{}", rel.display()))
            .collect();
        uris.sort();
        Ok(uris)
    }

    fn open(&self, uri: &str) -> Result<Box<dyn Read + Send + '_>, PortError> {
        let path = self.path(uri)?;
        let file = std::fs::File::open(&path).map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                PortErrorKind::NotFound
            } else {
                PortErrorKind::Other
            };
            PortError::new("opening", format!("{uri} ({})", path.display()), kind, e)
        })?;
        Ok(Box::new(file))
    }
}

impl CaptureSource for FsCaptureSource {
    fn list(&self, window: Option<&Window>) -> Result<Vec<CaptureObject>, PortError> {
        let list_err = |e: std::io::Error| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                PortErrorKind::NotFound
            } else {
                PortErrorKind::Other
            };
            PortError::new("listing", self.root.display().to_string(), kind, e)
        };
        let mut paths = Vec::new();
        if self.root.is_file() {
            paths.push(self.root.clone());
        } else {
            walk(&self.root, &mut paths).map_err(list_err)?;
        }
        let mut objects: Vec<CaptureObject> = paths
            .into_iter()
            .filter(|p| self.root.is_file() || p.file_name().and_then(|n| n.to_str()).is_some_and(is_capture_file))
            .map(|p| {
                let name = p.display().to_string();
                CaptureObject {
                    hour: hour_of_key(&name),
                    size: std::fs::metadata(&p).ok().map(|m| m.len()),
                    name,
                }
            })
            .filter(|o| match (window, o.hour) {
                (Some(w), Some(hour)) => w.overlaps_hour(hour),
                // Files outside the hourly layout are listed too: the evaluator keeps their records of the window.
                (Some(_), None) => true,
                (None, _) => true,
            })
            .collect();
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(objects)
    }

    fn open(&self, object: &CaptureObject) -> Result<Box<dyn Read + Send + '_>, PortError> {
        let file = std::fs::File::open(&object.name).map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                PortErrorKind::NotFound
            } else {
                PortErrorKind::Other
            };
            PortError::new("opening", object.name.clone(), kind, e)
        })?;
        Ok(Box::new(file))
    }
}

/// Reports written into a folder.
pub struct FsReportStore {
    root: PathBuf,
}

impl FsReportStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl ReportStore for FsReportStore {
    fn put(&self, name: &str, body: &[u8]) -> Result<(), PortError> {
        let path = self.root.join(name);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, body)
        };
        write().map_err(|e| PortError::new("writing", path.display().to_string(), PortErrorKind::Other, e))
    }
}

/// Small state objects as files under a folder, written with compare-and-set.
///
/// A state's version is a hash of its bytes (FNV-1a, 64 bits), so a file edited by hand is a new version too. A
/// conditional write holds `<file>.lock` (created exclusively) while it compares the file's current version with the
/// expected one and renames the new content into place, so two processes cannot both commit on the same version. A
/// lock older than [`STALE_LOCK`] was left by a crashed run and is taken over.
pub struct FsStateStore {
    root: PathBuf,
}

/// How long a conditional write waits for another writer's lock before reporting a conflict.
const LOCK_WAIT: Duration = Duration::from_secs(2);
/// A lock this old was left behind by a run that died while writing.
const STALE_LOCK: Duration = Duration::from_secs(60);

impl FsStateStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file of `key`; keys are relative paths that stay inside the folder.
    fn path(&self, key: &str) -> Result<PathBuf, PortError> {
        let relative = Path::new(key);
        let inside = !key.is_empty() && relative.components().all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            return Err(PortError::new(
                "resolving",
                key,
                PortErrorKind::Other,
                "a state key must be a relative path without `..`",
            ));
        }
        Ok(self.root.join(relative))
    }
}

/// The version of a state's content: its FNV-1a 64-bit hash.
pub fn content_version(bytes: &[u8]) -> StateVersion {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64-{h:016x}")
}

/// Holds a state file's lock; dropping it releases the lock.
struct Lock(PathBuf);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn lock(path: &Path) -> Result<Lock, PortError> {
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let deadline = SystemTime::now() + LOCK_WAIT;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock_path)
        {
            Ok(mut f) => {
                let _ = writeln!(f, "{}", std::process::id());
                return Ok(Lock(lock_path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let age = std::fs::metadata(&lock_path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok());
                if age.is_some_and(|a| a > STALE_LOCK) {
                    let _ = std::fs::remove_file(&lock_path);
                    continue;
                }
                if SystemTime::now() > deadline {
                    return Err(PortError::new(
                        "locking",
                        lock_path.display().to_string(),
                        PortErrorKind::Conflict,
                        "another run is writing this state",
                    ));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                return Err(PortError::new(
                    "locking",
                    lock_path.display().to_string(),
                    PortErrorKind::Other,
                    e,
                ));
            }
        }
    }
}

fn read_state(path: &Path) -> Result<Option<Vec<u8>>, PortError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PortError::new(
            "reading",
            path.display().to_string(),
            PortErrorKind::Other,
            e,
        )),
    }
}

impl StateStore for FsStateStore {
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, StateVersion)>, PortError> {
        let path = self.path(key)?;
        Ok(read_state(&path)?.map(|bytes| {
            let version = content_version(&bytes);
            (bytes, version)
        }))
    }

    fn put_if(&self, key: &str, body: &[u8], expected: Option<&StateVersion>) -> Result<StateVersion, PortError> {
        let path = self.path(key)?;
        let other = |e: std::io::Error| PortError::new("writing", path.display().to_string(), PortErrorKind::Other, e);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(other)?;
        }
        let _lock = lock(&path)?;
        let current = read_state(&path)?.map(|b| content_version(&b));
        if current.as_ref() != expected {
            let found = current.unwrap_or_else(|| "absent".to_owned());
            let wanted = expected.map_or("absent", String::as_str);
            return Err(PortError::new(
                "writing",
                path.display().to_string(),
                PortErrorKind::Conflict,
                format!("the state is at {found}, not at {wanted}"),
            ));
        }
        let temporary = PathBuf::from(format!("{}.{}.tmp", path.display(), std::process::id()));
        std::fs::write(&temporary, body).map_err(other)?;
        std::fs::rename(&temporary, &path).map_err(other)?;
        Ok(content_version(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_capture_files_of_the_window_only() {
        let dir = tempfile::tempdir().unwrap();
        for (hour, name) in [
            ("13", "a.jsonl"),
            ("14", "b.jsonl.gz"),
            ("14", "notes.txt"),
            ("15", "c.jsonl"),
        ] {
            let folder = dir.path().join(format!("ep/v/2024/05/01/{hour}"));
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join(name), "").unwrap();
        }
        let source = FsCaptureSource::new(dir.path());
        assert_eq!(source.list(None).unwrap().len(), 3);
        let w = Window::new(
            modelwatch_core::window::parse_time("2024-05-01T14").unwrap(),
            modelwatch_core::window::parse_time("2024-05-01T16").unwrap(),
        )
        .unwrap();
        let names: Vec<String> = source.list(Some(&w)).unwrap().into_iter().map(|o| o.name).collect();
        assert_eq!(names.len(), 2);
        assert!(names[0].ends_with("14/b.jsonl.gz") && names[1].ends_with("15/c.jsonl"));
    }
}

#[cfg(test)]
mod state_tests {
    use super::*;
    use modelwatch_core::history::{HistoryConfig, PredictionHistory, WindowSummary, update_history};
    use modelwatch_core::metrics::MetricScope;

    #[test]
    fn conditional_writes_compare_the_content_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStateStore::new(dir.path());
        assert_eq!(store.get("h/ep.json").unwrap(), None);
        let v1 = store.put_if("h/ep.json", b"one", None).unwrap();
        assert_eq!(v1, content_version(b"one"));
        assert_ne!(v1, content_version(b"two"));
        // Creating again, or writing on a version that is not the current one, loses.
        let again = store.put_if("h/ep.json", b"other", None).unwrap_err();
        assert_eq!(again.kind, PortErrorKind::Conflict);
        let stale = store
            .put_if("h/ep.json", b"other", Some(&content_version(b"zero")))
            .unwrap_err();
        assert_eq!(stale.kind, PortErrorKind::Conflict);
        assert_eq!(store.get("h/ep.json").unwrap(), Some((b"one".to_vec(), v1.clone())));
        let v2 = store.put_if("h/ep.json", b"two", Some(&v1)).unwrap();
        assert_eq!(store.get("h/ep.json").unwrap(), Some((b"two".to_vec(), v2)));
        // No lock or temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path().join("h"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["ep.json"]);
        for bad in ["../escape.json", "/etc/passwd", ""] {
            assert_eq!(store.get(bad).unwrap_err().kind, PortErrorKind::Other, "{bad}");
        }
    }

    #[test]
    fn a_stale_lock_is_taken_over_and_a_live_one_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStateStore::new(dir.path());
        let lock_path = dir.path().join("s.json.lock");
        std::fs::write(&lock_path, "1").unwrap();
        let busy = store.put_if("s.json", b"x", None).unwrap_err();
        assert_eq!(busy.kind, PortErrorKind::Conflict);
        let old = SystemTime::now() - STALE_LOCK - Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&lock_path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        store.put_if("s.json", b"x", None).unwrap();
        assert!(!lock_path.exists());
    }

    #[test]
    fn concurrent_runs_lose_no_window() {
        use modelwatch_core::history::HistoryStateError;
        let dir = tempfile::tempdir().unwrap();
        let t0 = modelwatch_core::window::parse_time("2024-05-01T00").unwrap();
        let scope = MetricScope {
            endpoint: "ep".into(),
            schedule: "s".into(),
            timestamp: t0,
        };
        let committed: Vec<chrono::DateTime<chrono::Utc>> = std::thread::scope(|threads| {
            let workers: Vec<_> = (0..4i64)
                .map(|worker| {
                    let (root, scope) = (dir.path(), &scope);
                    threads.spawn(move || {
                        let store = FsStateStore::new(root);
                        let mut committed = Vec::new();
                        for k in 0..10i64 {
                            let window = WindowSummary {
                                start: t0 + chrono::Duration::hours(worker * 10 + k),
                                invocations: 100,
                                prediction_mean: Some(0.5),
                                prediction_sd: None,
                                scored_outputs: 100,
                                positive_rate: None,
                                class_shares: Default::default(),
                                invalid_outputs: 0,
                            };
                            match update_history(&store, "h.json", &window, 3600, &HistoryConfig::default(), scope) {
                                Ok(_) => committed.push(window.start),
                                // Losing every attempt is allowed under this much contention; losing a window is not.
                                Err(HistoryStateError::Contended { .. }) => {}
                                Err(e) => panic!("{e}"),
                            }
                        }
                        committed
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        let text = std::fs::read_to_string(dir.path().join("h.json")).unwrap();
        let history = PredictionHistory::from_json(&text).unwrap();
        let mut kept: Vec<_> = history.windows.iter().map(|w| w.start).collect();
        let mut committed = committed;
        kept.sort();
        committed.sort();
        assert!(committed.len() >= 10, "most updates commit: {}", committed.len());
        assert_eq!(kept, committed, "every committed window is kept, and only those");
    }
}
