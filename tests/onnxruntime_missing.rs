//! A missing or unloadable ONNX Runtime library gives one clear error saying how to install it.
//!
//! Its own test binary: the library loads once per process, so no other test may load it first.

use socium::policy::{RuntimeError, runtime};
use socium::scenario::Scenario;
use std::path::Path;

#[test]
fn a_missing_or_unloadable_library_says_how_to_install_it() {
    let missing = Path::new("/nonexistent/libonnxruntime.so.1.31.1");
    let err = runtime::environment(Some(missing)).unwrap_err();
    assert!(matches!(err, RuntimeError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the ONNX Runtime library was not found (looked at: /nonexistent/libonnxruntime.so.1.31.1); \
         install it with `pip install onnxruntime==1.31.1` (`scripts/python-env` does, into .venv) \
         and point ORT_DYLIB_PATH or --onnxruntime at its \
         onnxruntime/capi/libonnxruntime.so.1.31.1"
    );

    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&fake, "not a shared library").unwrap();
    let err = runtime::environment(Some(&fake)).unwrap_err();
    assert!(matches!(err, RuntimeError::Unloadable { .. }), "{err:?}");
    assert!(err.to_string().contains("could not be loaded"), "{err}");

    // Through a scenario, the error points at the policy that needed the library.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = "[scenario]\nname = \"x\"\nonnxruntime = \"/nonexistent/libonnxruntime.so.1.31.1\"\n\
                [game.repeated]\n[[agents]]\nstrategy = \"tft\"\n[[agents]]\n\
                policy = \"assets/policies/tft_linear.onnx\"\n";
    let err = Scenario::parse(text, &root.join("s.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "{}:8:10: `agents[1].policy`: the ONNX Runtime library was not found",
            root.join("s.toml").display()
        )),
        "{err}"
    );
}
