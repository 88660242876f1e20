//! The scripted players: the strategies a scenario may name ([`Strategy`], crewmate play) and the
//! scenario's [`ImposterPlay`], and the `Decide` system that acts for them.
//!
//! A scripted player decides from a [`View`]: its own observation row and action mask, plus
//! three things the game keeps for it that its row does not hold exactly: its belief (the
//! game's posterior, which its row shows rounded to `f32`), the order its own tasks were dealt
//! in (its row shows only the rooms of its unfinished tasks), and how often each player was
//! accused this discussion (its row shows only who accused whom; a lying imposter votes by the
//! count). None of the three is hidden from the player — its belief is computed only from what
//! it saw and heard (see `belief`), its tasks are its own, and every accusation was said aloud —
//! and reading them rather than the row keeps the bots' decisions what they have always been.
//! No bot reads another player's role, room or tasks.

use super::rules::{STAGES, Stage, State};
use super::talk::Said;
use super::{ImposterPlay, Settings, acts, obs, obs::Block};
use crate::deduction::pick;
use bevy_ecs::prelude::*;
use rand::Rng;
use socium_core::{
    ActionMasks, Actions, Observations, SimRng, Stepping, Strategies, StrategyInfo, Turn,
};

strategies! {
    /// The strategies a scenario may name.
    pub(super) static STRATEGIES, fn strategy -> Strategy = [
        StrategyInfo {
            name: "bayesian",
            summary: "as a crewmate: does its tasks, reports bodies; in discussion reports a kill \
                      it saw, else accuses its most likely imposter when its belief in it is at \
                      least 1/2, else claims its true room; votes for that suspect (else skips); as \
                      an imposter: the scenario's `imposter` play",
            params: &[],
        } => |_| Strategy::Bayesian,
        StrategyInfo {
            name: "random",
            summary: "as a crewmate: does its tasks and reports bodies, accuses and votes for a \
                      uniformly random living player; as an imposter: the scenario's `imposter` play",
            params: &[],
        } => |_| Strategy::Random,
    ]
}

/// A scripted player's crewmate play (roles are dealt at random; as an imposter every scripted
/// player follows the scenario's [`ImposterPlay`]).
///
/// Both walk to their first unfinished task in the order the tasks were dealt, do it, and report
/// any body in their room. What they read: their observation row and action mask, their own
/// belief at full precision (the row shows it rounded to `f32`) and the order of their own tasks
/// (the row shows only their rooms). Neither cheats: neither reads another player's role, room or
/// tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Acts on its Bayesian belief (the game's posterior for it): in discussion reports a kill it
    /// saw, else accuses its most likely imposter when its belief in it is at least 1/2, else
    /// claims its true room; votes for that suspect, else skips.
    Bayesian,
    /// Accuses and votes for a uniformly random living player.
    Random,
}

/// What a scripted player decides from: its observation row and mask, and its own private state
/// that the row does not hold exactly (see the module's documentation).
struct View<'a> {
    /// The scenario's settings.
    config: &'a Settings,
    /// Which player it is.
    me: usize,
    /// Players.
    n: usize,
    /// Rooms.
    rooms: usize,
    /// Its observation row.
    row: &'a [f32],
    /// Its action mask.
    mask: &'a [u8],
    /// Its belief, at full precision.
    belief: &'a [f64],
    /// The room of its first unfinished task, in the order dealt.
    next_task: Option<usize>,
    /// What was said this discussion, with repeats counted.
    said: &'a Said,
}

impl<'a> View<'a> {
    /// Player `i`'s view: `row` and `mask` are its observation row and action mask.
    fn of(state: &'a State, i: usize, row: &'a [f32], mask: &'a [u8]) -> Self {
        let steps = state.config.task_steps.get();
        View {
            config: &state.config,
            me: i,
            n: state.alive.len(),
            rooms: state.config.rooms(),
            row,
            mask,
            belief: &state.belief[i],
            next_task: state.tasks[i]
                .iter()
                .find(|t| t.done < steps)
                .map(|t| t.room),
            said: &state.said,
        }
    }

    /// Whether its mask allows `act`.
    fn legal(&self, act: usize) -> bool {
        self.mask[act] != 0
    }

    /// Entry `j` of `block` of its row, as a flag.
    fn flag(&self, block: Block, j: usize) -> bool {
        self.row[obs::offset(block, self.n, self.rooms) + j] == 1.0
    }

    /// Whether it is an imposter.
    fn imposter(&self) -> bool {
        self.flag(Block::Imposter, 0)
    }

    /// Where the game is.
    fn stage(&self) -> Stage {
        (0..STAGES.len())
            .find(|&s| self.flag(Block::Stage, s))
            .map(|s| STAGES[s])
            .expect("one stage")
    }

    /// Its room (in a discussion or vote, where it was at the report).
    fn room(&self) -> usize {
        (0..self.rooms)
            .find(|&r| self.flag(Block::Room, r))
            .expect("one room")
    }

    /// The players it may aim at now (kill, accuse, vote).
    fn targets(&self) -> Vec<usize> {
        (0..self.n)
            .filter(|&j| self.legal(acts::aim(self.n, j)))
            .collect()
    }

