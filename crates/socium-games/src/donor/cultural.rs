//! The donor game of Vallinder & Hughes (2024), "Cultural Evolution of Cooperation among LLM
//! Agents", arXiv:2412.10270.
//!
//! Rules (paper, Section 2): agents start a game with `initial_resources` (10) each. In every round
//! half of the agents are donors, each paired with a recipient from the other half; a donor gives
//! any share `s` of its resources, `x = s·resources`, and the recipient receives `multiplier · x`
//! (2; ablations 1.5 and 3). Roles alternate from round to round, so the recipient of round `t`
//! was a donor in round `t − 1`: the donor sees the recipient's resources and a *trace* — the share
//! the recipient gave in its last round as donor, what that recipient's own recipient gave the
//! round before, and so on, up to `trace_depth` (3) levels (so depth 0 in round 1, 1 in round 2, 2
//! in round 3). A game has `rounds` (12) rounds; an episode plays `games` (2) games, resources and
//! traces reset between them, the second with the roles reversed so that every agent is a
//! final-round recipient once. Optional rules from the paper's variants: costly punishment (the
//! donor pays `x`, the recipient loses `punishment_loss · x`, floored at 0) and refusal to play.
//!
//! Differences from the paper: its strategies are text written by language models; here scripted
//! strategies stand in for them (and trainers or policies may act instead). With a social graph
//! that is not complete, each donor meets a random neighbour in the other half (so a recipient may
//! meet several donors, or none, and several punishments are applied, each floored at 0, in
//! donor-id order); on the complete graph the pairing is a random perfect matching.
//!
//! The released notebook (aronvallinder/llm-donor-game, `Donor_Game_with_Cultural_Evolution.ipynb`)
//! plays a different schedule, offered as [`Schedule::Notebook`]: a bipartite rotation in which a
//! half may donate twice in a row (cells 10, 11, 14). It never shows the round
//! ([`CulturalConfig::show_round`]; cell 16 `donorPrompt`), and its punishment branch cannot run as
//! written (cell 13 `handle_pairing_thread_safe`: `punish` is an `elif` after the branch that takes
//! every affordable amount), so the punishment here is the paper's rule. docs/scenarios.md §3.1
//! lists every difference that remains.

use super::{
    COOPERATION, COOPERATION_METRIC, DONATION_DIMENSIONS, PAYOFF, REPUTATION, Said, unit_param,
};
use bevy_ecs::prelude::*;
use rand::seq::{IndexedRandom, SliceRandom};
use serde::{Deserialize, Deserializer, de::Error as _};
use socium_core::{
    Act, Actions, AgentId, AgentSpec, Audience, Clock, Controller, DimensionInfo, Done,
    GameBuilder, MaybeAgent, MetricId, MetricInfo, Metrics, Observations, Phase, PotentialId,
    PotentialInfo, Potentials, Prompt, Retune, RewardLedger, Rules, SimRng, SocialGraph, Space,
    Stepping, Strategies, StrategyInfo, Turn, TurnOrder, Utterances, Window,
    bounded::{Count, NonNegative, Positive},
    retune_settings,
};

/// Settings of the cultural-evolution donor game (`[game.donor_cultural]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CulturalConfig {
    /// Rounds per game (paper: 12).
    pub rounds: Count,
    /// Games per episode, resources reset between; every second game reverses the roles (paper: 2).
    pub games: Count,
    /// Resources of every agent at the start of a game (paper: 10).
    pub initial_resources: NonNegative,
    /// What the recipient receives per unit given (paper: 2; ablations 1.5, 3).
    pub multiplier: Positive,
    /// Levels of the trace a donor sees (paper: 3; at most 8).
    #[serde(deserialize_with = "trace_depth")]
    pub trace_depth: u32,
    /// Whether donors may punish: pay `x` so that the recipient loses `punishment_loss · x`.
    pub punishment: bool,
    /// What the recipient loses per unit a punisher pays (paper: 2).
    pub punishment_loss: NonNegative,
    /// Whether donors may refuse to play.
    pub refusal: bool,
    /// Who meets whom and which half donates, round by round (default: the paper's).
    pub schedule: Schedule,
    /// Whether a donor sees the round: observation entry 3 (`round / rounds`) and the prompt's
    /// "Round r of R" (default `true`). The notebook never tells a donor how many rounds remain
    /// (aronvallinder/llm-donor-game, `Donor_Game_with_Cultural_Evolution.ipynb`, cell 16,
    /// `donorPrompt`); with `false` the entry is 0 (the layout stays the same), so that a learner
    /// cannot time a defection at the end.
    pub show_round: bool,
}

