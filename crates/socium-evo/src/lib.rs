//! Evolutionary dynamics for Socium: how a population of strategies changes from one update to
//! the next, given every individual's fitness.
//!
//! The update rules of issue 5 — Moran birth–death and death–birth (on a social graph or well
//! mixed) and pairwise-comparison (Fermi) imitation — work on a population of type indices and
//! are tested against exact fixation probabilities on their own. [`evolve`] plays one episode of
//! a game per generation with the population's strategies and reproduces by one of those rules
//! or in proportion to payoff (Nowak & Sigmund 1998). [`run_scenario`] plays one run of a
//! scenario's `[evolution]` (what `socium evolve` runs many of in parallel): types whose numeric
//! parameters drift by mutation ([`Drift`]), checkpointed after every generation so that a killed
//! run resumes exactly ([`RunCheckpoint`]).

mod checkpoint;
mod run;
mod update;

pub use checkpoint::{CheckpointError, RunCheckpoint};
pub use run::{
    Evolution, EvolveError, Generation, Phase, Reproduction, ScenarioRun, evolve, run_scenario,
};
pub use update::{Drift, Fitness, Population, UpdateRule, Variant};
