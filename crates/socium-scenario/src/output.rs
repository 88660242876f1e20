//! Output files written whole or not at all: each is written to a temporary file in its folder
//! (named `.socium-partial-*`) and renamed over its name once complete ([`commit`], all of a
//! run's files at once). A process stopped by a signal removes its partial files first
//! ([`remove_own_partial_files`], which the `socium` binary calls on Ctrl-C); one killed outright
//! leaves them behind, and the next run into the folder removes them ([`remove_partial_files`]).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use tempfile::NamedTempFile;

/// The partial files this process has made. One that was renamed over its output or dropped no
/// longer exists under this name, and is forgotten at the next new one. Its lock is also held
/// while files are committed, and by a signal handler from its cleaning to the process's end:
/// a stop never comes between the renames of one commit.
static OWN_PARTIAL_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn own_partial_files() -> MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding it leaves a list still worth cleaning.
    OWN_PARTIAL_FILES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every run's summary, `socium run`'s and `socium evolve`'s.
pub const SUMMARY: &str = "summary.json";
/// `socium run`'s utterances.
pub const TRANSCRIPT: &str = "transcript.jsonl";
/// `socium run`'s metrics, a row an episode.
pub const METRICS: &str = "metrics.csv";
/// `socium run`'s HERON preferences.
pub const PREFERENCES: &str = "preferences.jsonl";
/// `socium run`'s social graph at the end.
pub const GRAPH: &str = "graph.edges";
/// `socium run`'s attributed rewards.
pub const ATTRIBUTION: &str = "attribution.jsonl";
/// `socium evolve`'s frequencies and metrics, a row a generation of a run.
pub const GENERATIONS: &str = "generations.csv";
/// `socium evolve`'s plot of each type's frequency.
pub const FREQUENCIES_PLOT: &str = "frequencies.png";
/// `socium evolve`'s plot of the game's first metric.
pub const COOPERATION_PLOT: &str = "cooperation.png";
/// The page `socium view` makes of a folder's outputs.
pub const PAGE: &str = "view.html";
/// The folder of `socium evolve`'s checkpoints in its output folder.
pub const CHECKPOINTS: &str = "checkpoints";

/// What `socium run` writes besides [`SUMMARY`]. A run removes those it does not write, and
/// `socium evolve` all of them, with the [`PAGE`] made of them: a folder holds one run.
pub const RUN_FILES: [&str; 5] = [TRANSCRIPT, METRICS, PREFERENCES, GRAPH, ATTRIBUTION];

/// What `socium evolve` writes besides [`SUMMARY`] and [`CHECKPOINTS`]; `socium run` removes
/// them, with the [`PAGE`].
pub const EVOLVE_FILES: [&str; 3] = [GENERATIONS, FREQUENCIES_PLOT, COOPERATION_PLOT];

/// Whether `dir` holds `socium evolve`'s checkpoints (an empty folder of them holds none).
/// `socium run` refuses such a folder rather than remove a run that may be paused.
pub fn holds_checkpoints(dir: &Path) -> bool {
    std::fs::read_dir(dir.join(CHECKPOINTS)).is_ok_and(|mut d| d.next().is_some())
}

/// How the temporary files of output files begin.
const PARTIAL: &str = ".socium-partial-";

/// A temporary file in `dir` for an output file whose name ends in `suffix` (`""` for none; a
/// plot's `.png` tells its encoder the format). It is created as any new file is, readable by
/// others unless the umask says otherwise (mode 0666 less the umask), where a bare temporary file
/// is private to its owner (0600) and would stay so once renamed.
pub fn temp_file_in(dir: &Path, suffix: &str) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(PARTIAL).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // Listed as it is made: a stop cannot come between the two.
    let mut own = own_partial_files();
    let file = builder.tempfile_in(dir)?;
    own.retain(|p| p.exists());
    own.push(file.path().to_owned());
    Ok(file)
}

/// Renames each temporary file (from [`temp_file_in`]) over its output, in order, then removes
/// the `stale` outputs that exist, with no stop in between (see [`remove_own_partial_files`]).
/// The first failure, with the path it concerns, ends it.
pub fn commit(
    files: Vec<(NamedTempFile, PathBuf)>,
    stale: &[PathBuf],
) -> Result<(), (PathBuf, io::Error)> {
    let _no_stop = own_partial_files();
    for (file, path) in files {
        file.persist(&path).map_err(|e| (path, e.error))?;
    }
    for path in stale {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err((path.clone(), e)),
            _ => {}
        }
    }
    Ok(())
}

/// Removes the partial files of this process that still exist: what a signal handler calls
/// before the process exits, so that an interrupted run leaves its folders as they were (or, in
/// a commit, as the commit leaves them). The guard it returns keeps any file from being made or
/// committed while it lives: hold it until the process exits.
#[must_use = "hold the guard until the process exits"]
pub fn remove_own_partial_files() -> impl Sized {
    let own = own_partial_files();
    for path in own.iter() {
        // Gone already: renamed over its output, or dropped.
        let _ = std::fs::remove_file(path);
    }
    own
}

/// Removes the partial files a killed process left in `dir` (a folder that does not exist has
/// none).
pub fn remove_partial_files(dir: &Path) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        entries => entries?,
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(PARTIAL) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_output_file_is_as_readable_as_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let file = temp_file_in(dir.path(), ".csv").unwrap();
        assert!(file.path().extension().is_some_and(|e| e == "csv"));
        let out = dir.path().join("out.csv");
        file.persist(&out).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), mode(&plain));
    }

    #[test]
    fn partial_files_left_behind_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let left = temp_file_in(dir.path(), "").unwrap().keep().unwrap().1;
        std::fs::write(dir.path().join("metrics.csv"), b"x").unwrap();
        remove_partial_files(dir.path()).unwrap();
        assert!(!left.exists());
        assert!(dir.path().join("metrics.csv").exists());
        remove_partial_files(&dir.path().join("none")).unwrap();
    }

    #[test]
    fn this_process_removes_its_own_partial_files_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let (open, left) = (
            temp_file_in(dir.path(), "").unwrap(),
            temp_file_in(dir.path(), "").unwrap(),
        );
        let renamed = temp_file_in(dir.path(), "").unwrap();
        commit(vec![(renamed, dir.path().join("summary.json"))], &[]).unwrap();
        let left = left.keep().unwrap().1;
        let other = dir.path().join(".socium-partial-of-another-process");
        std::fs::write(&other, b"x").unwrap();
        drop(remove_own_partial_files());
        assert!(!open.path().exists() && !left.exists());
        assert!(dir.path().join("summary.json").exists() && other.exists());
    }
}