/// Who meets whom in a round of the cultural donor game, and which half donates.
///
/// Both schedules split the agents into halves A and B (a fresh shuffle at games 0, 2, 4, …,
/// A the first half of it) and pair donors of one half with recipients of the other; every odd
/// game plays the game before with the roles reversed.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// The paper's (Section 2): the halves donate in strict alternation, A first, and each
    /// round's donors are matched with the other half at random.
    #[default]
    Random,
    /// The released notebook's (aronvallinder/llm-donor-game,
    /// `Donor_Game_with_Cultural_Evolution.ipynb`, cell 10 `bipartiteRoundRobin`, cell 11
    /// `extendRounds`, cell 14 `donorGame`): a bipartite rotation. With `h` agents a half and
    /// rounds `t = 0 … 2h − 1`, `A_j` meets `B_((j − t) mod h)`; A donates when `t mod h` is
    /// even, in the first `h` rounds, and the other half in the last `h` (which repeat the first
    /// `h` with the roles reversed). So every ordered pair across the halves meets once a game,
    /// and with 12 agents the donor halves run A B A B A B B A B A B A (the second game
    /// B A B A B A A B A B A B). Needs `rounds` equal to the number of agents, as in the
    /// notebook (which ignores its own `number_of_rounds`).
    Notebook,
}

impl Schedule {
    /// Whether half A donates in round `round` of game `game` when a half has `half` agents.
    fn a_donates(self, half: u32, game: u32, round: u32) -> bool {
        let game_one = match self {
            Schedule::Random => round.is_multiple_of(2),
            Schedule::Notebook => (round % half).is_multiple_of(2) != (round >= half),
        };
        // The second game of each pair reverses every pair's roles (notebook, cell 14: the
        // reversed rounds; the paper: every agent is a final-round recipient once).
        game_one == game.is_multiple_of(2)
    }
}

/// Reads a trace depth, refusing more than 8 levels.
fn trace_depth<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let depth = u32::deserialize(d)?;
    if depth > 8 {
        return Err(D::Error::custom(format!(
            "expected a whole number in [0, 8], found {depth}"
        )));
    }
    Ok(depth)
}

impl Default for CulturalConfig {
    fn default() -> Self {
        CulturalConfig {
            rounds: Count::new(12).expect("in range"),
            games: Count::new(2).expect("in range"),
            initial_resources: NonNegative::new(10.0).expect("in range"),
            multiplier: Positive::new(2.0).expect("in range"),
            trace_depth: 3,
            punishment: false,
            punishment_loss: NonNegative::new(2.0).expect("in range"),
            refusal: false,
            schedule: Schedule::Random,
            show_round: true,
        }
    }
}

/// What a donor does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// Give a share of one's resources.
    Give,
    /// Pay a share of one's resources to make the recipient lose `punishment_loss` times as much.
    Punish,
    /// Refuse to play this round.
    Refuse,
}

impl Move {
    fn name(self) -> &'static str {
        match self {
            Move::Give => "give",
            Move::Punish => "punish",
            Move::Refuse => "refuse",
        }
    }
}

/// Observation layout: entry indices.
pub mod obs {
    /// 1 when the agent is a donor this round.
    pub const DONOR: usize = 0;
    /// The agent's resources.
    pub const OWN_RESOURCES: usize = 1;
    /// The recipient's resources (0 when not a donor).
    pub const RECIPIENT_RESOURCES: usize = 2;
    /// Round within the game, as a fraction: `round / rounds` (0 throughout when the round is
    /// hidden, [`CulturalConfig::show_round`](super::CulturalConfig::show_round)).
    pub const PROGRESS: usize = 3;
    /// First trace level; each level is `[share, refused, known]`, the share negative for a
    /// punishment.
    pub const TRACE: usize = 4;
    /// Entries per trace level.
    pub const LEVEL: usize = 3;
}

