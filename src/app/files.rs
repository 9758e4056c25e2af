//! Files on disk: atomic saves, the autosave that survives a crash, and the app's
//! settings (theme, UI scale, recent files).
//!
//! Everything lives in the app's data directory ([`data_dir`]: `$EVENTYARD_DATA_DIR`,
//! else the platform's data directory + `eventyard`). Autosaves are one file per running
//! app (`autosave-PID.json`), so two windows never overwrite each other's, and a file
//! whose process is gone is what the next start offers to restore.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::model::Topology;

/// How long after the last change an autosave is written (and at most how often).
pub const AUTOSAVE_DELAY: Duration = Duration::from_secs(2);

/// How many recent files are remembered.
pub const RECENT_FILES: usize = 10;

/// The app's data directory (created when first written to).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EVENTYARD_DATA_DIR") {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("eventyard")
}

/// Writes `text` to `path` atomically: a temporary file beside it, flushed to disk, then
/// renamed over the target. A crash leaves either the old file or the new one, never half.
pub fn save_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    // Save through a symbolic link to the file it points at, keeping the link.
    let resolved = std::fs::canonicalize(path).ok();
    let path = resolved.as_deref().unwrap_or(path);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "design.json".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        // The new file keeps the old one's permissions.
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads a design file; the error names the line and column.
pub fn load(path: &Path) -> Result<Topology, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Topology::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Settings kept between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Dark (true) or light theme.
    pub dark: bool,
    /// UI scale (1.0 = normal; projectors like 1.5).
    pub scale: f32,
    /// Recently opened or saved files, newest first.
    pub recent: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dark: true,
            scale: 1.0,
            recent: Vec::new(),
        }
    }
}

impl Settings {
    fn path(dir: &Path) -> PathBuf {
        dir.join("settings.json")
    }

    /// The saved settings, or defaults when there are none (or they are unreadable); a
    /// UI scale outside 50–300 % is brought back into it.
    pub fn load(dir: &Path) -> Settings {
        let mut settings: Settings = std::fs::read_to_string(Self::path(dir))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        settings.scale = if settings.scale.is_finite() {
            settings.scale.clamp(0.5, 3.0)
        } else {
            1.0
        };
        settings
    }

    /// Saves the settings (atomically).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        save_atomic(&Self::path(dir), &text)
    }

    /// Puts `path` first in the recent files.
    pub fn remember(&mut self, path: &Path) {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(RECENT_FILES);
    }
}

/// What an autosave file holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AutosaveFile {
    /// The file the design belongs to, if it has one.
    pub file: Option<PathBuf>,
    /// When it was written (seconds since the Unix epoch).
    pub written: u64,
    /// The design, as the config file would hold it.
    pub design: serde_json::Value,
}

/// A leftover autosave from a run that did not end cleanly.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// Where the autosave is (deleted once restored or discarded).
    pub autosave: PathBuf,
    /// The design's own file, if it had one.
    pub file: Option<PathBuf>,
    /// When it was written.
    pub written: SystemTime,
    /// The design.
    pub topology: Topology,
}

/// Writes this app's autosave a little after each change.
#[derive(Debug)]
pub struct Autosave {
    path: PathBuf,
    written_state: Option<u64>,
    changed_at: Option<(u64, Instant)>,
    /// Whether this process's autosave file exists (so clearing needs no file check).
    on_disk: bool,
}

impl Autosave {
    /// The autosave of this process in `dir`.
    pub fn new(dir: &Path) -> Autosave {
        Autosave {
            path: dir.join(format!("autosave-{}.json", std::process::id())),
            written_state: None,
            changed_at: None,
            on_disk: false,
        }
    }

    /// Where this process autosaves.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Called every frame with the document's state; writes when the state has been
    /// changed for [`AUTOSAVE_DELAY`]. `modified == false` removes the autosave (the
    /// design is saved). Returns when the next check is due, for a repaint timer.
    pub fn tick(
        &mut self,
        state: u64,
        modified: bool,
        file: Option<&Path>,
        topology: &Topology,
        now: Instant,
    ) -> Option<Duration> {
        if !modified {
            self.clear();
            return None;
        }
        if self.written_state == Some(state) {
            return None;
        }
        let since = match self.changed_at {
            Some((s, at)) if s == state => at,
            _ => {
                // Keep the first unsaved moment so that steady typing still autosaves
                // every AUTOSAVE_DELAY instead of waiting for a pause.
                let first = self.changed_at.map_or(now, |(_, at)| at);
                self.changed_at = Some((state, first));
                first
            }
        };
        let due = since + AUTOSAVE_DELAY;
        if now < due {
            return Some(due - now);
        }
        match self.write(file, topology) {
            Ok(()) => {
                self.written_state = Some(state);
                self.changed_at = None;
                None
            }
            Err(_) => Some(AUTOSAVE_DELAY),
        }
    }

