//! Finding and loading the ONNX Runtime shared library: one `ort` environment per process.
//!
//! Nothing is downloaded at build time: the library comes from the PyPI wheel
//! `onnxruntime==1.31.1` (its `onnxruntime/capi/libonnxruntime.so.1.31.1`). It is looked for, in
//! order: the path the caller gives (`--onnxruntime`, a scenario's `onnxruntime`), the
//! `ORT_DYLIB_PATH` environment variable, the library a host process [`prefer`]s (the Python
//! package names the one of the `onnxruntime` package it can import), the active Python
//! environment (`VIRTUAL_ENV`), and a `.venv` in the working directory, the executable's directory
//! or any of their parents (the one `scripts/python-env` makes). The first library loaded serves
//! the whole process.

use ort::environment::Environment;
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

/// The ONNX Runtime version Socium is built and tested against.
pub const ONNXRUNTIME_VERSION: &str = "1.31.1";

/// Why the ONNX Runtime library is not available.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuntimeError {
    /// No library at any place looked at.
    #[error(
        "the ONNX Runtime library was not found (looked at: {}); install it with \
         `pip install onnxruntime=={ONNXRUNTIME_VERSION}` (`scripts/python-env` does, into .venv) \
         and point ORT_DYLIB_PATH or --onnxruntime at its onnxruntime/capi/libonnxruntime.so.{ONNXRUNTIME_VERSION}",
        .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound {
        /// Every path or pattern looked at, in order.
        searched: Vec<PathBuf>,
    },
    /// A file was found but is not a loadable ONNX Runtime.
    #[error(
        "the ONNX Runtime library `{path}` could not be loaded: {message}; it should be \
         onnxruntime/capi/libonnxruntime.so.{ONNXRUNTIME_VERSION} from `pip install onnxruntime=={ONNXRUNTIME_VERSION}`"
    )]
    Unloadable {
        /// The file.
        path: PathBuf,
        /// What the loader said.
        message: String,
    },
}

static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);
static PREFERRED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Names the library to load when neither the caller nor `ORT_DYLIB_PATH` names one (nothing is
/// loaded until a policy needs it).
pub fn prefer(library: PathBuf) {
    *PREFERRED.lock().unwrap_or_else(|e| e.into_inner()) = Some(library);
}

/// The process's `ort` environment, loading the library on first use (`explicit` first, then the
/// places in the module doc). Later calls return the same environment whatever they pass.
pub fn environment(explicit: Option<&Path>) -> Result<Environment, RuntimeError> {
    let mut env = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(env) = &*env {
        return Ok(env.clone());
    }
    let given = explicit
        .map(Path::to_owned)
        .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from));
    let venvs = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .into_iter()
        .chain(search_roots().into_iter().map(|r| r.join(".venv")));
    let preferred = PREFERRED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let path = locate(given, preferred, venvs)?;
    let unloadable = |message: String| RuntimeError::Unloadable {
        path: path.clone(),
        message,
    };
    let built = ort::init_from(&path)
        .map_err(|e| unloadable(e.to_string()))?
        .with_name("socium")
        .build()
        .map_err(|e| unloadable(e.to_string()))?;
    *env = Some(built.clone());
    Ok(built)
}

/// The directories whose `.venv` may hold the library: the working directory, the executable's
/// directory, and their parents.
fn search_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let starts = [
        std::env::current_dir().ok(),
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_owned)),
    ];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            if !roots.iter().any(|r| r == dir) {
                roots.push(dir.to_owned());
            }
        }
    }
    roots
}

/// The library's path: `given` (which must exist) if any, else `preferred` if it exists, else the
/// first of `venvs` that has one.
fn locate(
    given: Option<PathBuf>,
    preferred: Option<PathBuf>,
    venvs: impl IntoIterator<Item = PathBuf>,
) -> Result<PathBuf, RuntimeError> {
    let mut searched = Vec::new();
    if let Some(path) = given.filter(|p| !p.as_os_str().is_empty()) {
        if path.is_file() {
            return Ok(path);
        }
        searched.push(path);
        return Err(RuntimeError::NotFound { searched });
    }
    if let Some(path) = preferred {
        if path.is_file() {
            return Ok(path);
        }
        searched.push(path);
    }
    for venv in venvs {
        let pattern = venv.join("lib/python3*/site-packages/onnxruntime/capi");
        if let Some(found) = in_venv(&venv) {
            return Ok(found);
        }
        searched.push(pattern.join(library_name()));
    }
    Err(RuntimeError::NotFound { searched })
}