strategies! {
    static STRATEGIES, fn strategy -> Strategy = [
        StrategyInfo {
            name: "allc",
            summary: "gives everything, always",
            params: &[],
        } => |_| Strategy::Fixed(1.0),
        StrategyInfo {
            name: "alld",
            summary: "gives nothing, always",
            params: &[],
        } => |_| Strategy::Fixed(0.0),
        StrategyInfo {
            name: "fixed",
            summary: "gives a fixed share",
            params: &[unit_param("share", "share of resources given", 0.5)],
        } => |c| Strategy::Fixed(c.param("share")),
        StrategyInfo {
            name: "reciprocal",
            summary: "gives the share the recipient last gave, plus generosity (indirect reciprocity)",
            params: &[
                unit_param("generosity", "added to the recipient's last share", 0.0),
                unit_param("initial", "share given when the trace is empty", 0.5),
            ],
        } => |c| Strategy::Reciprocal {
            generosity: c.param("generosity"),
            initial: c.param("initial"),
        },
        StrategyInfo {
            name: "punisher",
            summary: "punishes recipients whose last share was below a threshold, else gives (needs punishment)",
            params: &[
                unit_param(
                    "threshold",
                    "last share below which the recipient is punished",
                    0.3,
                ),
                unit_param("share", "share given, or paid to punish", 0.5),
            ],
        } => |c| Strategy::Punisher {
            threshold: c.param("threshold"),
            share: c.param("share"),
        },
        StrategyInfo {
            name: "refuser",
            summary: "refuses recipients whose last share was below a threshold, else gives (needs refusal)",
            params: &[
                unit_param("threshold", "last share below which play is refused", 0.3),
                unit_param("share", "share given", 0.5),
            ],
        } => |c| Strategy::Refuser {
            threshold: c.param("threshold"),
            share: c.param("share"),
        },
    ]
}

static METRICS: [MetricInfo; 2] = [
    COOPERATION_METRIC,
    MetricInfo {
        name: "final_resources",
        summary: "mean resources per agent at the end of each game",
    },
];

/// Metric: mean final resources per game.
pub const FINAL_RESOURCES: MetricId = MetricId(1);

/// A scripted donor, deciding from its observation row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strategy {
    /// Gives a fixed share (`allc` = 1, `alld` = 0).
    Fixed(f64),
    /// Gives the recipient's last share plus `generosity`; `initial` without a trace.
    Reciprocal {
        /// Added to the recipient's last share.
        generosity: f64,
        /// Share without a trace.
        initial: f64,
    },
    /// Punishes with `share` below `threshold`, else gives `share`.
    Punisher {
        /// Last share below which to punish.
        threshold: f64,
        /// Share given or paid.
        share: f64,
    },
    /// Refuses below `threshold`, else gives `share`.
    Refuser {
        /// Last share below which to refuse.
        threshold: f64,
        /// Share given.
        share: f64,
    },
}

impl Strategy {
    /// The recipient's last share, if the trace shows one.
    fn last_share(obs: &[f32]) -> Option<f64> {
        let level = &obs[obs::TRACE..];
        (level.len() >= obs::LEVEL && level[2] > 0.0).then(|| f64::from(level[0]))
    }

    /// The move and share for an observation row.
    pub fn decide(&self, obs: &[f32]) -> (Move, f64) {
        let last = Self::last_share(obs);
        match *self {
            Strategy::Fixed(s) => (Move::Give, s),
            Strategy::Reciprocal {
                generosity,
                initial,
            } => (
                Move::Give,
                last.map_or(initial, |l| (l.max(0.0) + generosity).min(1.0)),
            ),
            Strategy::Punisher { threshold, share } => match last {
                Some(l) if l < threshold => (Move::Punish, share),
                _ => (Move::Give, share),
            },
            Strategy::Refuser { threshold, share } => match last {
                Some(l) if l < threshold => (Move::Refuse, 0.0),
                _ => (Move::Give, share),
            },
        }
    }

    /// Why, in words, for the transcript.
    fn reason(&self, obs: &[f32]) -> String {
        let last = Self::last_share(obs);
        let seen = |l: f64| format!("the recipient last gave {:.0}%", l * 100.0);
        match (*self, last) {
            (Strategy::Fixed(s), _) => format!("I always give {:.0}%", s * 100.0),
            (_, None) => "no trace of the recipient yet".to_owned(),
            (Strategy::Reciprocal { .. }, Some(l)) => format!("reciprocating: {}", seen(l)),
            (
                Strategy::Punisher { threshold, .. } | Strategy::Refuser { threshold, .. },
                Some(l),
            ) => {
                let verdict = if l < threshold { "below" } else { "at least" };
                format!(
                    "{}, {verdict} my threshold of {:.0}%",
                    seen(l),
                    threshold * 100.0
                )
            }
        }
    }
}

/// One donation in a trace.
#[derive(Clone, Copy, Debug)]
struct Donation {
    /// Share given (negative for punishment, 0 for refusal), as donors see it in a trace: an
    /// `f32`, so that a level takes 8 bytes (`Option` included) and the traces stay in cache at
    /// thousands of envs.
    share: f32,
    refused: bool,
}

