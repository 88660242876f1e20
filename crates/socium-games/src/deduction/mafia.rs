//! Mafia / Werewolf: an informed minority (the mafia) among an uninformed majority (the town).
//!
//! Rules after Braverman, Etesami & Mossel (2008, "Mafia: A theoretical study of players and
//! coalitions in a partial information environment", Annals of Applied Probability 18(3)): `n`
//! players, `m` of them mafia who know each other; the game starts by day. Each day the living
//! players may talk (`discussion` messages each, in a shuffled round robin: accuse or vouch for a
//! player, or stay silent), then all vote at once; the player with most votes is lynched (a tie is
//! broken uniformly at random, so uniformly random voters lynch a uniformly random player, the
//! paper's "random lynching"; nobody is lynched if everyone abstains). Each night the mafia choose
//! a citizen to kill (most mafia votes, ties broken at random). A dead player's role is revealed.
//! The town wins when no mafia is left; the mafia win as soon as they are at least as many as
//! the town. Optional roles, as in Werewolf Arena (Bailis, Friedhoff & Chen 2024, "Werewolf
//! Arena: A Case Study in LLM Evaluation via Social Deduction", arXiv 2407.13943): a **seer**
//! learns one living player's role each night, a **doctor** protects one living player from
//! that night's kill. Roles are dealt at random at every reset. Werewolf Arena's other rules are
//! options: the game may open by night ([`Start::Night`]: the mafia kill before anyone speaks),
//! and a lynch may need the votes of more than half the living players ([`Lynch::Majority`],
//! google/werewolf_arena's `GameMaster.exile`), nobody being lynched without them.
//!
//! With [`Speaking::Bidding`] the day's talk is Werewolf Arena's debate instead: `discussion`
//! turns, each given by bidding. Every living player but the last speaker bids 0..4 for the
//! floor (a `Bid` stage, the bid sent as act 0..4); the highest bid speaks, a tie broken at
//! random with a player the last message named (accused or vouched for) counted twice, as the
//! paper's code does (google/werewolf_arena, `GameMaster.get_next_speaker`).
//!
//! The action of `n` players is `Tuple(Discrete(1 + 2n), Simplex(n))`: an act and a belief.
//! Acts: `0` skip (stay silent, abstain); `1 + j` aim at player `j` (accuse in discussion, vote
//! by day, kill / investigate / protect by night); `1 + n + j` vouch for `j` (discussion only).
//! The action mask (over the acts) says which are legal for whom in each phase.
//!
//! The belief is over who is mafia, the dead included: `b_j = P(j is mafia) / m`, the
//! probability mass that player `j` is mafia normalised over the players (the marginal
//! probabilities of `m` mafia sum to `m`). Its belief in the truth, read as in the Among Us-style
//! game, is `p = Σ b_j` over the true mafia `j`: for one mafia the probability of the true
//! mafia member, for `m` the mean of the true members' marginal probabilities; 1 exactly when the
//! belief is certain of the true mafia set. Scripted players state the posterior given the roles
//! they know, the deal being uniform ([`posterior`]); the others' beliefs are what they stated
//! last, and every player's is in its observation. The `information` reward dimension (IGPO,
//! arXiv 2510.14967) gives a living citizen, whenever its `p` moves, the change in `ln p`
//! (floored at ln 10⁻⁶), on a private `believe` utterance stating `p`; the `belief` potential is
//! a citizen's `p` (0 for the mafia), for potential-based shaping.
//!
//! For an agent that reads (a language model), [`Rules::prompt`] renders a player's situation
//! from its observation row and action mask: the rules, its role, what it knows and its legal acts.

use super::{Talk, players, times};
use bevy_ecs::prelude::*;
use rand::{Rng, seq::SliceRandom};
use serde::Deserialize;
use socium_core::{
    Act, ActionMasks, Actions, AgentId, AgentSpec, Agents, Audience, Controller, DimId,
    DimensionInfo, Done, GameBuilder, MetricId, MetricInfo, Metrics, Observations, Phase,
    PotentialId, PotentialInfo, Potentials, Prompt, Resetting, RewardLedger, Roles, Rules, SimRng,
    Space, Stepping, Strategies, StrategyInfo, Turn, TurnOrder, UtteranceId, Utterances,
    bounded::Count,
};
use std::fmt::Write as _;

/// The most players: each observes every player (8 entries each) and remembers what it learned
/// of each, so memory grows as the square of the players (a thousand: 32 MB of observations).
pub const MAX_PLAYERS: usize = 1000;

/// Lowest probability the information gain takes the log of (a belief of 0 would give −∞).
pub const INFORMATION_FLOOR: f64 = 1e-6;

/// The most messages of a day's discussion (2^20).
pub const MAX_MESSAGES: u64 = 1 << 20;

/// Settings of `[game.mafia]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MafiaConfig {
    /// Mafia players (fewer than the town).
    pub mafia: Count,
    /// Whether one citizen is a seer.
    pub seer: bool,
    /// Whether one citizen is a doctor.
    pub doctor: bool,
    /// Messages each living player says per day before the vote (0: no discussion); with
    /// [`Speaking::Bidding`], the day's debate turns in all.
    pub discussion: u32,
    /// Who speaks when in the day's talk.
    pub speaking: Speaking,
    /// Whether the game opens by day or by night.
    pub start: Start,
    /// How many votes lynch a player.
    pub lynch: Lynch,
}

/// The phase the game opens with.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// Day first, as Braverman et al.'s model.
    #[default]
    Day,
    /// Night first: the mafia kill before anyone has spoken, as in Werewolf Arena.
    Night,
}

/// How many votes lynch a player.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Lynch {
    /// The most votes, a tie broken uniformly at random (nobody when everyone abstains).
    #[default]
    Plurality,
    /// More than half the living players' votes, else nobody (Werewolf Arena's exile).
    Majority,
}

/// Who speaks when in the day's talk.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Speaking {
    /// Every living player `discussion` times, each round in a fresh random order.
    #[default]
    RoundRobin,
    /// Werewolf Arena's debate: `discussion` turns, each to the highest bidder.
    Bidding,
}

impl Default for MafiaConfig {
    fn default() -> Self {
        MafiaConfig {
            mafia: Count::new(1).expect("in range"),
            seer: false,
            doctor: false,
            discussion: 0,
            speaking: Speaking::RoundRobin,
            start: Start::Day,
            lynch: Lynch::Plurality,
        }
    }
}

/// A player's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A plain citizen.
    Villager,
    /// A member of the mafia.
    Mafia,
    /// A citizen who investigates one player each night.
    Seer,
    /// A citizen who protects one player each night.
    Doctor,
}

/// The roles in the order of the observation's role block.
const ROLES: [Role; 4] = [Role::Villager, Role::Mafia, Role::Seer, Role::Doctor];

impl Role {
    fn is_mafia(self) -> bool {
        self == Role::Mafia
    }

    /// The role as the transcript's roles line names it.
    fn key(self) -> &'static str {
        match self {
            Role::Villager => "villager",
            Role::Mafia => "mafia",
            Role::Seer => "seer",
            Role::Doctor => "doctor",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Villager => "a villager",
            Role::Mafia => "mafia",
            Role::Seer => "the seer",
            Role::Doctor => "the doctor",
        }
    }
}

