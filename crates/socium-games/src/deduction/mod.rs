//! Social deduction: a hidden team among the players, found out (or not) by talking and voting.
//!
//! - [`mafia`]: Mafia / Werewolf — day discussion and lynch vote, night kill; optional seer and
//!   doctor (Braverman, Etesami & Mossel 2008; Werewolf Arena's roles).
//!
//! - [`among_us`]: an Among Us-style game on a grid of rooms (Sarkar et al. 2025): tasks, kills,
//!   reports, discussion and ejection votes; every player states a belief over who the imposter
//!   is with each action, scored by the listening and speaking rewards of Sarkar et al.

pub mod among_us;
pub mod mafia;

use rand::{Rng, seq::SliceRandom};
use socium_core::AgentId;

/// A uniformly random one of `options`, or act 0 (skip, wait or stay silent in every game of
/// this family) when there is none.
fn pick(options: &[usize], rng: &mut impl Rng) -> usize {
    match options {
        [] => 0,
        _ => options[rng.random_range(0..options.len())],
    }
}

/// The order of a discussion's speakers.
#[derive(Clone, Copy, Debug, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Talk {
    /// Every round in a fresh random order.
    Reshuffled,
    /// One random order for the whole discussion, round robin from its second player, as in
    /// Sarkar et al.'s code (SocialDeductionLLM, `src/string_env.py`: `process_reporting`
    /// shuffles once, `process_discussion_volunteer` gives the turn to `order[turns % len]` from
    /// `turns = 1`).
    Fixed,
}

/// The speakers of a discussion, last first (they are popped from the back): every one of
/// `living` `rounds` times, in the order `talk` says.
fn speaking_order(living: &[AgentId], rounds: u32, talk: Talk, rng: &mut impl Rng) -> Vec<AgentId> {
    let mut order = Vec::with_capacity(living.len() * rounds as usize);
    match talk {
        Talk::Reshuffled => {
            for _ in 0..rounds {
                let mut round = living.to_vec();
                round.shuffle(rng);
                order.extend(round);
            }
        }
        Talk::Fixed => {
            let mut once = living.to_vec();
            once.shuffle(rng);
            let n = once.len();
            order.extend((1..=n * rounds as usize).map(|k| once[k % n]));
        }
    }
    order.reverse();
    order
}

/// Players `js` in words, "player 0, player 3" (the prompts name players by agent index), or
/// `None` when there are none.
fn players(js: impl Iterator<Item = usize>) -> Option<String> {
    let named: Vec<String> = js.map(|j| format!("player {j}")).collect();
    (!named.is_empty()).then(|| named.join(", "))
}

/// How often, in words: "once", "twice", "3 times".
fn times(k: u32) -> String {
    match k {
        1 => "once".into(),
        2 => "twice".into(),
        k => format!("{k} times"),
    }
}