    /// The targets that are not of its team (for an imposter, the crewmates).
    fn crew_targets(&self) -> Vec<usize> {
        let team = |j: usize| self.flag(Block::Team, j);
        self.targets().into_iter().filter(|&j| !team(j)).collect()
    }
}

/// Every scripted player's act and belief, in every stepped env.
#[allow(clippy::type_complexity)]
pub(super) fn decide(
    strategies: Res<Strategies<Strategy>>,
    mut envs: Query<
        (
            &State,
            &Turn,
            &ActionMasks,
            &Observations,
            &mut SimRng,
            &mut Actions,
        ),
        Stepping,
    >,
) {
    for (state, turn, masks, obs, rng, actions) in &mut envs {
        let rng = &mut rng.into_inner().decide;
        let actions = actions.into_inner();
        for (a, &strategy) in strategies.iter() {
            if !turn.is_acting(a) {
                continue;
            }
            let i = a.index();
            let view = View::of(state, i, obs.0.row(a), masks.0.row(a));
            let act = match view.imposter() {
                true => imposter_act(state.config.imposter, &view, rng),
                false => crewmate_act(strategy, &view, rng),
            };
            let row = actions.0.row_mut(a);
            row[0] = act as f32;
            for (p, &b) in row[1..].iter_mut().zip(view.belief) {
                *p = b as f32;
            }
        }
    }
}

/// A scripted imposter's act: kill a crewmate found alone with it, else wander; `Lying`: in
/// discussion a false alibi or a random accusation of a crewmate (half the time each), at the
/// vote the most accused crewmate; `Quiet`: silent, skips.
fn imposter_act(play: ImposterPlay, v: &View, rng: &mut impl Rng) -> usize {
    let (n, me) = (v.n, v.me);
    let lying = play == ImposterPlay::Lying;
    match v.stage() {
        Stage::Play => {
            // Kill only a crewmate who is alone with the imposter: no witnesses.
            let here: Vec<usize> = (0..n)
                .filter(|&j| j != me && v.flag(Block::Here, j))
                .collect();
            match here[..] {
                [j] if v.legal(acts::aim(n, j)) => acts::aim(n, j),
                _ => {
                    let moves: Vec<usize> =
                        acts::MOVES.into_iter().filter(|&m| v.legal(m)).collect();
                    pick(&moves, rng)
                }
            }
        }
        Stage::Discussion if lying && speaking(v) => {
            if rng.random_bool(0.5) {
                // The rooms of this episode's grid (the mask's), which a grid drawn per episode
                // makes fewer than the largest's.
                let elsewhere: Vec<usize> = (0..v.rooms)
                    .filter(|&r| r != v.room())
                    .map(|r| acts::claim(n, r))
                    .filter(|&claim| v.legal(claim))
                    .collect();
                pick(&elsewhere, rng)
            } else {
                let accusations: Vec<usize> =
                    v.crew_targets().iter().map(|&j| acts::aim(n, j)).collect();
                pick(&accusations, rng)
            }
        }
        Stage::Vote if lying => v
            .crew_targets()
            .into_iter()
            .max_by_key(|&j| (v.said.accusations_of(j), std::cmp::Reverse(j)))
            .map_or(acts::WAIT, |j| acts::aim(n, j)),
        _ => acts::WAIT,
    }
}

/// A scripted crewmate's act: report a body, do a task, or walk to its next task; in
/// discussion and at the vote as its strategy says.
fn crewmate_act(strategy: Strategy, v: &View, rng: &mut impl Rng) -> usize {
    let (n, me) = (v.n, v.me);
    // A Bayesian crewmate's suspect: its most likely imposter, if at least even odds.
    let suspect = || {
        (0..n)
            .filter(|&j| v.flag(Block::Alive, j) && j != me)
            .max_by(|&x, &y| v.belief[x].total_cmp(&v.belief[y]).then(y.cmp(&x)))
            .filter(|&j| v.belief[j] >= 0.5)
    };
    match (v.stage(), strategy) {
        (Stage::Play, _) => {
            if v.legal(acts::REPORT) {
                acts::REPORT
            } else if v.legal(acts::TASK) {
                acts::TASK
            } else if let Some(task) = v.next_task {
                v.config.toward(v.room(), task)
            } else {
                acts::WAIT
            }
        }
        (Stage::Discussion, _) if !speaking(v) => acts::WAIT,
        (Stage::Discussion, Strategy::Bayesian) => {
            // A living player it saw kill comes first.
            let killer = (0..n).find(|&j| v.flag(Block::Witnessed, j) && v.flag(Block::Alive, j));
            match (killer, suspect()) {
                (Some(k), _) => acts::saw_kill(n, v.rooms, k),
                (None, Some(j)) => acts::aim(n, j),
                (None, None) => acts::claim(n, v.room()),
            }
        }
        (Stage::Vote, Strategy::Bayesian) => suspect().map_or(acts::WAIT, |j| acts::aim(n, j)),
        (_, Strategy::Random) => {
            let aims: Vec<usize> = v.targets().iter().map(|&j| acts::aim(n, j)).collect();
            pick(&aims, rng)
        }
    }
}

/// Whether it is the speaker of the discussion: the speaker may always claim a room, the others
/// may only wait.
fn speaking(v: &View) -> bool {
    v.legal(acts::claim(v.n, 0))
}