/// Where the day is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// One player speaks.
    Discussion,
    /// Every living player votes.
    Vote,
    /// The mafia, seer and doctor act.
    Night,
    /// Every living player but the last speaker bids for the floor ([`Speaking::Bidding`]).
    Bid,
}

/// The stages in the order of the observation's stage block.
const STAGES: [Stage; 4] = [Stage::Discussion, Stage::Vote, Stage::Night, Stage::Bid];

/// The highest bid for the floor: "someone addressed me directly" in Werewolf Arena's scale
/// (0 "I would rather listen" up to it).
pub const MAX_BID: usize = 4;

/// Observation layout for `n` players; each block is `n` entries unless said otherwise.
pub mod obs {
    /// Own role, one-hot: villager, mafia, seer, doctor (4 entries).
    pub const ROLE: usize = 0;
    /// Stage, one-hot: discussion, vote, night, bid (4 entries).
    pub const STAGE: usize = 4;
    /// Days begun, as a fraction of the players (1 entry).
    pub const DAY: usize = 8;
    /// 1 when the last message of today's debate named this player (accused or vouched for
    /// it; with bidding only).
    pub const NAMED: usize = 9;
    /// Start of the per-player blocks.
    const BLOCKS: usize = 10;
    /// Which player this is, one-hot.
    pub fn me(_n: usize) -> usize {
        BLOCKS
    }
    /// Who is alive.
    pub fn alive(n: usize) -> usize {
        BLOCKS + n
    }
    /// Known to be mafia (revealed at death, a teammate, or found by the seer).
    pub fn known_mafia(n: usize) -> usize {
        BLOCKS + 2 * n
    }
    /// Known to be town.
    pub fn known_town(n: usize) -> usize {
        BLOCKS + 3 * n
    }
    /// Accusations against each player today, per living player.
    pub fn accused(n: usize) -> usize {
        BLOCKS + 4 * n
    }
    /// Vouches for each player today, per living player.
    pub fn vouched(n: usize) -> usize {
        BLOCKS + 5 * n
    }
    /// Votes each player received at the last vote, per voter.
    pub fn votes(n: usize) -> usize {
        BLOCKS + 6 * n
    }
    /// This player's belief: the share of the mafia it gives each player (`P(j is mafia) / m`,
    /// summing to 1), as it last stated it (a scripted player's: its posterior).
    pub fn belief(n: usize) -> usize {
        BLOCKS + 7 * n
    }
    /// Entries.
    pub fn dim(n: usize) -> usize {
        BLOCKS + 8 * n
    }
}

/// Reward dimension: +1 to every member of the winning side, −1 to the losers, at the end.
pub const WIN: DimId = DimId(0);
/// Reward dimension: +1 to a citizen for each vote against a mafia member.
pub const VOTE: DimId = DimId(1);
/// Reward dimension: a citizen's information gain (IGPO, arXiv 2510.14967), the step's change in
/// the log-probability its belief gives the true mafia, on a private `believe` utterance; over
/// an episode it sums to `ln p_T − ln p_0`.
pub const INFORMATION: DimId = DimId(2);

static DIMENSIONS: [DimensionInfo; 3] = [
    DimensionInfo {
        name: "win",
        summary: "+1 to the winning side, −1 to the losing side, when the game ends",
        default_weight: 1.0,
        range: Some((-1.0, 1.0)),
    },
    DimensionInfo {
        name: "vote",
        summary: "+1 to a citizen for a vote against a mafia member",
        default_weight: 0.0,
        range: None,
    },
    DimensionInfo {
        name: "information",
        summary: "a citizen's information gain: the step's change in the log-probability its \
                  belief gives the true mafia (IGPO)",
        default_weight: 0.0,
        range: None,
    },
];

/// Potential: a citizen's belief in the true mafia, `p` (0 for the mafia; a dead citizen's stays
/// as it was at its death).
pub const BELIEF: PotentialId = PotentialId(0);

static POTENTIALS: [PotentialInfo; 1] = [PotentialInfo {
    name: "belief",
    summary: "a citizen's belief in the true mafia (the summed share its belief gives them); 0 \
              for the mafia",
}];

/// Metric: 1 when the mafia won the episode, 0 when the town did.
pub const MAFIA_WIN: MetricId = MetricId(0);
/// Metric: days begun before the game ended.
pub const DAYS: MetricId = MetricId(1);
/// Metric: 1 when the town won the episode, 0 when the mafia did.
pub const TOWN_WIN: MetricId = MetricId(2);

static METRICS: [MetricInfo; 3] = [
    MetricInfo {
        name: "mafia_win",
        summary: "1 when the mafia won the episode, 0 when the town won",
    },
    MetricInfo {
        name: "days",
        summary: "days begun before the game ended",
    },
    MetricInfo {
        name: "town_win",
        summary: "1 when the town won the episode, 0 when the mafia won",
    },
];

strategies! {
    static STRATEGIES, fn strategy -> Strategy = [
        StrategyInfo {
            name: "random",
            summary: "silent; votes, kills, investigates and protects uniformly among the legal targets",
            params: &[],
        } => |_| Strategy::Random,
        StrategyInfo {
            name: "informed",
            summary: "accuses and votes for a player it knows is mafia (else random); the mafia vote \
                      for a random citizen; the seer investigates unknown players",
            params: &[],
        } => |_| Strategy::Informed,
    ]
}

/// A scripted player. Both strategies decide from the player's own observation row and action
/// mask alone: neither reads a role the player does not know. Both state the belief of their row,
/// the posterior given the roles they know ([`posterior`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Uniform among the legal targets; never speaks or abstains.
    Random,
    /// Uses what it knows: a known mafia member is accused and voted for.
    Informed,
}

/// The game's state.
#[derive(Component, Clone, Debug)]
struct State {
    config: MafiaConfig,
    roles: Vec<Role>,
    alive: Vec<bool>,
    /// `known[a][j]`: what `a` knows of `j`'s role.
    known: Vec<Vec<Option<Role>>>,
    stage: Stage,
    day: u32,
    /// Speakers left today, in speaking order (with bidding: the bid's winner).
    speakers: Vec<AgentId>,
    /// Debate turns left today (with bidding).
    debate_left: u32,
    /// The last speaker of today's debate and whom its message named (with bidding).
    last_message: Option<(AgentId, Option<AgentId>)>,
    accused: Vec<u32>,
    vouched: Vec<u32>,
    votes: Vec<u32>,
    voters: u32,
    /// `belief[a][j]`: player `a`'s share of the mafia on `j` (`P(j is mafia) / m`): the
    /// posterior for a scripted player, the belief it last stated for any other.
    belief: Vec<Vec<f64>>,
    /// Whose beliefs the game computes: its scripted players'.
    scripted: Vec<bool>,
    /// Each citizen's belief in the true mafia when last measured, and its log (floored at
    /// [`INFORMATION_FLOOR`]): the baseline of its information gain.
    truth: Vec<(f64, f64)>,
    /// Whether a role became known to someone this step (a reveal, an investigation).
    learned: bool,
    /// The mafia members, dead or alive.
    mafia: Vec<usize>,
}

