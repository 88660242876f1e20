//! `WeightModel`: an ONNX model that weighs an agent's utterances for episode-to-utterance
//! attribution (see `socium_core::attribution`), from what the agent saw when it spoke.
//!
//! The model's contract:
//! - input `obs`: float32 `[batch, obs_dim]`, the batch dimension dynamic: a row per utterance,
//!   the speaker's observation at that step;
//! - the **first output**: float32 `[batch, 1]` (one weight per utterance, for every dimension)
//!   or `[batch, dims]` (a weight per reward dimension). Weights are relative: an agent's score
//!   is split in their proportions; negative weights count as 0.

use crate::{
    LoadError,
    onnx::{batch_width, commit, read},
    runtime,
};
use ort::{session::Session, value::TensorRef};
use std::{path::Path, sync::Mutex};

const OBS: &str = "obs";

/// An ONNX model giving a weight per utterance (and per reward dimension).
pub struct WeightModel {
    path: std::path::PathBuf,
    obs_dim: usize,
    dims: usize,
    /// Whether the model gives one weight per dimension (else one for all).
    per_dimension: bool,
    session: Mutex<Session>,
}

impl WeightModel {
    /// Loads the model at `path` for observations of `obs_dim` and `dims` reward dimensions,
    /// checking its signature; `runtime` as for [`crate::OnnxPolicy::load`].
    pub fn load(
        path: &Path,
        obs_dim: usize,
        dims: usize,
        runtime: Option<&Path>,
    ) -> Result<WeightModel, LoadError> {
        runtime::environment(runtime)?;
        let session = commit(path, &read(path)?)?;
        let signature = |message: String| LoadError::Signature {
            path: path.to_owned(),
            message,
        };
        match session.inputs() {
            [input] if input.name() == OBS => {
                batch_width(path, "input `obs`", input, Some(obs_dim))?;
            }
            inputs => {
                let names: Vec<&str> = inputs.iter().map(|i| i.name()).collect();
                return Err(signature(format!(
                    "a weight model takes one input `{OBS}` [batch, {obs_dim}], found [{}]",
                    names.join(", ")
                )));
            }
        }
        let Some(output) = session.outputs().first() else {
            return Err(signature(
                "no outputs; the first output must be the weights".into(),
            ));
        };
        let tensor = format!("output `{}`", output.name());
        let width = batch_width(path, &tensor, output, None)?;
        if width != 1 && width != dims as i64 {
            return Err(LoadError::Shape {
                path: path.to_owned(),
                tensor,
                expected: format!("[batch, 1] or [batch, {dims}] (a weight per dimension)"),
                found: format!("[batch, {width}]"),
            });
        }
        Ok(WeightModel {
            path: path.to_owned(),
            obs_dim,
            dims,
            per_dimension: width != 1,
            session: Mutex::new(session),
        })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The weights of the utterances whose observations are `observations` (`[rows × obs_dim]`),
    /// `[rows × dims]`.
    pub fn weigh(&self, observations: &[f32]) -> Result<Vec<f64>, String> {
        let rows = observations.len() / self.obs_dim.max(1);
        if rows == 0 {
            return Ok(Vec::new());
        }
        let width = if self.per_dimension { self.dims } else { 1 };
        let obs = TensorRef::from_array_view(([rows, self.obs_dim], observations))
            .map_err(|e| e.message().to_owned())?;
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session
            .run(ort::inputs![OBS => obs])
            .map_err(|e| e.message().to_owned())?;
        let (shape, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| e.message().to_owned())?;
        if **shape != [rows as i64, width as i64] {
            return Err(format!(
                "{}: the weights have shape {shape}, expected [{rows}, {width}]",
                self.path.display()
            ));
        }
        Ok(data
            .chunks(width)
            .flat_map(|row| (0..self.dims).map(move |k| f64::from(row[k.min(width - 1)])))
            .collect())
    }
}

impl std::fmt::Debug for WeightModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeightModel")
            .field("path", &self.path)
            .field("per_dimension", &self.per_dimension)
            .finish()
    }
}
