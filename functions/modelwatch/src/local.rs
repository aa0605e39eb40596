//! The local adapters: the core's ports over the filesystem, with S3's layout in folders.

use std::io::Read;
use std::path::{Path, PathBuf};

use modelwatch_core::capture::is_capture_file;
use modelwatch_core::ports::{CaptureObject, CaptureSource, PortError, PortErrorKind, ReportStore};
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
                // Files outside the hourly layout are read only when no window is asked for.
                (Some(_), None) => false,
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