impl State {
    /// Clears the day's talk: its accusations, vouches, floor and last message (a floor won
    /// just before a step limit ended the last episode included).
    fn forget_talk(&mut self) {
        self.accused.fill(0);
        self.vouched.fill(0);
        self.speakers.clear();
        self.last_message = None;
    }

    fn living(&self) -> impl Iterator<Item = AgentId> + '_ {
        (0..self.alive.len())
            .filter(|&a| self.alive[a])
            .map(|a| AgentId(a as u32))
    }

    fn count(&self, mafia: bool) -> usize {
        self.living()
            .filter(|a| self.roles[a.index()].is_mafia() == mafia)
            .count()
    }

    /// The winner, if the game is over: `Some(true)` for the mafia.
    fn winner(&self) -> Option<bool> {
        let (mafia, town) = (self.count(true), self.count(false));
        if mafia == 0 {
            Some(false)
        } else if mafia >= town {
            Some(true)
        } else {
            None
        }
    }

    /// Reveals `a`'s role to everyone (at death).
    fn reveal(&mut self, a: AgentId) {
        let role = self.roles[a.index()];
        for known in &mut self.known {
            known[a.index()] = Some(role);
        }
        self.learned = true;
    }

    /// Every living scripted citizen's belief becomes its posterior (a dead player's stays as it
    /// was; a mafia member's is its team from the deal on); `all`: every player's (at the deal,
    /// what an outside player sees in its observation until it states a belief).
    fn refresh_beliefs(&mut self, all: bool) {
        let m = self.config.mafia.get() as usize;
        for a in 0..self.roles.len() {
            let citizen = !self.roles[a].is_mafia();
            if all || (self.scripted[a] && self.alive[a] && citizen) {
                posterior(&self.known[a], m, &mut self.belief[a]);
            }
        }
    }

    /// The probability `a`'s belief gives the true mafia: the summed share it gives them.
    fn belief_in_mafia(&self, a: usize) -> f64 {
        self.mafia.iter().map(|&j| self.belief[a][j]).sum()
    }

    /// Each living citizen's information gain since it was last measured (IGPO, arXiv
    /// 2510.14967): the change in the log-probability its belief gives the true mafia (floored
    /// at [`INFORMATION_FLOOR`]); `gained(a, gain, p)` for each whose belief in the truth `p`
    /// moved. At a reset every baseline is set and nothing is reported.
    fn information(&mut self, reset: bool, mut gained: impl FnMut(usize, f64, f64)) {
        for a in 0..self.roles.len() {
            if self.roles[a].is_mafia() || !(self.alive[a] || reset) {
                continue;
            }
            let p = self.belief_in_mafia(a);
            if p == self.truth[a].0 && !reset {
                continue;
            }
            let log = p.max(INFORMATION_FLOOR).ln();
            let gain = log - self.truth[a].1;
            self.truth[a] = (p, log);
            if !reset && gain != 0.0 {
                gained(a, gain, p);
            }
        }
    }
}

/// The belief of a player who knows the roles `known` (its own, its team's, the revealed dead's,
/// what it found as the seer), among `m` mafia dealt uniformly at random: a known mafia member
/// is mafia with probability 1, a known citizen with 0, and the `m − k` mafia it has not found
/// (`k` known) are equally likely to be any of the `u` players whose roles it does not know,
/// `(m − k) / u` each; each probability divided by `m` into `out`, so that `out` sums to 1. It
/// reads nothing but the roles the player knows (the blocks `known_mafia` and `known_town` of
/// its observation), and ignores what the others say and do.
pub fn posterior(known: &[Option<Role>], m: usize, out: &mut [f64]) {
    let (mut found, mut unknown) = (0, 0);
    for k in known {
        match k {
            Some(role) => found += usize::from(role.is_mafia()),
            None => unknown += 1,
        }
    }
    let hidden = match unknown {
        0 => 0.0,
        u => m.saturating_sub(found) as f64 / u as f64,
    };
    for (b, k) in out.iter_mut().zip(known) {
        let p = match k {
            Some(role) => f64::from(u8::from(role.is_mafia())),
            None => hidden,
        };
        *b = p / m as f64;
    }
}

/// What happened at a step, for the reward components and metrics.
#[derive(Component, Debug, Default)]
struct Events {
    /// Citizens' votes against mafia members.
    good_votes: Vec<(AgentId, UtteranceId)>,
    /// Citizens' information gains, each on the `believe` utterance stating the new belief.
    information: Vec<(AgentId, UtteranceId, f64)>,
    /// The game's end: the mafia won, and the reveal that decided it.
    end: Option<(bool, UtteranceId)>,
}

