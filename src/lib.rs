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
//!
//! Many envs step together in a `VecEnv`, whose rows every step rewrites in place:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use socium::core::VecEnv;
//! let file = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/donor_learner.toml");
//! let scenario = socium::scenario::Scenario::load(file.as_ref())?;
//! let (game, config) = (&*scenario.game, &scenario.config);
//! let mut envs = VecEnv::new(game, config, &VecEnv::seeds(1, 64))?;
//! envs.reset(None)?;
//! let actions = vec![0.5; envs.outputs().actions.len()]; // only external agents' rows are read
//! envs.step(&actions)?;
//! let out = envs.outputs(); // `[envs × agents × ...]` each, lent: clone what must outlive a step
//! assert_eq!(out.rewards.len(), 64 * envs.agent_count());
//! assert!(out.actions.chunks(envs.agent_count()).all(|env| env[0] == 0.5));
//! # Ok(())
//! # }
//! ```

pub use socium_core as core;
pub use socium_games as games;
pub use socium_policy as policy;
pub use socium_scenario as scenario;
