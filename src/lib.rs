//! Socium: a fast, deterministic engine for multi-agent social simulation.
//!
//! This facade re-exports the workspace crates: [`core`] (the kernel: `Sim`, `VecEnv`, spaces,
//! social graph, utterances, rewards), [`games`] (game families), [`policy`] (ONNX policies) and
//! [`scenario`] (scenario files and runs). The end-to-end tests in `tests/` belong to it.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let file = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ipd_tournament.toml");
//! let scenario = socium::scenario::Scenario::load(file.as_ref())?;
//! let mut sim = scenario.sim()?; // reset with the scenario's seed
//! let actions = vec![0.0; sim.agent_count() * sim.spaces().action.flat_dim()];
//! while !sim.env().is_done() {
//!     sim.step(&actions)?; // only external agents' rows are read
//! }
//! // The first episode is the first round of the round robin: four matches of 200 turns.
//! assert_eq!(sim.env().clock().step(), 200);
//! # Ok(())
//! # }
//! ```

pub use socium_core as core;
pub use socium_games as games;
pub use socium_policy as policy;
pub use socium_scenario as scenario;