/// Player `agent`'s situation in words, among `n` players, from its observation row and action
/// mask: the rules (Braverman, Etesami & Mossel's, with the settings' Werewolf Arena roles,
/// debate, opening night and majority) and its role; the day and stage, who
/// is alive, the roles it knows, today's accusations and vouches, the last vote and its belief;
/// its legal acts.
fn prompt(config: &MafiaConfig, n: usize, agent: AgentId, row: &[f32], mask: &[u8]) -> Prompt {
    let flag = |at: usize| row[at] > 0.5;
    let one_hot = |at: usize, len: usize| (0..len).find(|&k| flag(at + k)).unwrap_or(0);
    let (role, stage) = (
        ROLES[one_hot(obs::ROLE, ROLES.len())],
        STAGES[one_hot(obs::STAGE, STAGES.len())],
    );
    let me = agent.index();
    let m = config.mafia.get();
    let mut rules = format!(
        "You play Mafia (also called Werewolf) with {n} players, player 0 to player {}. {} the \
         others are the town",
        n - 1,
        match m {
            1 => "One of them is mafia;".to_owned(),
            _ => format!("{m} of them are mafia, who know each other;"),
        }
    );
    match (config.seer, config.doctor) {
        (true, true) => rules.push_str(", among them a seer and a doctor"),
        (true, false) => rules.push_str(", among them a seer"),
        (false, true) => rules.push_str(", among them a doctor"),
        (false, false) => {}
    }
    rules.push_str(match config.start {
        Start::Day => ". The game starts by day. Each day ",
        Start::Night => ". The game starts by night. Each day ",
    });
    match (config.discussion, config.speaking) {
        (0, _) => rules.push_str("the living players vote all at once"),
        (d, Speaking::RoundRobin) => write!(
            rules,
            "the living players first talk, {} each in a shuffled round robin: accuse a player \
             of being mafia, vouch for one, or stay silent; then they vote all at once",
            times(d)
        )
        .expect("writing to a String"),
        (d, Speaking::Bidding) => write!(
            rules,
            "the living players first debate for {d} turns. Before each turn every living \
             player but the last speaker bids 0 to {MAX_BID} for the floor, and the highest \
             bid speaks (a tie is broken at random, favouring a player the last speaker named): \
             accuse a player of being mafia, vouch for one, or stay silent. Then they vote all \
             at once"
        )
        .expect("writing to a String"),
    }
    rules.push_str(match config.lynch {
        Lynch::Plurality => {
            ": the player with the most votes is lynched (a tie is broken at random; nobody is \
             lynched if everyone abstains)"
        }
        Lynch::Majority => {
            ": a player is lynched only with the votes of more than half the living players; \
             without such a majority nobody is"
        }
    });
    rules.push_str(
        ". Each night the mafia choose a citizen to kill (the most mafia votes, ties broken at \
         random)",
    );
    if config.seer {
        rules.push_str("; the seer learns one living player's role");
    }
    if config.doctor {
        rules.push_str("; the doctor protects one living player from that night's kill");
    }
    rules.push_str(
        ". A dead player's role is revealed to all. The town wins when no mafia is left; the \
         mafia win as soon as they are at least as many as the town. With every act each player \
         states its belief of who is mafia, the dead included: a weight for each player, how \
         likely it is mafia.",
    );
    write!(rules, "\nYou are player {me}, {}", role.name()).expect("writing to a String");
    match role {
        Role::Mafia => {
            let team = players((0..n).filter(|&j| j != me && flag(obs::known_mafia(n) + j)));
            if let Some(team) = team {
                write!(rules, " with {team}").expect("writing to a String");
            }
            rules.push_str(": kill and mislead the town until you are as many as they are.");
        }
        Role::Seer => rules.push_str(
            ": each night you learn one living player's role. Find the mafia and lynch them.",
        ),
        Role::Doctor => rules.push_str(
            ": each night you protect one living player, yourself too, from the kill. Find the \
             mafia and lynch them.",
        ),
        Role::Villager => {
            rules.push_str(": you know only your own role. Find the mafia and lynch them.")
        }
    }

    let alive = |j: usize| flag(obs::alive(n) + j);
    let living = (0..n).filter(|&j| alive(j)).count().max(1) as f32;
    let day = match row[obs::DAY] >= 1.0 {
        true => format!("{n} or later"),
        false => format!("{:.0}", row[obs::DAY] * n as f32),
    };
    let speaking = mask.iter().any(|&m| m != 0);
    let mut s = String::new();
    if !alive(me) {
        s.push_str("You are dead: the game goes on without you.\n");
    }
    match stage {
        Stage::Discussion => write!(
            s,
            "Day {day}, discussion: {}",
            match speaking {
                true => "it is your turn to speak.",
                false => "another player speaks.",
            }
        ),
        Stage::Vote => write!(s, "Day {day}, the vote: every living player votes at once."),
        Stage::Bid => write!(
            s,
            "Day {day}, the debate: {}",
            match speaking {
                true => "bid for the next turn to speak.",
                false => "the others bid for the next turn to speak.",
            }
        ),
        Stage::Night => write!(
            s,
            "Night {day}: {}",
            match role {
                Role::Mafia => "the mafia choose a citizen to kill.",
                Role::Seer => "you choose a player to investigate.",
                Role::Doctor => "you choose a player to protect.",
                Role::Villager => "you sleep.",
            }
        ),
    }
    .expect("writing to a String");
    if flag(obs::NAMED) {
        s.push_str("\nThe last speaker named you.");
    }
    if let Some(list) = players((0..n).filter(|&j| alive(j))) {
        write!(s, "\nAlive: {list}.").expect("writing to a String");
    }
    let dead: Vec<String> = (0..n)
        .filter(|&j| !alive(j))
        .map(|j| match flag(obs::known_mafia(n) + j) {
            true => format!("player {j} (mafia)"),
            false => format!("player {j} (town)"),
        })
        .collect();
    if !dead.is_empty() {
        write!(s, "\nDead, roles revealed: {}.", dead.join(", ")).expect("writing to a String");
    }
    let known: Vec<String> = (0..n)
        .filter(|&j| j != me && alive(j))
        .filter_map(
            |j| match (flag(obs::known_mafia(n) + j), flag(obs::known_town(n) + j)) {
                (true, _) => Some(format!("player {j} is mafia")),
                (_, true) => Some(format!("player {j} is town")),
                _ => None,
            },
        )
        .collect();
    match known.is_empty() {
        true => s.push_str("\nYou know no living player's role but your own."),
        false => write!(s, "\nYou know that {}.", known.join(", ")).expect("writing to a String"),
    }
    // Today's accusations and vouches: counts per living player, capped at 1 (as many as the
    // living players, or more).
    for (at, what) in [
        (obs::accused(n), "Accusations today"),
        (obs::vouched(n), "Vouches today"),
    ] {
        let counts: Vec<String> = (0..n)
            .filter(|&j| row[at + j] > 0.0)
            .map(|j| match row[at + j] >= 1.0 {
                true => format!("player {j} ({living} or more)"),
                false => format!("player {j} ({:.0})", row[at + j] * living),
            })
            .collect();
        if !counts.is_empty() {
            write!(s, "\n{what}: {}.", counts.join(", ")).expect("writing to a String");
        }
    }
    let votes: Vec<String> = (0..n)
        .filter(|&j| row[obs::votes(n) + j] > 0.0)
        .map(|j| format!("player {j} {:.0}%", 100.0 * row[obs::votes(n) + j]))
        .collect();
    if !votes.is_empty() {
        write!(
            s,
            "\nShares of the votes cast at the last vote: {}.",
            votes.join(", ")
        )
        .expect("writing to a String");
    }
    let belief: Vec<String> = (0..n)
        .map(|j| format!("player {j} {:.0}%", 100.0 * row[obs::belief(n) + j]))
        .collect();
    write!(
        s,
        "\nYour belief so far, the share of the mafia you give each player: {}. With your act, \
         state your belief now: a weight for each player, how likely it is mafia.",
        belief.join(", ")
    )
    .expect("writing to a String");

    let acts = Prompt::legal_acts(1 + 2 * n, mask, |a| describe(a, n, me, role, stage));
    Prompt {
        rules,
        situation: s,
        acts,
        amount: None,
    }
}

/// Act `act` of player `me` (its role at this stage) in words.
fn describe(act: usize, n: usize, me: usize, role: Role, stage: Stage) -> String {
    let j = act.wrapping_sub(1);
    match (act, stage) {
        (_, Stage::Bid) => {
            let why = [
                "listen for now",
                "share general thoughts",
                "say something specific and important",
                "it is urgent that you speak next",
                "you were addressed directly and must answer",
            ];
            format!("bid {act}: {}", why[act])
        }
        (0, Stage::Discussion) => "stay silent".into(),
        (0, Stage::Vote) => "abstain".into(),
        (0, Stage::Night) => "do nothing".into(),
        _ if j >= n => format!("vouch for player {}: say you trust them", j - n),
        (_, Stage::Discussion) => format!("accuse player {j}: say they are mafia"),
        (_, Stage::Vote) => format!("vote to lynch player {j}"),
        (_, Stage::Night) => match role {
            Role::Mafia => format!("kill player {j}"),
            Role::Seer => format!("investigate player {j}"),
            Role::Doctor if j == me => format!("protect player {j} (yourself)"),
            Role::Doctor => format!("protect player {j}"),
            Role::Villager => format!("choose player {j}"),
        },
    }
}

impl Rules for MafiaConfig {
    fn prompt(&self, agents: usize, agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
        prompt(self, agents, agent, obs, mask)
    }

    fn observation_space(&self, agents: usize) -> Space {
        Space::uniform_box(obs::dim(agents), 0.0, 1.0)
    }