/// `libonnxruntime.so.<version>` (or the platform's name for it).
fn library_name() -> String {
    let (prefix, suffix) = (std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    if cfg!(target_os = "linux") {
        format!("{prefix}onnxruntime{suffix}.{ONNXRUNTIME_VERSION}")
    } else {
        format!("{prefix}onnxruntime.{ONNXRUNTIME_VERSION}{suffix}")
    }
}

/// The library in `venv/lib/python3*/site-packages/onnxruntime/capi`, if there is one.
fn in_venv(venv: &Path) -> Option<PathBuf> {
    let mut pythons: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("python3"))
        })
        .collect();
    pythons.sort();
    pythons
        .into_iter()
        .map(|p| {
            p.join("site-packages/onnxruntime/capi")
                .join(library_name())
        })
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_must_exist() {
        let missing = Path::new("/nonexistent/libonnxruntime.so");
        let venv = tempfile::tempdir().unwrap();
        let found = venv.path().join("libonnxruntime.so");
        std::fs::write(&found, b"").unwrap();
        // A given path that is missing is an error, even when another library is at hand.
        let err = locate(Some(missing.to_owned()), Some(found), []).unwrap_err();
        assert_eq!(
            err,
            RuntimeError::NotFound {
                searched: vec![missing.to_owned()]
            }
        );
        let text = err.to_string();
        assert!(text.contains("/nonexistent/libonnxruntime.so"), "{text}");
        assert!(text.contains("pip install onnxruntime==1.31.1"), "{text}");
    }

    #[test]
    fn the_lookup_order_is_given_then_preferred_then_the_venvs_in_order() {
        // ORT_DYLIB_PATH or --onnxruntime (given), then the host's library (the Python package's
        // own, preferred), then each venv in turn: each found where all of them have one.
        let root = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let path = root.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"").unwrap();
            path
        };
        let (given, preferred) = (file("given/lib.so"), file("package/lib.so"));
        let capi = |venv: &str| format!("{venv}/lib/python3.11/site-packages/onnxruntime/capi");
        let (first, second) = (
            file(&format!("{}/{}", capi("a/.venv"), library_name())),
            file(&format!("{}/{}", capi("b/.venv"), library_name())),
        );
        let venvs = || [root.path().join("a/.venv"), root.path().join("b/.venv")];
        let found = |g: Option<&PathBuf>, p: Option<&PathBuf>| {
            locate(g.cloned(), p.cloned(), venvs()).unwrap()
        };
        assert_eq!(found(Some(&given), Some(&preferred)), given);
        assert_eq!(found(None, Some(&preferred)), preferred);
        let gone = root.path().join("package/missing.so");
        assert_eq!(
            found(None, Some(&gone)),
            first,
            "a missing preferred library is passed over"
        );
        std::fs::remove_file(&first).unwrap();
        assert_eq!(found(None, None), second);
    }

    #[test]
    fn finds_the_library_in_a_project_venv() {
        let root = tempfile::tempdir().unwrap();
        let capi = root
            .path()
            .join(".venv/lib/python3.11/site-packages/onnxruntime/capi");
        let venvs = [root.path().join("sub/.venv"), root.path().join(".venv")];
        let err = locate(None, None, venvs.clone()).unwrap_err();
        let RuntimeError::NotFound { searched } = err else {
            panic!("{err}")
        };
        assert_eq!(searched.len(), 2, "{searched:?}");
        std::fs::create_dir_all(&capi).unwrap();
        std::fs::write(capi.join(library_name()), b"").unwrap();
        assert_eq!(
            locate(None, None, venvs).unwrap(),
            capi.join(library_name())
        );
    }
}
