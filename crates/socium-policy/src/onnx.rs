//! `OnnxPolicy`: an ONNX model as a batched [`Policy`], checked against the game's spaces when
//! loaded.
//!
//! The model's contract (what `assets/policies/make_policies.py` builds):
//! - input `obs`: float32 `[batch, obs_dim]`, the batch dimension dynamic;
//! - optional input `action_mask`: float32 `[batch, mask_dim]`, 1 where a choice is legal;
//! - the **first output** is the action head, float32 `[batch, head_dim]`: logits for every
//!   discrete part, values for every `Box` part (see `Space::head_dim`);
//! - any further output is an extra (a belief head, say), float32 `[batch, k]`, kept on each agent
//!   under the output's name for the step's systems to read;
//! - a recurrent policy (an LSTM's or GRU's state, flattened) has an input `state` and an output
//!   `next_state`, both float32 `[batch, k]`: each pass is given each agent's `next_state` of its
//!   last pass this episode, zeros at the episode's start.
//!
//! Sessions are pooled: a forward pass takes an idle session or makes one, so every worker thread
//! running Sims at once has its own (`Session::run` needs `&mut`), and a `VecEnv` step, which runs
//! each policy once for all envs, uses one.

use crate::runtime::{self, RuntimeError};
use ort::{
    session::{Session, builder::GraphOptimizationLevel},
    value::{Outlet, TensorElementType, TensorRef, ValueType},
};
use socium_core::{NEXT_STATE, Policy, PolicyBatch, PolicyError, Space, Spaces};
use std::{
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// Why a model was refused. Every message names the model file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// The file does not exist or cannot be read.
    #[error("{path}: cannot read the model: {message}")]
    Unreadable {
        /// The model file.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// ONNX Runtime cannot load the file as a model.
    #[error("{path}: not a valid ONNX model: {message}")]
    NotOnnx {
        /// The model file.
        path: PathBuf,
        /// What ONNX Runtime said.
        message: String,
    },
    /// The model's inputs or outputs are not the ones a policy has.
    #[error("{path}: {message}")]
    Signature {
        /// The model file.
        path: PathBuf,
        /// What is missing or unexpected.
        message: String,
    },
    /// A tensor's element type is not float32.
    #[error("{path}: {tensor}: expected float32, found {found}")]
    DataType {
        /// The model file.
        path: PathBuf,
        /// `input `obs`` or `output `logits``.
        tensor: String,
        /// The model's type.
        found: String,
    },
    /// A tensor's shape does not fit the game's spaces.
    #[error("{path}: {tensor}: expected shape {expected}, found {found}")]
    Shape {
        /// The model file.
        path: PathBuf,
        /// `input `obs`` or `output `logits``.
        tensor: String,
        /// What the game needs, e.g. `[batch, 13]`.
        expected: String,
        /// The model's shape, `-1` for dynamic dimensions.
        found: String,
    },
    /// The action head's width is not what the action space needs.
    #[error(
        "{path}: output `{tensor}` gives {found} values per agent, but the action space {space} \
         needs {expected} (a logit per discrete choice, a value per Box dimension)"
    )]
    ActionCount {
        /// The model file.
        path: PathBuf,
        /// The head's name.
        tensor: String,
        /// The game's action space.
        space: String,
        /// Values the space needs.
        expected: usize,
        /// Values the model gives.
        found: i64,
    },
    /// The ONNX Runtime library is missing or unloadable.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// An ONNX model acting for every agent that shares it.
pub struct OnnxPolicy {
    name: String,
    path: PathBuf,
    model: Vec<u8>,
    obs_dim: usize,
    mask_dim: usize,
    head_dim: usize,
    takes_mask: bool,
    /// The width of `state` and `next_state` (0: not recurrent).
    state_width: usize,
    extras: Vec<(String, usize)>,
    idle: Mutex<Vec<Pooled>>,
    calls: AtomicU64,
    /// Nanoseconds spent in forward passes.
    nanos: AtomicU64,
}

/// A session and the float copy of the masks it feeds.
struct Pooled {
    session: Session,
    mask: Vec<f32>,
}

const OBS: &str = "obs";
const MASK: &str = "action_mask";
const STATE: &str = "state";