    fn action_space(&self, agents: usize) -> Space {
        Space::Tuple(vec![
            Space::Discrete {
                n: 1 + 2 * agents as u32,
            },
            Space::Simplex { n: agents as u32 },
        ])
    }

    fn turn_order(&self) -> TurnOrder {
        TurnOrder::Chosen
    }

    fn reward_dimensions(&self) -> &'static [DimensionInfo] {
        &DIMENSIONS
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

    fn check(&self, agents: &[AgentSpec]) -> Result<(), String> {
        let (n, m) = (agents.len(), self.mafia.get() as usize);
        if n > MAX_PLAYERS {
            return Err(format!(
                "observations and memories grow as the square of the players: expected at most \
                 {MAX_PLAYERS} players, found {n}"
            ));
        }
        let d = self.discussion;
        match self.speaking {
            Speaking::RoundRobin if n as u64 * d as u64 > MAX_MESSAGES => {
                return Err(format!(
                    "{n} players saying {d} messages each in a day's discussion: expected at \
                     most {MAX_MESSAGES} messages in all"
                ));
            }
            Speaking::Bidding if d as u64 > MAX_MESSAGES => {
                return Err(format!(
                    "a debate of {d} turns a day: expected at most {MAX_MESSAGES}"
                ));
            }
            _ => {}
        }
        // Fewer mafia than town leaves at least 2 town (mafia ≥ 1), room for the seer and the
        // doctor.
        if 2 * m >= n {
            return Err(format!(
                "{m} mafia among {n} players: the mafia must be fewer than the town"
            ));
        }
        Ok(())
    }

    fn build(&self, game: &mut GameBuilder) {
        let n = game.agent_count();
        game.insert_strategies(strategy);
        let state = State {
            config: self.clone(),
            roles: vec![Role::Villager; n],
            alive: vec![true; n],
            known: vec![vec![None; n]; n],
            stage: Stage::Vote,
            day: 0,
            speakers: Vec::new(),
            debate_left: 0,
            last_message: None,
            accused: vec![0; n],
            vouched: vec![0; n],
            votes: vec![0; n],
            voters: 0,
            belief: vec![vec![0.0; n]; n],
            scripted: vec![false; n],
            truth: vec![(0.0, 0.0); n],
            learned: false,
            mafia: Vec::new(),
        };
        game.env_component(|| state.clone())
            .env_component(Events::default)
            .add_systems(Phase::Reset, reset)
            .add_systems(Phase::Observe, turns_and_observations)
            .add_systems(Phase::Decide, decide)
            .add_systems(Phase::Resolve, resolve)
            .add_systems(Phase::Reward, reward)
            .add_systems(Phase::Record, record);
        if game.shapes() {
            game.add_systems(Phase::Observe, belief_potential);
        }
    }
}

/// Starts the next day: talk if the scenario has discussion, else vote.
fn start_day(state: &mut State, rng: &mut impl Rng) {
    state.day += 1;
    state.forget_talk();
    let talk = state.config.discussion;
    state.stage = match state.config.speaking {
        Speaking::RoundRobin => {
            let living: Vec<AgentId> = state.living().collect();
            state.speakers = super::speaking_order(&living, talk, Talk::Reshuffled, rng);
            match state.speakers.is_empty() {
                true => Stage::Vote,
                false => Stage::Discussion,
            }
        }
        Speaking::Bidding => {
            state.debate_left = talk;
            match talk {
                0 => Stage::Vote,
                _ => Stage::Bid,
            }
        }
    };
}

/// The floor's winner among `bids` (a bid for each player who bid): the highest bid, a tie
/// broken uniformly at random over the tied players with the one `named` by the last message
/// listed twice (Werewolf Arena's `get_next_speaker`).
fn floor(bids: &[(AgentId, usize)], named: Option<AgentId>, rng: &mut impl Rng) -> AgentId {
    let top = bids.iter().map(|b| b.1).max().expect("someone bids");
    let mut tied: Vec<AgentId> = bids.iter().filter(|b| b.1 == top).map(|b| b.0).collect();
    if let Some(named) = named.filter(|n| tied.contains(n)) {
        tied.push(named);
    }
    tied[rng.random_range(0..tied.len())]
}

/// Deals the roles at random; the mafia know each other, everyone knows themselves.
fn reset(agents: Res<Agents>, mut envs: Query<(&mut State, &mut SimRng, &mut Roles), Resetting>) {
    for (state, rng, mut roles) in &mut envs {
        let state = state.into_inner();
        reset_env(state, &agents, rng.into_inner());
        for (a, role) in agents.ids().zip(&state.roles) {
            roles.set(a, role.key());
        }
    }
}

fn reset_env(state: &mut State, agents: &Agents, rng: &mut SimRng) {
    for a in agents.ids() {
        state.scripted[a.index()] = matches!(agents.controller(a), Controller::Scripted(_));
    }
    let n = state.roles.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng.chance);
    let m = state.config.mafia.get() as usize;
    state.roles.fill(Role::Villager);
    let specials = [
        (state.config.seer, Role::Seer),
        (state.config.doctor, Role::Doctor),
    ];
    let mut next = order.iter();
    for &a in next.by_ref().take(m) {
        state.roles[a] = Role::Mafia;
    }
    for (present, role) in specials {
        if present && let Some(&a) = next.next() {
            state.roles[a] = role;
        }
    }
    state.alive.fill(true);
    for (a, known) in state.known.iter_mut().enumerate() {
        for (j, k) in known.iter_mut().enumerate() {
            let mafia_pair = state.roles[a].is_mafia() && state.roles[j].is_mafia();
            *k = (a == j || mafia_pair).then_some(state.roles[j]);
        }
    }
    state.mafia = (0..n).filter(|&a| state.roles[a].is_mafia()).collect();
    state.refresh_beliefs(true);
    state.information(true, |_, _, _| {});
    state.learned = false;
    state.day = 0;
    state.votes.fill(0);
    state.voters = 0;
    match state.config.start {
        Start::Day => start_day(state, &mut rng.chance),
        Start::Night => {
            state.forget_talk();
            state.stage = Stage::Night;
        }
    }
}

/// The potential `belief`: each citizen's belief in the true mafia, 0 for the mafia, after every
/// reset and step.
fn belief_potential(mut envs: Query<(&State, &mut Potentials)>) {
    for (state, potentials) in &mut envs {
        let potentials = potentials.into_inner();
        for a in 0..state.roles.len() {
            let p = match state.roles[a].is_mafia() {
                true => 0.0,
                false => state.belief_in_mafia(a),
            };
            potentials.set(AgentId(a as u32), BELIEF, p);
        }
    }
}

/// Who acts at the coming step, which acts are legal, and what each player sees.
fn turns_and_observations(
    mut envs: Query<(&State, &mut Turn, &mut ActionMasks, &mut Observations)>,
) {
    for (state, turn, masks, obs) in &mut envs {
        set_turns(state, turn.into_inner(), masks.into_inner());
        observe(state, obs.into_inner());
    }
}

