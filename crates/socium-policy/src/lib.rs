//! Socium's ONNX models, run through ONNX Runtime: batched policy controllers, and weight models
//! for episode-to-utterance attribution ([`WeightModel`]).
//!
//! An [`OnnxPolicy`] implements the kernel's [`socium_core::Policy`]: every agent that shares a
//! model is gathered into one `[batch, obs_dim]` tensor per step, across every env of a
//! `VecEnv`. The runtime is loaded at run time (`ort`'s `load-dynamic`) from the PyPI wheel
//! `onnxruntime==1.31.1`; see [`runtime`] for where it is looked for.

mod onnx;
pub mod runtime;
mod weights;

pub use onnx::{LoadError, OnnxPolicy};
pub use runtime::{ONNXRUNTIME_VERSION, RuntimeError};
pub use weights::WeightModel;
