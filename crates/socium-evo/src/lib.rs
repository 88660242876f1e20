//! Evolutionary dynamics for Socium: how a population of strategies changes from one update to
//! the next, given every individual's fitness.
//!
//! This crate holds the update rules of issue 5 — Moran birth–death and death–birth (on a social
//! graph or well mixed), pairwise-comparison (Fermi) imitation and payoff-proportional
//! reproduction — as functions over a population of type indices, so that they are tested
//! against exact results on their own. Batch runs (`socium evolve`), genomes, checkpoints and
//! plots build on them.

mod update;

pub use update::{Fitness, Population, UpdateRule};