/// The game's state: its per-agent values in windows of block-wide arrays
/// ([`GameBuilder::env_array`]).
#[derive(Component, Debug)]
struct State {
    config: CulturalConfig,
    resources: Window<f64>,
    /// The agents in the order of the last shuffle: half A the first half, half B the second.
    order: Window<AgentId>,
    /// Whether the agent is in half A.
    in_a: Window<bool>,
    /// Each agent's recipient this round, if it donates.
    recipient: Window<MaybeAgent>,
    /// `[agent × trace_depth]`: the trace a donor is shown of each agent — its donation in its
    /// last round as donor, then that donation's recipient's in its last round before, and so on
    /// (`None` past the chain's end). Set when the agent's half donates (its donation and its
    /// recipient's trace at that moment, which the round leaves alone: recipients never donate in
    /// it), so that observing copies a row instead of walking a history, each read depending on
    /// the one before.
    traces: Window<Option<Donation>>,
    /// The share each agent last showed as donor in this game (its image), for the reputation
    /// dimension.
    image: Window<f64>,
}

/// One resolved donation, for reward components and metrics.
/// One donation of the round (its utterance's id is [`Said`]'s to give).
#[derive(Clone, Copy, Debug)]
struct Event {
    donor: AgentId,
    recipient: AgentId,
    kind: Move,
    amount: f64,
    share: f64,
    recipient_change: f64,
    image_change: f64,
}

impl Event {
    /// What fills a list's room not yet used.
    const FILLER: Event = Event {
        donor: AgentId(0),
        recipient: AgentId(0),
        kind: Move::Give,
        amount: 0.0,
        share: 0.0,
        recipient_change: 0.0,
        image_change: 0.0,
    };
}

/// The round's donations, in donor order: at most one an agent.
type Events = Said<Event>;

impl CulturalConfig {
    fn steps(&self) -> u32 {
        self.rounds.get() * self.games.get()
    }

    /// The moves a donor may make, in the order of the action's first entry: give, then punish
    /// and refuse where allowed. An iterator, so that the step reads them from the config
    /// without a vector of each env's own.
    fn move_list(&self) -> impl Iterator<Item = Move> + use<> {
        let optional = [
            self.punishment.then_some(Move::Punish),
            self.refusal.then_some(Move::Refuse),
        ];
        std::iter::once(Move::Give).chain(optional.into_iter().flatten())
    }

    fn moves(&self) -> Vec<Move> {
        self.move_list().collect()
    }
}

/// The donor's situation in words, after the setup of Vallinder & Hughes (Section 2): the game,
/// the donor's and the recipient's resources, and the recipient's trace, from the donor's
/// observation row.
fn prompt(config: &CulturalConfig, obs: &[f32], mask: &[u8]) -> Prompt {
    let roles = match config.schedule {
        Schedule::Random => "Roles alternate from round to round.",
        Schedule::Notebook => {
            "In a game you meet everyone of the other half twice, once in each role."
        }
    };
    let mut rules = format!(
        "You play a donor game with other agents. Everyone starts a game with {} units of a \
         resource. Each round you are paired with someone: one of you is the donor, the other \
         the recipient. The donor gives any share of its resources; the recipient receives {} \
         times what was given. {roles} Before deciding, a donor sees how the recipient behaved \
         as a donor recently. Your aim is to end with as many units as you can.",
        config.initial_resources.get(),
        config.multiplier.get()
    );
    if config.punishment {
        rules.push_str(&format!(
            " A donor may instead punish: pay a share of its resources to make the recipient lose \
             {} times as much.",
            config.punishment_loss.get()
        ));
    }
    if config.refusal {
        rules.push_str(" A donor may also refuse to play the round.");
    }
    if obs[obs::DONOR] < 0.5 {
        let situation = "You are not the donor this round.".to_owned();
        return Prompt {
            rules,
            situation,
            ..Prompt::default()
        };
    }
    let mut situation = String::new();
    if config.show_round {
        let rounds = config.rounds.get();
        let round = (obs[obs::PROGRESS] * rounds as f32).round() as u32 + 1;
        situation.push_str(&format!("Round {round} of {rounds}. "));
    }
    situation.push_str(&format!(
        "You are the donor. You have {:.2} units; the recipient has {:.2}.",
        obs[obs::OWN_RESOURCES],
        obs[obs::RECIPIENT_RESOURCES]
    ));
    let mut who = "the recipient".to_owned();
    for level in obs[obs::TRACE..].chunks_exact(obs::LEVEL) {
        let [share, refused, known] = [level[0], level[1], level[2]];
        if known < 0.5 {
            break;
        }
        let did = match (refused > 0.5, share < 0.0) {
            (true, _) => "refused to play".to_owned(),
            (_, true) => format!("paid {:.0}% of its resources to punish", -100.0 * share),
            _ => format!("gave {:.0}% of its resources", 100.0 * share),
        };
        situation.push_str(&format!(" As a donor the round before, {who} {did}"));
        who = "that round's recipient".to_owned();
        situation.push('.');
    }
    let moves = config.moves();
    // One move: the action is the share alone, with no discrete part.
    let n = if moves.len() > 1 { moves.len() } else { 0 };
    let acts = Prompt::legal_acts(n, mask, |i| moves[i].name().to_owned());
    Prompt {
        rules,
        situation,
        acts,
        amount: Some(
            "the fraction of your units to give (or pay to punish): 0.5 gives half, 0 nothing, \
             1 all"
                .into(),
        ),
    }
}

