//! Checkpoints of evolutionary runs: after every generation a run appends the generation to its
//! history file and rewrites a small state file (temporary file + rename), so a killed run
//! resumes exactly where its last state says — and its outputs equal an uninterrupted run's.

use crate::{Generation, Variant};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
};

/// Why a checkpoint was refused. Nothing is overwritten when one is.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file cannot be parsed, or the history is shorter than the state says.
    #[error("{}: corrupt or truncated checkpoint: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint was written for another scenario, seed, settings or version.
    #[error(
        "{}: checkpoint of another setup ({what}); resume with the same scenario, overrides, \
         seed and generations, or choose another --out",
        path.display()
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What differs.
        what: String,
    },
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What a state file holds.
#[derive(Serialize, Deserialize)]
struct State {
    version: String,
    fingerprint: u64,
    run: u64,
    /// Generations played.
    generation: usize,
    types: Vec<usize>,
    /// The variants the types index (founders first).
    variants: Vec<Variant>,
    rng_seed: [u8; 32],
    rng_stream: u64,
    /// ChaCha word position, as text (JSON numbers stop short of u128).
    rng_word_pos: String,
}

/// A run's position, as saved or to resume from.
pub(crate) struct Saved {
    pub generation: usize,
    pub types: Vec<usize>,
    pub variants: Vec<Variant>,
    pub rng: ChaCha8Rng,
    pub history: Vec<Generation>,
}

/// The checkpoint files of one run in a folder, for one setup (the fingerprint).
#[derive(Clone, Debug)]
pub struct RunCheckpoint {
    state: PathBuf,
    history: PathBuf,
    run: u64,
    fingerprint: u64,
    pause_at: Option<usize>,
}

impl RunCheckpoint {
    /// Run `run`'s checkpoint in `dir` for the setup `fingerprint` (a hash of everything that
    /// determines the run).
    pub fn new(dir: &Path, run: u64, fingerprint: u64) -> Self {
        RunCheckpoint {
            state: dir.join(format!("run-{run}.json")),
            history: dir.join(format!("run-{run}.history.jsonl")),
            run,
            fingerprint,
            pause_at: None,
        }
    }

    /// The same checkpoint, but the run stops ([`EvolveError::Paused`]) once it has saved
    /// generation `generation`, to be resumed from there.
    ///
    /// [`EvolveError::Paused`]: crate::EvolveError::Paused
    pub fn pausing_at(self, generation: usize) -> Self {
        RunCheckpoint {
            pause_at: Some(generation),
            ..self
        }
    }

    /// The generation the run pauses at, if any.
    pub(crate) fn pause_at(&self) -> Option<usize> {
        self.pause_at
    }

    /// Which run this is.
    pub(crate) fn run(&self) -> u64 {
        self.run
    }

    /// The generation a resumed run starts after: its saved one, where it has a checkpoint of
    /// this setup (a progress bar's starting point; the run itself checks the rest).
    pub fn generation(&self) -> Option<usize> {
        let text = fs::read_to_string(&self.state).ok()?;
        let state: State = serde_json::from_str(&text).ok()?;
        (state.fingerprint == self.fingerprint && state.run == self.run).then_some(state.generation)
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
        move |source| CheckpointError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// The saved position, if the run has one; refuses corrupt or foreign checkpoints.
    pub(crate) fn load(&self) -> Result<Option<Saved>, CheckpointError> {
        let text = match fs::read_to_string(&self.state) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // No state, so no generation was saved: a history line is one appended before
                // the first state's write failed or was killed, which the run, starting over,
                // appends again.
                return match fs::remove_file(&self.history) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(Self::io(&self.history)(e))
                    }
                    _ => Ok(None),
                };
            }
            Err(e) => return Err(Self::io(&self.state)(e)),
        };
        let corrupt = |path: &Path, reason: String| CheckpointError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let state: State =
            serde_json::from_str(&text).map_err(|e| corrupt(&self.state, e.to_string()))?;
        let foreign = |what: String| CheckpointError::Foreign {
            path: self.state.clone(),
            what,
        };
        if state.version != env!("CARGO_PKG_VERSION") {
            return Err(foreign(format!(
                "socium {} instead of {}",
                state.version,
                env!("CARGO_PKG_VERSION")
            )));
        }
        if state.fingerprint != self.fingerprint || state.run != self.run {
            return Err(foreign(
                "scenario, the files it reads, overrides, seed or generations differ".into(),
            ));
        }
        let word_pos: u128 = state
            .rng_word_pos
            .parse()
            .map_err(|_| corrupt(&self.state, "bad rng position".into()))?;
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::from_seed(state.rng_seed);
        rng.set_stream(state.rng_stream);
        rng.set_word_pos(word_pos);
        let lines = fs::read_to_string(&self.history).map_err(Self::io(&self.history))?;
        let history = lines
            .lines()
            .take(state.generation)
            .map(|l| serde_json::from_str(l).map_err(|e| corrupt(&self.history, e.to_string())))
            .collect::<Result<Vec<Generation>, _>>()?;
        if history.len() != state.generation {
            let reason = format!(
                "{} generations in the history, {} in the state",
                history.len(),
                state.generation
            );
            return Err(corrupt(&self.history, reason));
        }
        // Drop generations appended after the last state (a kill between the two writes).
        let kept: String = lines
            .lines()
            .take(state.generation)
            .map(|l| format!("{l}\n"))
            .collect();
        if kept.len() != lines.len() {
            replace(&self.history, kept.as_bytes())?;
        }
        Ok(Some(Saved {
            generation: state.generation,
            types: state.types,
            variants: state.variants,
            rng,
            history,
        }))
    }

    /// Appends the newest generation to the history, then writes the state.
    pub(crate) fn save(&self, saved: &Saved) -> Result<(), CheckpointError> {
        let newest = saved.history.last().expect("saved after a generation");
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.history)
            .map_err(Self::io(&self.history))?;
        let line = serde_json::to_string(newest).expect("generations serialise") + "\n";
        file.write_all(line.as_bytes())
            .map_err(Self::io(&self.history))?;
        let state = State {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            fingerprint: self.fingerprint,
            run: self.run,
            generation: saved.generation,
            types: saved.types.clone(),
            variants: saved.variants.clone(),
            rng_seed: saved.rng.get_seed(),
            rng_stream: saved.rng.get_stream(),
            rng_word_pos: saved.rng.get_word_pos().to_string(),
        };
        replace(
            &self.state,
            serde_json::to_string(&state)
                .expect("states serialise")
                .as_bytes(),
        )
    }
}

/// Writes `path` through a temporary file in its folder and a rename.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = socium_scenario::temp_file_in(dir, "").map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    socium_scenario::commit(vec![(file, path.to_owned())], &[]).map_err(|(_, e)| io(e))?;
    Ok(())
}
