//! Potential-based shaping (Ng, Harada & Russell 1999, "Policy invariance under reward
//! transformations: theory and application to reward shaping", ICML): a game declares named
//! potentials `Φ` of each agent's state ([`PotentialInfo`]) and writes their values at every
//! reset and after every step ([`Potentials`]); a scenario's `[shaping.<potential>]` adds
//! `weight · (γ·Φ(s') − Φ(s))` to every agent's scalar reward of the step. In an episode the
//! potential of the absorbing state is 0 (Ng et al.'s condition for episodic tasks; Grześ 2017,
//! "Reward shaping in episodic reinforcement learning", AAMAS): at the step that ends an
//! agent's game (terminated) the term is `−weight · Φ(s)`, and 0 after; at a step the step limit
//! cuts short (truncated) `s'` is no end, and keeps its potential, which a trainer bootstraps
//! from. Such shaping leaves the optimal policies unchanged; with γ = 1 an episode's shaped return
//! differs from the unshaped one by exactly `−weight · Φ(s_0)` where the agent's game ended, and
//! `weight · (Φ(s_T) − Φ(s_0))` where the step limit cut it short.

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
    /// `[agents]`: whether the agent's episode is over (its last term paid).
    over: Vec<bool>,
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
            over: vec![false; if kept { agents } else { 0 }],
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
    /// the `shaping` (potential, spec) pairs, where the step `terminated` the agent's game with
    /// `Φ(s') = 0`, and 0 once an earlier step ended its episode (terminated or `truncated`).
    pub(crate) fn term(
        &mut self,
        a: AgentId,
        shaping: &[(PotentialId, ShapingSpec)],
        terminated: bool,
        truncated: bool,
    ) -> f64 {
        let over = &mut self.over[a.index()];
        if *over {
            return 0.0;
        }
        *over = terminated || truncated;
        shaping
            .iter()
            .map(|(p, s)| {
                let i = a.index() * self.count + p.0 as usize;
                let next = if terminated {
                    0.0
                } else {
                    s.gamma.get() * self.values[i]
                };
                s.weight.get() * (next - self.before[i])
            })
            .sum()
    }

    /// Takes the values just written as the start of the next step.
    pub(crate) fn advance(&mut self) {
        self.before.copy_from_slice(&self.values);
    }

    /// Starts an episode: the values just written are its start, and no agent's is over.
    pub(crate) fn start(&mut self) {
        self.advance();
        self.over.fill(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_term_is_gamma_times_the_new_value_less_the_old() {
        let mut p = Potentials::new(2, 2, true);
        p.set(AgentId(1), PotentialId(1), 4.0);
        p.start();
        p.set(AgentId(1), PotentialId(1), 10.0);
        let spec = [(PotentialId(1), half_twice())];
        assert_eq!(
            p.term(AgentId(1), &spec, false, false),
            2.0 * (0.5 * 10.0 - 4.0)
        );
        assert_eq!(p.term(AgentId(0), &spec, false, false), 0.0);
        assert_eq!(p.get(AgentId(1), PotentialId(1)), 10.0);
    }

    fn half_twice() -> ShapingSpec {
        ShapingSpec {
            gamma: Finite::new(0.5).unwrap(),
            weight: Finite::new(2.0).unwrap(),
        }
    }

    #[test]
    fn an_ended_game_reaches_potential_zero_and_a_cut_one_keeps_its_own() {
        let spec = [(PotentialId(0), half_twice())];
        let mut p = Potentials::new(3, 1, true);
        for a in 0..3 {
            p.set(AgentId(a), PotentialId(0), 4.0);
        }
        p.start();
        for a in 0..3 {
            p.set(AgentId(a), PotentialId(0), 10.0);
        }
        // Agent 0 plays on, agent 1's game ends, the step limit cuts agent 2's episode short.
        assert_eq!(p.term(AgentId(0), &spec, false, false), 2.0 * (5.0 - 4.0));
        assert_eq!(p.term(AgentId(1), &spec, true, false), 2.0 * -4.0);
        assert_eq!(p.term(AgentId(2), &spec, false, true), 2.0 * (5.0 - 4.0));
        assert_eq!(p.term(AgentId(1), &spec, true, false), 0.0, "over");
        p.advance();
        assert_eq!(p.term(AgentId(2), &spec, false, true), 0.0, "over");
        assert_eq!(p.term(AgentId(0), &spec, false, false), 2.0 * (5.0 - 10.0));
        // A new episode: every agent's terms count again.
        p.start();
        assert_eq!(p.term(AgentId(1), &spec, false, false), 2.0 * (5.0 - 10.0));
    }

    #[test]
    #[should_panic(expected = "potential 2 is not declared")]
    fn writing_an_undeclared_potential_is_a_bug() {
        Potentials::new(1, 2, false).set(AgentId(0), PotentialId(2), 1.0);
    }
}