impl Rules for CulturalConfig {
    fn prompt(&self, _agents: usize, _agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
        prompt(self, obs, mask)
    }

    fn observation_space(&self, _agents: usize) -> Space {
        let mut low = vec![0.0, 0.0, 0.0, 0.0];
        let mut high = vec![1.0, f32::INFINITY, f32::INFINITY, 1.0];
        for _ in 0..self.trace_depth {
            low.extend([-1.0, 0.0, 0.0]);
            high.extend([1.0, 1.0, 1.0]);
        }
        Space::Box { low, high }
    }

    fn action_space(&self, _agents: usize) -> Space {
        let share = Space::uniform_box(1, 0.0, 1.0);
        match self.moves().len() {
            1 => share,
            n => Space::Tuple(vec![Space::Discrete { n: n as u32 }, share]),
        }
    }

    fn turn_order(&self) -> TurnOrder {
        TurnOrder::Chosen
    }

    fn reward_dimensions(&self) -> &'static [DimensionInfo] {
        &DONATION_DIMENSIONS
    }

    fn strategies(&self) -> &'static [StrategyInfo] {
        &STRATEGIES
    }

    fn metrics(&self) -> &'static [MetricInfo] {
        &METRICS
    }

    fn potentials(&self) -> &'static [PotentialInfo] {
        &POTENTIALS
    }

    /// A game of `rounds` rounds; the notebook's selection counts only the last (aronvallinder/
    /// llm-donor-game, `Donor_Game_with_Cultural_Evolution.ipynb`, cell 14 `donorGame`:
    /// `total_final_score` after game 2).
    /// The multiplier, the losses, `initial_resources` (from the next game on) and `show_round`
    /// change part-way; the settings the play so far is laid out by (the rounds and games kept
    /// in the traces, the trace depth, the moves, the schedule) change only at an episode.
    fn retune(&self) -> Option<Retune> {
        Some(retune_settings(
            self.clone(),
            |state: &mut State| &mut state.config,
            |now, new| {
                let layout =
                    |c: &CulturalConfig| (c.rounds, c.games, c.trace_depth, c.moves(), c.schedule);
                if layout(now) == layout(new) {
                    return Ok(());
                }
                Err(
                    "`rounds`, `games`, `trace_depth`, `punishment`, `refusal` and `schedule` \
                     change only at an episode's start"
                        .into(),
                )
            },
            strategy,
        ))
    }

    fn game_steps(&self) -> Option<u32> {
        Some(self.rounds.get())
    }

    fn episode_steps(&self) -> Option<u64> {
        Some(u64::from(self.rounds.get()) * u64::from(self.games.get()))
    }

    fn check(&self, agents: &[AgentSpec]) -> Result<(), String> {
        if self.rounds.get().checked_mul(self.games.get()).is_none() {
            return Err("rounds × games: expected fewer than 2^32 steps".into());
        }
        if agents.len() < 2 || !agents.len().is_multiple_of(2) {
            return Err(format!(
                "needs an even number of agents, at least 2, to split them into donors and \
                 recipients; found {}",
                agents.len()
            ));
        }
        if self.schedule == Schedule::Notebook && self.rounds.get() as usize != agents.len() {
            return Err(format!(
                "`schedule = \"notebook\"` meets every ordered pair across the halves once a \
                 game, in as many rounds as there are agents: expected `rounds = {}`, found {}",
                agents.len(),
                self.rounds.get()
            ));
        }
        for spec in agents {
            if let Controller::Scripted(c) = &spec.controller {
                match c.info.name {
                    "punisher" if !self.punishment => {
                        return Err("strategy `punisher` needs `punishment = true`".into());
                    }
                    "refuser" if !self.refusal => {
                        return Err("strategy `refuser` needs `refusal = true`".into());
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn build(&self, game: &mut GameBuilder) {
        let n = game.agent_count();
        game.insert_strategies(strategy);
        let depth = self.trace_depth as usize;
        let (mut resources, mut image) = (game.env_array(0.0, n), game.env_array(0.0, n));
        let (mut order, mut in_a) = (game.env_array(AgentId(0), n), game.env_array(false, n));
        let mut recipient = game.env_array(MaybeAgent::NONE, n);
        let mut traces = game.env_array(None, n * depth);
        let events = Events::lists(game, n, Event::FILLER);
        game.env_component(|| {
            let mut order = order();
            for (i, a) in order.iter_mut().enumerate() {
                *a = AgentId(i as u32);
            }
            State {
                config: self.clone(),
                resources: resources(),
                order,
                in_a: in_a(),
                recipient: recipient(),
                traces: traces(),
                image: image(),
            }
        })
        .env_component(events)
        .add_systems(Phase::Observe, pair_and_observe)
        .add_systems(Phase::Decide, decide)
        .add_systems(Phase::Resolve, resolve)
        .add_systems(Phase::Reward, reward)
        .add_systems(Phase::Record, record);
        if game.shapes() {
            game.add_systems(Phase::Observe, own_resources.after(pair_and_observe));
        }
    }
}

/// Starts a game when one is due, pairs this round's donors with recipients, writes observations.
#[allow(clippy::type_complexity)]
fn pair_and_observe(
    mut envs: Query<(
        &Clock,
        &SocialGraph,
        &mut State,
        &mut SimRng,
        &mut Turn,
        &mut Observations,
    )>,
    mut scratch: Local<Vec<AgentId>>,
) {
    for (clock, graph, state, rng, turn, obs) in &mut envs {
        pair_and_observe_env(
            clock,
            graph,
            state.into_inner(),
            rng.into_inner(),
            turn.into_inner(),
            obs.into_inner(),
            &mut scratch,
        );
    }
}

fn pair_and_observe_env(
    clock: &Clock,
    graph: &SocialGraph,
    state: &mut State,
    rng: &mut SimRng,
    turn: &mut Turn,
    obs: &mut Observations,
    scratch: &mut Vec<AgentId>,
) {
    let n = state.resources.len();
    let rounds = state.config.rounds.get();
    let step = clock.step();
    if step >= state.config.steps() {
        for a in 0..n {
            turn.set_acting(AgentId(a as u32), false);
        }
        return;
    }
    let (game, round) = (step / rounds, step % rounds);
    if round == 0 {
        state.resources.fill(state.config.initial_resources.get());
        state.traces.fill(None);
        state.image.fill(0.0);
        if game.is_multiple_of(2) {
            // From the identity each time, so that a shuffle depends on the stream alone.
            for (i, a) in state.order.iter_mut().enumerate() {
                *a = AgentId(i as u32);
            }
            state.order.shuffle(&mut rng.chance);
            for (i, a) in state.order.iter().enumerate() {
                state.in_a[a.index()] = i < n / 2;
            }
        }
    }
    let half = (n / 2) as u32;
    let schedule = state.config.schedule;
    let a_donates = schedule.a_donates(half, game, round);
    state.recipient.fill(MaybeAgent::NONE);
    match schedule {
        Schedule::Random => pair_at_random(graph, state, rng, a_donates, scratch),
        Schedule::Notebook => pair_by_rotation(graph, state, round, a_donates),
    }
    let depth = state.config.trace_depth as usize;
    let progress = match state.config.show_round {
        true => round as f32 / rounds as f32,
        false => 0.0,
    };
    // Every entry is written explicitly (no zero-fill first): tiny memsets cost more than the
    // rest of this system.
    for d in 0..n {
        let a = AgentId(d as u32);
        let row = obs.0.row_mut(a);
        let recipient = state.recipient[d].get();
        let acting = recipient.is_some() && turn.is_acting(a);
        turn.set_acting(a, acting);
        row[obs::DONOR] = recipient.is_some() as u8 as f32;
        row[obs::OWN_RESOURCES] = state.resources[d] as f32;
        row[obs::RECIPIENT_RESOURCES] =
            recipient.map_or(0.0, |r| state.resources[r.index()] as f32);
        row[obs::PROGRESS] = progress;
        // The recipient's trace: the notebook's chain of last donations
        // (aronvallinder/llm-donor-game, `Donor_Game_with_Cultural_Evolution.ipynb`, cell 13
        // `handle_pairing_thread_safe`'s `traces`, cell 15 `get_last_three_reversed`), which
        // under the notebook's schedule is not always the round before.
        let trace = match recipient {
            Some(r) => &state.traces[r.index() * depth..][..depth],
            None => &[][..],
        };
        let mut levels = trace.iter();
        for entry in row[obs::TRACE..].chunks_exact_mut(obs::LEVEL) {
            let (share, refused, known) = levels
                .next()
                .copied()
                .flatten()
                .map_or((0.0, 0.0, 0.0), |d| (d.share, d.refused as u8 as f32, 1.0));
            entry[0] = share;
            entry[1] = refused;
            entry[2] = known;
        }
    }
    // This round's donors start a new trace: empty until (and unless) they donate. Only
    // recipients' traces were read above, and recipients are in the other half.
    for d in 0..n {
        if state.in_a[d] == a_donates {
            state.traces[d * depth..][..depth].fill(None);
        }
    }
}

/// The paper's pairing: on a complete graph a random perfect matching of this round's donors
/// with the other half; on any other graph each donor meets a random neighbour from the other
/// half (or sits out without one).
/// Pairs each donor with a recipient of the other half at random (on the graph); `scratch` is a
/// list to reuse.
fn pair_at_random(
    graph: &SocialGraph,
    state: &mut State,
    rng: &mut SimRng,
    a_donates: bool,
    scratch: &mut Vec<AgentId>,
) {
    let n = state.resources.len();
    if graph.is_complete() {
        scratch.clear();
        scratch.extend(
            (0..n as u32)
                .map(AgentId)
                .filter(|a| state.in_a[a.index()] != a_donates),
        );
        scratch.shuffle(&mut rng.chance);
        let mut recipients = scratch.iter();
        for d in 0..n {
            if state.in_a[d] == a_donates {
                state.recipient[d] = recipients.next().copied().into();
            }
        }
    } else {
        for d in 0..n {
            if state.in_a[d] == a_donates {
                scratch.clear();
                let others = graph
                    .neighbours(AgentId(d as u32))
                    .iter()
                    .filter(|r| state.in_a[r.index()] != a_donates);
                scratch.extend(others);
                state.recipient[d] = scratch.choose(&mut rng.chance).copied().into();
            }
        }
    }
}

/// The notebook's pairing (cell 10, `bipartiteRoundRobin`: `group_B[-i:] + group_B[:-i]`
/// zipped with `group_A`): in round `t`, `A_j` meets `B_((j − t) mod h)`, the donor from the
/// half that donates. On a graph that is not complete, a pair without a tie sits out.
fn pair_by_rotation(graph: &SocialGraph, state: &mut State, round: u32, a_donates: bool) {
    let half = state.order.len() / 2;
    let shift = round as usize % half;
    let (a, b) = state.order.split_at(half);
    for (j, &x) in a.iter().enumerate() {
        let y = b[(j + half - shift) % half];
        let (donor, recipient) = if a_donates { (x, y) } else { (y, x) };
        if graph.is_complete() || graph.neighbours(donor).contains(&recipient) {
            state.recipient[donor.index()] = recipient.into();
        }
    }
}

/// The potential `resources`: each agent's own resources, after the step (and after a new
/// game's restart).
fn own_resources(mut envs: Query<(&State, &mut Potentials)>) {
    for (state, potentials) in &mut envs {
        let potentials = potentials.into_inner();
        for (a, &r) in state.resources.iter().enumerate() {
            potentials.set(AgentId(a as u32), RESOURCES, r);
        }
    }
}

/// Potential: own resources.
pub const RESOURCES: PotentialId = PotentialId(0);

static POTENTIALS: [PotentialInfo; 1] = [PotentialInfo {
    name: "resources",
    summary: "own resources (restarting at each game's first round)",
}];

/// Every acting scripted agent decides from its observation row (a strategy is a pure function
/// of it).
fn decide(
    strategies: Res<Strategies<Strategy>>,
    mut envs: Query<(&State, &Turn, &Observations, &mut Actions), Stepping>,
) {
    for (state, turn, obs, actions) in &mut envs {
        let actions = actions.into_inner();
        for (a, strategy) in strategies.iter().filter(|&(a, _)| turn.is_acting(a)) {
            let (kind, share) = strategy.decide(obs.0.row(a));
            match actions.0.row_mut(a) {
                [s] => *s = share as f32,
                [k, s] => {
                    *k = (state.config.move_list().position(|m| m == kind)).unwrap_or(0) as f32;
                    *s = share as f32;
                }
                _ => unreachable!("action rows have 1 or 2 entries"),
            }
        }
    }
}

#[allow(clippy::type_complexity)]
fn resolve(
    mut envs: Query<
        (
            &Observations,
            &Turn,
            &Actions,
            &mut State,
            &mut Utterances,
            &mut Events,
        ),
        Stepping,
    >,
    strategies: Res<Strategies<Strategy>>,
) {
    for (obs, turn, actions, state, utterances, events) in &mut envs {
        let (state, utterances, events) = (
            state.into_inner(),
            utterances.into_inner(),
            events.into_inner(),
        );
        resolve_env(&strategies, obs, turn, actions, state, utterances, events);
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_env(
    strategies: &Strategies<Strategy>,
    obs: &Observations,
    turn: &Turn,
    actions: &Actions,
    state: &mut State,
    utterances: &mut Utterances,
    events: &mut Events,
) {
    let n = state.resources.len();
    events.clear();
    for d in 0..n {
        let donor = AgentId(d as u32);
        let Some(recipient) = state.recipient[d].get().filter(|_| turn.is_acting(donor)) else {
            continue;
        };
        let (kind, share) = match actions.0.row(donor) {
            [s] => (Move::Give, *s as f64),
            [k, s] => {
                let kind = state.config.move_list().nth(*k as usize);
                (
                    kind.expect("the action mask allows the donor's moves"),
                    *s as f64,
                )
            }
            _ => unreachable!("action rows have 1 or 2 entries"),
        };
        let share = if kind == Move::Refuse { 0.0 } else { share };
        let held = state.resources[d];
        let amount = share * held;
        let r = recipient.index();
        let before = state.resources[r];
        state.resources[d] -= amount;
        state.resources[r] = match kind {
            Move::Give => before + state.config.multiplier.get() * amount,
            Move::Punish => (before - state.config.punishment_loss.get() * amount).max(0.0),
            Move::Refuse => before,
        };
        let shown = if kind == Move::Punish { -share } else { share };
        let depth = state.config.trace_depth as usize;
        if depth > 0 {
            // The donor's trace: this donation, then the recipient's trace (which this round
            // leaves alone: recipients do not donate in it).
            let (d0, r0) = (d * depth, r * depth);
            state.traces[d0] = Some(Donation {
                share: shown as f32,
                refused: kind == Move::Refuse,
            });
            state.traces.copy_within(r0..r0 + depth - 1, d0 + 1);
        }
        let image_change = shown - state.image[d];
        state.image[d] = shown;
        let act = Act {
            kind: kind.name(),
            target: Some(recipient),
            value: amount,
        };
        let utterance = utterances.say(donor, Audience::Agent(recipient), act, || {
            // Looked up only for the text: a training run never pays for the lookup.
            let strategy = strategies.get(donor);
            let what = match kind {
                Move::Give => format!(
                    "gives {amount:.2} of its {held:.2} ({:.0}%) to",
                    share * 100.0
                ),
                Move::Punish => format!("pays {amount:.2} of its {held:.2} to punish"),
                Move::Refuse => "refuses to play with".to_owned(),
            };
            let reason = strategy.map(|s| format!(": {}", s.reason(obs.0.row(donor))));
            format!("{donor} {what} {recipient}{}", reason.unwrap_or_default())
        });
        events.push(
            utterance,
            Event {
                donor,
                recipient,
                kind,
                amount,
                share,
                recipient_change: state.resources[r] - before,
                image_change,
            },
        );
    }
}

/// Reward components: payoff (what each side gained or lost) and the donor's image change, each
/// attributed to the donation.
fn reward(mut envs: Query<(&Events, &mut RewardLedger), Stepping>) {
    for (events, ledger) in &mut envs {
        let mut ledger = ledger.into_inner().writer();
        for (utterance, e) in events.said() {
            if e.kind != Move::Refuse {
                ledger.add(e.donor, utterance, PAYOFF, -e.amount);
                ledger.add(e.recipient, utterance, PAYOFF, e.recipient_change);
            }
            ledger.add(e.donor, utterance, REPUTATION, e.image_change);
        }
    }
}

fn record(mut envs: Query<(&Clock, &State, &Events, &mut Metrics, &mut Done), Stepping>) {
    for (clock, state, events, metrics, done) in &mut envs {
        let metrics = metrics.into_inner();
        for e in events.events() {
            metrics.record(
                COOPERATION,
                if e.kind == Move::Give { e.share } else { 0.0 },
            );
        }
        let rounds = state.config.rounds.get();
        if clock.step() % rounds == rounds - 1 {
            let n = state.resources.len() as f64;
            metrics.record(FINAL_RESOURCES, state.resources.iter().sum::<f64>() / n);
        }
        if clock.step() + 1 >= state.config.steps() {
            done.into_inner().terminate_all();
        }
    }
}
