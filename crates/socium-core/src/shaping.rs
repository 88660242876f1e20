//! Potential-based shaping (Ng, Harada & Russell 1999, "Policy invariance under reward
//! transformations: theory and application to reward shaping", ICML): a game declares named
//! potentials `Φ` of each agent's state ([`PotentialInfo`]) and writes their values at every
//! reset and after every step ([`Potentials`]); a scenario's `[shaping.<potential>]` adds
//! `weight · (γ·Φ(s') − Φ(s))` to every agent's scalar reward of the step. Such shaping leaves
//! the optimal policies unchanged; with γ = 1 an episode's shaped return differs from the
//! unshaped one by exactly `weight · (Φ(s_T) − Φ(s_0))`.

use crate::{AgentId, bounded::Finite};
use bevy_ecs::component::Component;
use serde::Deserialize;

/// A potential a game declares.
#[derive(Debug, PartialEq)]
pub struct PotentialInfo {
    /// Name in scenario files (`[shaping.<name>]`).
    pub name: &'static str,
    /// One line for `socium list`.
    pub summary: &'static str,
}

/// Index of a potential in its game's [`PotentialInfo`] list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PotentialId(pub u16);

/// `[shaping.<potential>]`: the shaping term of one potential.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapingSpec {
    /// The discount γ of `γ·Φ(s') − Φ(s)` (default 1).
    #[serde(default = "one")]
    pub gamma: Finite,
    /// The term's weight in the scalar reward (default 1).
    #[serde(default = "one")]
    pub weight: Finite,
}

fn one() -> Finite {
    Finite::new(1.0).expect("finite")
}

/// Each agent's value of each potential of the game: the game writes them in `Observe`, after
/// every reset (the start state) and every step (the state reached); the kernel shapes the
/// step's rewards with the change. Values are kept only when the scenario shapes with them
/// ([`crate::GameBuilder::shapes`]); otherwise writing them costs nothing.
#[derive(Component, Clone, Debug)]
pub struct Potentials {
    /// `[agents × potentials]`, as the game last wrote them (empty when none is kept).
    pub(crate) values: Vec<f64>,
    /// The values at the start of the step.
    pub(crate) before: Vec<f64>,
    pub(crate) count: usize,
    /// Whether the values are kept.
    kept: bool,
}

impl Potentials {
    /// `count` potentials for `agents` agents, kept if `kept`.
    pub(crate) fn new(agents: usize, count: usize, kept: bool) -> Self {
        let len = if kept { agents * count } else { 0 };
        Potentials {
            values: vec![0.0; len],
            before: vec![0.0; len],
            count,
            kept,
        }
    }

    /// Sets agent `a`'s value of potential `p` (nothing when the scenario does not shape).
    ///
    /// # Panics
    /// If the game declares no potential `p`: a bug in the game.
    #[inline]
    pub fn set(&mut self, a: AgentId, p: PotentialId, value: f64) {
        let p = p.0 as usize;
        assert!(p < self.count, "potential {p} is not declared");
        if self.kept {
            self.values[a.index() * self.count + p] = value;
        }
    }

    /// Agent `a`'s value of potential `p`, as last written (0 when values are not kept).
    pub fn get(&self, a: AgentId, p: PotentialId) -> f64 {
        let i = a.index() * self.count + p.0 as usize;
        self.values.get(i).copied().unwrap_or(0.0)
    }

    /// Agent `a`'s shaping term of the step just played, `Σ weight · (γ·Φ(s') − Φ(s))` over
    /// the `shaping` (potential, spec) pairs; and the step's values become the next one's start.
    pub(crate) fn term(&self, a: AgentId, shaping: &[(PotentialId, ShapingSpec)]) -> f64 {
        shaping
            .iter()
            .map(|(p, s)| {
                let i = a.index() * self.count + p.0 as usize;
                s.weight.get() * (s.gamma.get() * self.values[i] - self.before[i])
            })
            .sum()
    }

    /// Takes the values just written as the start of the next step.
    pub(crate) fn advance(&mut self) {
        self.before.copy_from_slice(&self.values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_term_is_gamma_times_the_new_value_less_the_old() {
        let mut p = Potentials::new(2, 2, true);
        p.set(AgentId(1), PotentialId(1), 4.0);
        p.advance();
        p.set(AgentId(1), PotentialId(1), 10.0);
        let spec = ShapingSpec {
            gamma: Finite::new(0.5).unwrap(),
            weight: Finite::new(2.0).unwrap(),
        };
        assert_eq!(
            p.term(AgentId(1), &[(PotentialId(1), spec)]),
            2.0 * (0.5 * 10.0 - 4.0)
        );
        assert_eq!(p.term(AgentId(0), &[(PotentialId(1), spec)]), 0.0);
        assert_eq!(p.get(AgentId(1), PotentialId(1)), 10.0);
    }

    #[test]
    #[should_panic(expected = "potential 2 is not declared")]
    fn writing_an_undeclared_potential_is_a_bug() {
        Potentials::new(1, 2, false).set(AgentId(0), PotentialId(2), 1.0);
    }
}
