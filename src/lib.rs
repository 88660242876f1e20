//! Socium: a fast, deterministic engine for multi-agent social simulation.
//!
//! This facade re-exports the workspace crates: [`core`] (the kernel: `Sim`, `VecEnv`, spaces,
//! social graph, utterances, rewards), [`games`] (game families) and [`scenario`] (scenario files
//! and runs). The end-to-end tests in `tests/` belong to it.

pub use socium_core as core;
pub use socium_games as games;
pub use socium_scenario as scenario;