impl OnnxPolicy {
    /// Loads the model at `path` for a game with `spaces`, checking its inputs and outputs;
    /// `runtime` is the ONNX Runtime library to load if none is loaded yet (see [`runtime`]).
    pub fn load(
        path: &Path,
        spaces: &Spaces,
        runtime: Option<&Path>,
    ) -> Result<OnnxPolicy, LoadError> {
        let model = read(path)?;
        let mut policy = OnnxPolicy {
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            ),
            path: path.to_owned(),
            model,
            obs_dim: spaces.observation.flat_dim(),
            mask_dim: spaces.action.mask_dim(),
            head_dim: spaces.action.head_dim(),
            takes_mask: false,
            state_width: 0,
            extras: Vec::new(),
            idle: Mutex::new(Vec::new()),
            calls: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
        };
        runtime::environment(runtime)?;
        let session = policy.session()?;
        policy.check_signature(&session.session, &spaces.action)?;
        policy.idle.get_mut().expect("not shared yet").push(session);
        Ok(policy)
    }

    /// Forward passes run so far (one per policy per step, whatever the number of envs).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Wall time spent in forward passes so far (ONNX Runtime's share of a step).
    pub fn forward_time(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the model takes the action masks (its input `action_mask`).
    pub fn takes_mask(&self) -> bool {
        self.takes_mask
    }

    /// A new single-threaded session of the model (parallelism comes from many Sims).
    fn session(&self) -> Result<Pooled, LoadError> {
        Ok(Pooled {
            session: commit(&self.path, &self.model)?,
            mask: Vec::new(),
        })
    }

    fn check_signature(&mut self, session: &Session, action: &Space) -> Result<(), LoadError> {
        let path = || self.path.clone();
        let signature = |message: String| LoadError::Signature {
            path: path(),
            message,
        };
        let expected_inputs = if self.mask_dim > 0 {
            format!(
                "`{OBS}` [batch, {}] and optionally `{MASK}` [batch, {}]",
                self.obs_dim, self.mask_dim
            )
        } else {
            format!("`{OBS}` [batch, {}]", self.obs_dim)
        };
        let mut state_in = None;
        for input in session.inputs() {
            let width = match input.name() {
                OBS => Some(self.obs_dim),
                MASK if self.mask_dim > 0 => {
                    self.takes_mask = true;
                    Some(self.mask_dim)
                }
                STATE => None,
                other => {
                    return Err(signature(format!(
                        "unexpected input `{other}`; a policy takes {expected_inputs}, and a \
                         recurrent one `{STATE}` [batch, k]"
                    )));
                }
            };
            let tensor = format!("input `{}`", input.name());
            let found = batch_width(&path(), &tensor, input, width)?;
            if input.name() == STATE {
                state_in = Some(found);
            }
        }
        if !session.inputs().iter().any(|i| i.name() == OBS) {
            return Err(signature(format!(
                "no input `{OBS}`; a policy takes {expected_inputs}"
            )));
        }
        let Some((head, extras)) = session.outputs().split_first() else {
            return Err(signature(
                "no outputs; the first output must be the action head".into(),
            ));
        };
        let tensor = format!("output `{}`", head.name());
        let found = batch_width(&path(), &tensor, head, None)?;
        if found != self.head_dim as i64 {
            return Err(LoadError::ActionCount {
                path: path(),
                tensor: head.name().to_owned(),
                space: action.to_string(),
                expected: self.head_dim,
                found,
            });
        }
        for extra in extras {
            let tensor = format!("output `{}`", extra.name());
            let width = batch_width(&path(), &tensor, extra, None)?;
            if width < 1 {
                return Err(LoadError::Shape {
                    path: path(),
                    tensor,
                    expected: "[batch, k] with a fixed k".into(),
                    found: format!("[batch, {width}]"),
                });
            }
            self.extras.push((extra.name().to_owned(), width as usize));
        }
        let state_out = (self.extras.iter()).find(|(name, _)| name == NEXT_STATE);
        match (state_in, state_out) {
            (None, None) => {}
            (Some(k), Some(&(_, width))) if k == width as i64 => self.state_width = width,
            (Some(k), Some(&(_, width))) => {
                return Err(signature(format!(
                    "input `{STATE}` is [batch, {k}] but output `{NEXT_STATE}` [batch, \
                     {width}]: a recurrent state is read back at the next pass, so the widths \
                     must agree"
                )));
            }
            (Some(k), None) => {
                return Err(signature(format!(
                    "input `{STATE}` [batch, {k}] needs an output `{NEXT_STATE}` of the same \
                     width, the state to read back at the next pass"
                )));
            }
            (None, Some(&(_, width))) => {
                return Err(signature(format!(
                    "output `{NEXT_STATE}` [batch, {width}] needs an input `{STATE}` of the \
                     same width to read it back"
                )));
            }
        }
        Ok(())
    }

    /// One forward pass on a pooled session.
    fn run(&self, pooled: &mut Pooled, batch: PolicyBatch<'_>) -> Result<(), String> {
        let rows = batch.rows;
        let tensor = |width: usize, values| {
            TensorRef::from_array_view(([rows, width], values)).map_err(|e| e.message().to_owned())
        };
        let mut inputs = vec![(OBS, tensor(self.obs_dim, batch.obs)?)];
        if self.takes_mask {
            pooled.mask.clear();
            pooled
                .mask
                .extend(batch.masks.iter().map(|&m| f32::from(m)));
            inputs.push((MASK, tensor(self.mask_dim, &pooled.mask[..])?));
        }
        if self.state_width > 0 {
            inputs.push((STATE, tensor(self.state_width, batch.state)?));
        }
        let outputs = (pooled.session.run(inputs)).map_err(|e| e.message().to_owned())?;
        let output = |i: usize, width: usize| {
            let (shape, data) = outputs[i]
                .try_extract_tensor::<f32>()
                .map_err(|e| e.message().to_owned())?;
            if **shape != [rows as i64, width as i64] {
                return Err(format!(
                    "output {i} has shape {shape}, expected [{rows}, {width}]"
                ));
            }
            Ok(data)
        };
        batch.head.copy_from_slice(output(0, self.head_dim)?);
        let extras_dim: usize = self.extras.iter().map(|(_, w)| w).sum();
        let mut offset = 0;
        for (i, (_, width)) in self.extras.iter().enumerate() {
            let data = output(i + 1, *width)?;
            for (row, values) in batch.extras.chunks_mut(extras_dim).zip(data.chunks(*width)) {
                row[offset..offset + width].copy_from_slice(values);
            }
            offset += width;
        }
        Ok(())
    }
}