/// Who acts at the coming step and which acts are legal for them.
fn set_turns(state: &State, turn: &mut Turn, masks: &mut ActionMasks) {
    let n = state.roles.len();
    for a in (0..n).map(|a| AgentId(a as u32)) {
        turn.set_acting(a, false);
    }
    let mut allow = |a: AgentId, skip: bool, target: &dyn Fn(usize) -> bool, vouch: bool| {
        turn.set_acting(a, true);
        let row = masks.0.row_mut(a);
        row[0] = u8::from(skip);
        for j in 0..n {
            row[1 + j] = u8::from(target(j));
            row[1 + n + j] = u8::from(vouch && target(j));
        }
    };
    let other = |a: AgentId| move |j: usize| state.alive[j] && j != a.index();
    match state.stage {
        Stage::Discussion => {
            if let Some(&speaker) = state.speakers.last() {
                allow(speaker, true, &other(speaker), true);
            }
        }
        Stage::Bid => {
            let last = state.last_message.map(|m| m.0);
            for a in state.living().filter(|&a| Some(a) != last) {
                turn.set_acting(a, true);
                let row = masks.0.row_mut(a);
                row.fill(0);
                row[..=MAX_BID].fill(1);
            }
        }
        Stage::Vote => {
            for a in state.living() {
                allow(a, true, &other(a), false);
            }
        }
        Stage::Night => {
            for a in state.living() {
                match state.roles[a.index()] {
                    Role::Mafia => {
                        let citizen = |j: usize| state.alive[j] && !state.roles[j].is_mafia();
                        allow(a, false, &citizen, false);
                    }
                    Role::Seer => allow(a, false, &other(a), false),
                    Role::Doctor => allow(a, false, &|j| state.alive[j], false),
                    Role::Villager => {}
                }
            }
        }
    }
}

fn observe(state: &State, obs: &mut Observations) {
    let n = state.roles.len();
    let living = state.alive.iter().filter(|&&a| a).count().max(1) as f32;
    let voters = state.voters.max(1) as f32;
    for a in 0..n {
        let row = obs.0.row_mut(AgentId(a as u32));
        row.fill(0.0);
        let role = ROLES.iter().position(|&r| r == state.roles[a]);
        row[obs::ROLE + role.expect("every role is in ROLES")] = 1.0;
        let stage = STAGES.iter().position(|&s| s == state.stage);
        row[obs::STAGE + stage.expect("every stage is in STAGES")] = 1.0;
        row[obs::DAY] = (state.day as f32 / n as f32).min(1.0);
        let named = state.last_message.and_then(|m| m.1);
        row[obs::NAMED] = f32::from(u8::from(named == Some(AgentId(a as u32))));
        row[obs::me(n) + a] = 1.0;
        for j in 0..n {
            row[obs::alive(n) + j] = f32::from(u8::from(state.alive[j]));
            if let Some(r) = state.known[a][j] {
                let block = if r.is_mafia() {
                    obs::known_mafia(n)
                } else {
                    obs::known_town(n)
                };
                row[block + j] = 1.0;
            }
            row[obs::accused(n) + j] = (state.accused[j] as f32 / living).min(1.0);
            row[obs::vouched(n) + j] = (state.vouched[j] as f32 / living).min(1.0);
            row[obs::votes(n) + j] = state.votes[j] as f32 / voters;
            row[obs::belief(n) + j] = state.belief[a][j] as f32;
        }
    }
}

/// A uniformly random legal aim act (`1 + j`) of a mask row, or skip when there is none.
fn random_target(mask: &[u8], n: usize, rng: &mut impl Rng) -> usize {
    let legal: Vec<usize> = (1..=n).filter(|&act| mask[act] != 0).collect();
    super::pick(&legal, rng)
}

/// Every scripted player's act, in every stepped env.
#[allow(clippy::type_complexity)]
fn decide(
    strategies: Res<Strategies<Strategy>>,
    mut envs: Query<
        (
            &Turn,
            &ActionMasks,
            &Observations,
            &mut SimRng,
            &mut Actions,
        ),
        Stepping,
    >,
) {
    for (turn, masks, obs, rng, actions) in &mut envs {
        decide_env(
            strategies.iter(),
            turn,
            masks,
            obs,
            rng.into_inner(),
            actions.into_inner(),
        );
    }
}

/// One env's scripted players' acts, each from its own observation row and action mask only:
/// its role, the stage, who is alive and which roles it knows (revealed at death, its mafia
/// team, what it found as the seer) are all in its row.
fn decide_env<'a>(
    strategies: impl Iterator<Item = (AgentId, &'a Strategy)>,
    turn: &Turn,
    masks: &ActionMasks,
    obs: &Observations,
    rng: &mut SimRng,
    actions: &mut Actions,
) {
    // The action has 1 + 2n acts.
    let n = (masks.0.dim() - 1) / 2;
    for (a, &strategy) in strategies {
        if !turn.is_acting(a) {
            continue;
        }
        let (mask, row) = (masks.0.row(a), obs.0.row(a));
        let flag = |at: usize| row[at] == 1.0;
        let one_hot = |at: usize, len: usize| (0..len).find(|&k| flag(at + k));
        let me = ROLES[one_hot(obs::ROLE, ROLES.len()).expect("one role")];
        let stage = STAGES[one_hot(obs::STAGE, STAGES.len()).expect("one stage")];
        let mafia = me.is_mafia();
        // A living player `a` knows is mafia (for a citizen).
        let known_mafia =
            (0..n).find(|&j| flag(obs::alive(n) + j) && !mafia && flag(obs::known_mafia(n) + j));
        let informed = strategy == Strategy::Informed;
        let act = match stage {
            // Urgent (3) when it has a mafia member to accuse, else it listens (0).
            Stage::Bid => match known_mafia.filter(|_| informed) {
                Some(_) => 3,
                None => 0,
            },
            Stage::Discussion => match known_mafia.filter(|_| informed) {
                Some(j) => 1 + j,
                None => 0,
            },
            Stage::Night if informed && me == Role::Seer => {
                // The seer: a player whose role it does not know yet.
                let unknown: Vec<usize> = (0..n)
                    .filter(|&j| {
                        mask[1 + j] != 0
                            && !flag(obs::known_mafia(n) + j)
                            && !flag(obs::known_town(n) + j)
                    })
                    .collect();
                match unknown.is_empty() {
                    true => random_target(mask, n, &mut rng.decide),
                    false => 1 + unknown[rng.decide.random_range(0..unknown.len())],
                }
            }
            Stage::Vote if informed && mafia => {
                // The mafia know their team: every other living player is a citizen.
                let citizens: Vec<usize> = (0..n)
                    .filter(|&j| mask[1 + j] != 0 && !flag(obs::known_mafia(n) + j))
                    .collect();
                1 + citizens[rng.decide.random_range(0..citizens.len())]
            }
            _ => match known_mafia.filter(|_| informed && stage == Stage::Vote) {
                Some(j) => 1 + j,
                None => random_target(mask, n, &mut rng.decide),
            },
        };
        // The act, and the belief of the row: the posterior given the roles it knows.
        let out = actions.0.row_mut(a);
        out[0] = act as f32;
        out[1..].copy_from_slice(&row[obs::belief(n)..obs::belief(n) + n]);
    }
}