    /// Writes the autosave now.
    pub fn write(&mut self, file: Option<&Path>, topology: &Topology) -> std::io::Result<()> {
        let design = serde_json::to_value(topology).map_err(std::io::Error::other)?;
        let written = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let record = AutosaveFile {
            file: file.map(Path::to_path_buf),
            written,
            design,
        };
        let text = serde_json::to_string_pretty(&record).map_err(std::io::Error::other)?;
        save_atomic(&self.path, &text)?;
        self.on_disk = true;
        Ok(())
    }

    /// Removes this process's autosave (the design was saved or discarded).
    pub fn clear(&mut self) {
        if self.on_disk {
            let _ = std::fs::remove_file(&self.path);
            self.on_disk = false;
        }
        self.written_state = None;
        self.changed_at = None;
    }
}

/// Autosaves left by runs that are no longer running, newest first.
pub fn leftover_autosaves(dir: &Path) -> Vec<Recovered> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut found: Vec<Recovered> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid: u32 = name
                .strip_prefix("autosave-")?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            if pid == me || process_alive(pid) {
                return None;
            }
            let text = std::fs::read_to_string(entry.path()).ok()?;
            let record: AutosaveFile = serde_json::from_str(&text).ok()?;
            let topology = Topology::from_json(&record.design.to_string()).ok()?;
            Some(Recovered {
                autosave: entry.path(),
                file: record.file,
                written: SystemTime::UNIX_EPOCH + Duration::from_secs(record.written),
                topology,
            })
        })
        .collect();
    found.sort_by_key(|r| std::cmp::Reverse(r.written));
    found
}

/// Whether the Eventyard that wrote `autosave-PID.json` still runs (Linux: `/proc`;
/// elsewhere assume not). A killed process that is not yet reaped (a zombie) does not
/// count, nor does another program that was given the same id later.
fn process_alive(pid: u32) -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state ...`: comm may hold spaces and parentheses, so split at the last ')'.
    let Some((head, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let comm = head.split_once('(').map_or("", |(_, c)| c);
    let state = rest.trim_start().chars().next().unwrap_or('X');
    let running = !matches!(state, 'Z' | 'X' | 'x');
    running && (comm.starts_with("eventyard") || pid == std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("eventyard-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn atomic_save_replaces_the_whole_file() {
        let dir = temp_dir("atomic");
        let path = dir.join("design.json");
        save_atomic(&path, "old").expect("writes");
        save_atomic(&path, "new").expect("writes");
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "new");
        let leftovers: Vec<_> = std::fs::read_dir(&dir).expect("lists").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn saving_keeps_permissions_and_links() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("perm");
        let real = dir.join("real.json");
        save_atomic(&real, "one").expect("writes");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        save_atomic(&link, "two").expect("writes through the link");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).expect("reads"), "two");
        let mode = std::fs::metadata(&real).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn settings_round_trip_and_remember_recent_files() {
        let dir = temp_dir("settings");
        let mut s = Settings::load(&dir);
        assert_eq!(s, Settings::default());
        for i in 0..12 {
            s.remember(&dir.join(format!("f{i}.json")));
        }
        s.remember(&dir.join("f3.json"));
        s.dark = false;
        s.save(&dir).expect("saves");
        let back = Settings::load(&dir);
        assert_eq!(back, s);
        assert_eq!(back.recent.len(), RECENT_FILES);
        assert!(back.recent[0].ends_with("f3.json"));
    }

    #[test]
    fn an_autosave_of_a_dead_process_is_offered() {
        let dir = temp_dir("autosave");
        let topology =
            Topology::from_json(include_str!("../../examples/fanout.json")).expect("loads");
        // Pretend a process that no longer runs left an autosave.
        let record = AutosaveFile {
            file: Some(PathBuf::from("/designs/fanout.json")),
            written: 1_700_000_000,
            design: serde_json::from_str(&topology.to_json()).expect("json"),
        };
        let dead = dir.join("autosave-4000000000.json");
        std::fs::write(&dead, serde_json::to_string(&record).expect("json")).expect("writes");
        std::fs::write(dir.join("autosave-garbage.json"), "{").expect("writes");
        let found = leftover_autosaves(&dir);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].topology, topology);
        assert_eq!(
            found[0].file.as_deref(),
            Some(Path::new("/designs/fanout.json"))
        );
    }

    #[test]
    fn only_a_running_eventyard_keeps_its_autosave() {
        // This test process is running but is not called eventyard: an autosave under its
        // id would be a leftover of an earlier Eventyard that had the same id.
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(4_000_000_000));
        let parent = std::os::unix::process::parent_id();
        assert!(
            !process_alive(parent),
            "the test runner is not an eventyard"
        );
    }

    #[test]
    fn autosave_waits_for_the_delay_and_clears_when_saved() {
        let dir = temp_dir("tick");
        let topology = Topology::new();
        let mut a = Autosave::new(&dir);
        let t0 = Instant::now();
        assert!(a.tick(2, true, None, &topology, t0).is_some());
        assert!(!a.path().exists());
        assert!(
            a.tick(2, true, None, &topology, t0 + AUTOSAVE_DELAY)
                .is_none()
        );
        assert!(a.path().exists());
        a.tick(2, false, None, &topology, t0 + AUTOSAVE_DELAY * 2);
        assert!(!a.path().exists());
    }
}