/// The bytes of the model file at `path`.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|e| LoadError::Unreadable {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// A new single-threaded session of `model` (read from `path`), on the process's environment.
pub(crate) fn commit(path: &Path, model: &[u8]) -> Result<Session, LoadError> {
    let env = runtime::environment(None)?;
    Session::builder(&env)
        .and_then(|b| Ok(b.with_intra_threads(1)?))
        .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::All)?))
        .and_then(|mut b| b.commit_from_memory(model))
        .map_err(|e| LoadError::NotOnnx {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })
}

/// Checks that `outlet` is a float32 `[batch, width]` tensor with a dynamic batch dimension
/// (and the given width), and returns its width.
pub(crate) fn batch_width(
    path: &Path,
    tensor: &str,
    outlet: &Outlet,
    width: Option<usize>,
) -> Result<i64, LoadError> {
    let expected = format!("[batch, {}]", width.map_or("k".into(), |w| w.to_string()));
    let ValueType::Tensor { ty, shape, .. } = outlet.dtype() else {
        return Err(LoadError::Shape {
            path: path.to_owned(),
            tensor: tensor.to_owned(),
            expected,
            found: outlet.dtype().to_string(),
        });
    };
    if *ty != TensorElementType::Float32 {
        return Err(LoadError::DataType {
            path: path.to_owned(),
            tensor: tensor.to_owned(),
            found: format!("{ty:?}").to_lowercase(),
        });
    }
    let fits = shape.len() == 2 && shape[0] < 0 && width.is_none_or(|w| shape[1] == w as i64);
    if !fits {
        return Err(LoadError::Shape {
            path: path.to_owned(),
            tensor: tensor.to_owned(),
            expected: expected + " with a dynamic batch dimension",
            found: shape.to_string(),
        });
    }
    Ok(shape[1])
}

impl Policy for OnnxPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn extras(&self) -> &[(String, usize)] {
        &self.extras
    }

    fn state_width(&self) -> usize {
        self.state_width
    }

    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), PolicyError> {
        let start = Instant::now();
        self.calls.fetch_add(1, Ordering::Relaxed);
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut pooled = match pooled {
            Some(p) => p,
            None => self.session().map_err(|e| e.to_string())?,
        };
        let result = self.run(&mut pooled, batch);
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pooled);
        let nanos = start.elapsed().as_nanos().try_into().unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        result.map_err(PolicyError::from)
    }
}

impl std::fmt::Debug for OnnxPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxPolicy")
            .field("path", &self.path)
            .field("extras", &self.extras)
            .finish()
    }
}