/// Plurality among `counts`, ties broken uniformly at random; `None` when nobody has a vote.
fn plurality(counts: &[u32], rng: &mut impl Rng) -> Option<usize> {
    let max = *counts.iter().max()?;
    if max == 0 {
        return None;
    }
    let top: Vec<usize> = (0..counts.len()).filter(|&j| counts[j] == max).collect();
    Some(top[rng.random_range(0..top.len())])
}

/// Kills `victim` (lynched or killed at night), reveals its role in an utterance it "speaks",
/// and ends the game if a side has won.
fn eliminate(
    state: &mut State,
    victim: AgentId,
    how: &'static str,
    utterances: &mut Utterances,
    events: &mut Events,
    done: &mut Done,
) {
    // The dead stay in the episode, idle, until it ends (as SMAC keeps dead units): their side's
    // result is theirs too, and a terminated agent gets no rewards after its end.
    state.alive[victim.index()] = false;
    state.reveal(victim);
    let role = state.roles[victim.index()];
    let act = Act {
        kind: how,
        target: None,
        value: f64::from(u8::from(role.is_mafia())),
    };
    let utterance = utterances.say(victim, Audience::All, act, || {
        format!("{victim} is {how}: they were {}", role.name())
    });
    if let Some(mafia_won) = state.winner() {
        events.end = Some((mafia_won, utterance));
        done.terminate_all();
    }
}

#[allow(clippy::type_complexity)]
fn resolve(
    mut envs: Query<
        (
            &mut State,
            &Turn,
            &Actions,
            &mut SimRng,
            &mut Utterances,
            &mut Events,
            &mut Done,
        ),
        Stepping,
    >,
) {
    for (state, turn, actions, rng, utterances, events, done) in &mut envs {
        resolve_env(
            state.into_inner(),
            turn,
            actions,
            rng.into_inner(),
            utterances.into_inner(),
            events.into_inner(),
            done.into_inner(),
        );
    }
}

fn resolve_env(
    state: &mut State,
    turn: &Turn,
    actions: &Actions,
    rng: &mut SimRng,
    utterances: &mut Utterances,
    events: &mut Events,
    done: &mut Done,
) {
    events.good_votes.clear();
    events.information.clear();
    events.end = None;
    let n = state.roles.len();
    let acting: Vec<AgentId> = (0..n)
        .map(|a| AgentId(a as u32))
        .filter(|&a| turn.is_acting(a))
        .collect();
    let act_of = |a: AgentId| actions.0.row(a)[0] as usize;
    // Beliefs stated with the actions (scripted players' are the game's posteriors).
    for &a in acting.iter().filter(|a| !state.scripted[a.index()]) {
        let stated = &actions.0.row(a)[1..];
        for (b, &p) in state.belief[a.index()].iter_mut().zip(stated) {
            *b = f64::from(p);
        }
    }
    match state.stage {
        Stage::Discussion => {
            let speaker = state.speakers.pop().expect("a speaker acts in discussion");
            let act = act_of(speaker);
            let (kind, target) = match act {
                0 => ("silent", None),
                j if j <= n => ("accuse", Some(AgentId(j as u32 - 1))),
                j => ("vouch", Some(AgentId((j - 1 - n) as u32))),
            };
            match (kind, target) {
                ("accuse", Some(t)) => state.accused[t.index()] += 1,
                ("vouch", Some(t)) => state.vouched[t.index()] += 1,
                _ => {}
            }
            let a = Act {
                kind,
                target,
                value: 0.0,
            };
            utterances.say(speaker, Audience::All, a, || match target {
                Some(t) if kind == "accuse" => format!("{speaker}: \"{t} is mafia.\""),
                Some(t) => format!("{speaker}: \"I trust {t}.\""),
                None => format!("{speaker} stays silent"),
            });
            state.stage = match state.config.speaking {
                Speaking::RoundRobin if state.speakers.is_empty() => Stage::Vote,
                Speaking::RoundRobin => Stage::Discussion,
                Speaking::Bidding => {
                    state.last_message = Some((speaker, target));
                    state.debate_left -= 1;
                    match state.debate_left {
                        0 => Stage::Vote,
                        _ => Stage::Bid,
                    }
                }
            };
        }
        Stage::Bid => {
            // Bids are private: each is heard by its bidder alone.
            let bids: Vec<(AgentId, usize)> = acting.iter().map(|&a| (a, act_of(a))).collect();
            for &(a, bid) in &bids {
                let act = Act {
                    kind: "bid",
                    target: None,
                    value: bid as f64,
                };
                utterances.say(a, Audience::Agent(a), act, || {
                    format!("{a} bids {bid} for the floor")
                });
            }
            let named = state.last_message.and_then(|m| m.1);
            state.speakers.push(floor(&bids, named, &mut rng.chance));
            state.stage = Stage::Discussion;
        }
        Stage::Vote => {
            state.votes.fill(0);
            state.voters = 0;
            for &a in &acting {
                let target = act_of(a).checked_sub(1).map(|j| AgentId(j as u32));
                let act = Act {
                    kind: if target.is_some() { "vote" } else { "abstain" },
                    target,
                    value: 0.0,
                };
                let u = utterances.say(a, Audience::All, act, || match target {
                    Some(t) => format!("{a} votes to lynch {t}"),
                    None => format!("{a} abstains"),
                });
                if let Some(t) = target {
                    state.votes[t.index()] += 1;
                    state.voters += 1;
                    if !state.roles[a.index()].is_mafia() && state.roles[t.index()].is_mafia() {
                        events.good_votes.push((a, u));
                    }
                }
            }
            let living = state.living().count() as u32;
            let lynched = match state.config.lynch {
                Lynch::Plurality => plurality(&state.votes, &mut rng.chance),
                Lynch::Majority => state.votes.iter().position(|&v| 2 * v > living),
            };
            if let Some(j) = lynched {
                let victim = AgentId(j as u32);
                eliminate(state, victim, "lynched", utterances, events, done);
            }
            if events.end.is_none() {
                state.stage = Stage::Night;
            }
        }
        Stage::Night => {
            let mut kills = vec![0; n];
            let mut protected = None;
            for &a in &acting {
                let Some(j) = act_of(a).checked_sub(1) else {
                    continue;
                };
                let t = AgentId(j as u32);
                let role = state.roles[a.index()];
                let kind = match role {
                    Role::Mafia => {
                        kills[j] += 1;
                        "kill"
                    }
                    Role::Seer => {
                        state.known[a.index()][j] = Some(state.roles[j]);
                        state.learned = true;
                        "investigate"
                    }
                    Role::Doctor => {
                        protected = Some(j);
                        "protect"
                    }
                    Role::Villager => continue,
                };
                let act = Act {
                    kind,
                    target: Some(t),
                    value: 0.0,
                };
                // Night acts are private: only the actor hears them.
                utterances.say(a, Audience::Agent(a), act, || match role {
                    Role::Seer => format!("{a} investigates {t}: {}", state.roles[j].name()),
                    _ => format!("{a} chooses to {kind} {t}"),
                });
            }
            let target = plurality(&kills, &mut rng.chance);
            if let Some(j) = target.filter(|&j| Some(j) != protected) {
                let victim = AgentId(j as u32);
                eliminate(state, victim, "killed", utterances, events, done);
            }
            if events.end.is_none() {
                start_day(state, &mut rng.chance);
            }
        }
    }
    // What the scripted players learned, and each citizen whose belief in the truth moved states
    // it, privately.
    if std::mem::take(&mut state.learned) {
        state.refresh_beliefs(false);
    }
    state.information(false, |a, gain, p| {
        let a = AgentId(a as u32);
        let act = Act {
            kind: "believe",
            target: None,
            value: p,
        };
        let u = utterances.say(a, Audience::Agent(a), act, || {
            format!("{a} now gives the mafia {p:.3}")
        });
        events.information.push((a, u, gain));
    });
}

/// Reward components: the end of the game (attributed to the reveal that decided it),
/// citizens' votes against the mafia (attributed to each vote) and their information gains
/// (attributed to each belief statement).
fn reward(mut envs: Query<(&State, &Events, &mut RewardLedger), Stepping>) {
    for (state, events, ledger) in &mut envs {
        let mut ledger = ledger.into_inner().writer();
        for &(a, u) in &events.good_votes {
            ledger.add(a, u, VOTE, 1.0);
        }
        for &(a, u, gain) in &events.information {
            ledger.add(a, u, INFORMATION, gain);
        }
        if let Some((mafia_won, u)) = events.end {
            for (a, role) in state.roles.iter().enumerate() {
                let won = role.is_mafia() == mafia_won;
                ledger.add(AgentId(a as u32), u, WIN, if won { 1.0 } else { -1.0 });
            }
        }
    }
}

fn record(mut envs: Query<(&State, &Events, &mut Metrics), Stepping>) {
    for (state, events, metrics) in &mut envs {
        if let Some((mafia_won, _)) = events.end {
            let metrics = metrics.into_inner();
            metrics.record(MAFIA_WIN, f64::from(u8::from(mafia_won)));
            metrics.record(DAYS, f64::from(state.day));
            metrics.record(TOWN_WIN, f64::from(u8::from(!mafia_won)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_players_situation_from_the_row() {
        let config = MafiaConfig {
            mafia: Count::new(2).expect("in range"),
            seer: true,
            discussion: 1,
            ..MafiaConfig::default()
        };
        let n = 6;
        // Player 0, the seer, on night 2: player 1 was lynched (mafia), player 3 found town.
        let mut row = vec![0.0; obs::dim(n)];
        row[obs::ROLE + 2] = 1.0;
        row[obs::STAGE + 2] = 1.0;
        row[obs::DAY] = 2.0 / n as f32;
        row[obs::me(n)] = 1.0;
        for j in [0, 2, 3, 4, 5] {
            row[obs::alive(n) + j] = 1.0;
        }
        row[obs::known_mafia(n) + 1] = 1.0;
        row[obs::known_town(n)] = 1.0;
        row[obs::known_town(n) + 3] = 1.0;
        row[obs::accused(n) + 1] = 0.4;
        row[obs::vouched(n) + 4] = 0.2;
        row[obs::votes(n) + 1] = 0.75;
        row[obs::votes(n) + 2] = 0.25;
        for j in [1, 2, 4, 5] {
            row[obs::belief(n) + j] = 0.25;
        }
        let mut mask = vec![0u8; 1 + 2 * n];
        for j in [2, 3, 4, 5] {
            mask[1 + j] = 1;
        }
        let p = config.prompt(n, AgentId(0), &row, &mask);
        assert!(p.rules.contains("2 of them are mafia"), "{}", p.rules);
        assert!(
            p.rules
                .contains("each player states its belief of who is mafia"),
            "{}",
            p.rules
        );
        assert!(
            p.rules.contains("You are player 0, the seer"),
            "{}",
            p.rules
        );
        for said in [
            "Night 2: you choose a player to investigate.",
            "Alive: player 0, player 2, player 3, player 4, player 5.",
            "Dead, roles revealed: player 1 (mafia).",
            "You know that player 3 is town.",
            "Accusations today: player 1 (2).",
            "Vouches today: player 4 (1).",
            "at the last vote: player 1 75%, player 2 25%.",
            "Your belief so far, the share of the mafia you give each player: player 0 0%, \
             player 1 25%, player 2 25%, player 3 0%, player 4 25%, player 5 25%.",
        ] {
            assert!(p.situation.contains(said), "{said:?} in {}", p.situation);
        }
        let words: Vec<&str> = p.acts.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            p.acts.iter().map(|&(a, _)| a).collect::<Vec<_>>(),
            [3, 4, 5, 6]
        );
        assert_eq!(words[0], "investigate player 2");
        // The same player speaking by day: silence, accusations and vouches.
        row[obs::STAGE + 2] = 0.0;
        row[obs::STAGE] = 1.0;
        let mut mask = vec![0u8; 1 + 2 * n];
        mask[0] = 1;
        mask[1 + 2] = 1;
        mask[1 + n + 2] = 1;
        let p = config.prompt(n, AgentId(0), &row, &mask);
        assert!(
            p.situation
                .starts_with("Day 2, discussion: it is your turn to speak.")
        );
        let words: Vec<&str> = p.acts.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            words,
            [
                "stay silent",
                "accuse player 2: say they are mafia",
                "vouch for player 2: say you trust them"
            ]
        );

        // Werewolf Arena's debate: a player the last message named bids for the floor.
        let config = MafiaConfig {
            speaking: Speaking::Bidding,
            discussion: 8,
            ..config
        };
        row[obs::STAGE] = 0.0;
        row[obs::STAGE + 3] = 1.0;
        row[obs::NAMED] = 1.0;
        let mut mask = vec![0u8; 1 + 2 * n];
        mask[..=MAX_BID].fill(1);
        let p = config.prompt(n, AgentId(0), &row, &mask);
        assert!(p.rules.contains("debate for 8 turns"), "{}", p.rules);
        assert!(
            p.situation.starts_with(
                "Day 2, the debate: bid for the next turn to speak.\nThe last speaker named you."
            ),
            "{}",
            p.situation
        );
        let words: Vec<&str> = p.acts.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(words[0], "bid 0: listen for now");
        assert_eq!(
            words[4],
            "bid 4: you were addressed directly and must answer"
        );
    }

    #[test]
    fn the_posterior_spreads_the_mafia_not_found_over_the_unknown_players() {
        let (v, m) = (Some(Role::Villager), Some(Role::Mafia));
        let mut out = vec![0.0; 6];
        // 2 mafia among 6; player 0 knows itself, that 3 was mafia and 4 town: the other mafia
        // member is one of 1, 2 and 5, each with probability 1/3; shares are halved.
        posterior(&[v, None, None, m, v, None], 2, &mut out);
        let third = 1.0 / 3.0 / 2.0;
        assert_eq!(out, [0.0, third, third, 0.5, 0.0, third]);
        assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // At the deal: uniform over the others; a mafia member knows its team.
        posterior(&[None, v, None, None, None, None], 1, &mut out);
        assert_eq!(out, [0.2, 0.0, 0.2, 0.2, 0.2, 0.2]);
        posterior(&[m, v, v, m, v, v], 2, &mut out);
        assert_eq!(out, [0.5, 0.0, 0.0, 0.5, 0.0, 0.0]);
        // Every mafia member found: nobody unknown is suspected.
        posterior(&[v, None, m, None, None, None], 1, &mut out);
        assert_eq!(out, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
