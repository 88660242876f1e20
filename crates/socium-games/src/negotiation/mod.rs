//! Negotiation: pairs of agents bargain over goods with typed utterances, on the ties of the
//! social graph, and every utterance is scored on the seven SOTOPIA-EVAL dimensions, computed
//! exactly from what the game knows (goals, private values, secrets, facts, relationships).
//!
//! - Goods: the items of Deal or No Deal (Lewis et al. 2017, [`items`]) or one divisible good
//!   split by Rubinstein's (1982) alternating offers with discount factors δ1 (first speaker),
//!   δ2; a deal struck after `t` rejected or replaced offers is worth `δ^t` of its share.
//! - The social layer of Sotopia (Zhou et al. 2024, [`social`]): profiles, goals, facts, secrets,
//!   and what a relationship lets each see of the other.
//! - Acts ([`acts`]): offer, accept, reject, reveal (a value, a fact or the secret; true or
//!   false), ask, persuade, rapport, walk away, pass. Sotopia's end rules: `max_turns`
//!   utterances, a walk-away, or more than 2 consecutive passes; an accepted offer ends it
//!   with a deal, or, with [`Agreement::Selection`], Deal or No Deal's protocol: either side
//!   ends the talk, both then select a split privately, and only complementary selections
//!   make a deal; [`Agreement::Alternating`] keeps to Rubinstein's offers and acceptances.
//! - Rewards ([`play`]): the seven SOTOPIA-EVAL dimensions, each entry against the utterance
//!   that caused it, each episode total inside Sotopia's range.
//! - Scripted strategies ([`strategies`]): greedy, fair, liar, Faratin, Sierra & Jennings's
//!   (1998) time-dependent boulware and conceder, tit-for-tat concession, and Rubinstein's
//!   subgame-perfect player.
//!
//! With more than two agents it is a market: each episode pairs agents over the graph's ties
//! (a random maximal matching) and every pair negotiates at once; the relationship dimension
//! moves the weight of the tie it was played on, which carries over to later episodes.

pub mod acts;
pub mod items;
mod obs;
pub mod play;
mod prompt;
pub mod social;
pub mod strategies;

use serde::Deserialize;
use social::{Profile, Setting};
use socium_core::{
    AgentId, AgentSpec, DimId, DimensionInfo, GameBuilder, MetricId, MetricInfo, Phase,
    PotentialId, PotentialInfo, Prompt, Rules, Space, StrategyInfo, TurnOrder, bounded::Count,
};

pub use obs::layout;

/// What is bargained over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goods {
    /// Deal or No Deal's books, hats and balls, values private.
    #[default]
    Items,
    /// One good of worth 10 to both, split in shares (Rubinstein's pie).
    Divisible,
}

/// How a negotiation reaches its deal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    /// Accepting the partner's standing offer strikes the deal, with every other act of the
    /// talk (asks, reveals, rapport) between offers.
    #[default]
    Accept,
    /// Rubinstein's (1982) alternating offers, strictly: each utterance is an offer, the
    /// acceptance of the partner's standing offer, or a walk-away; a counter-offer is the
    /// rejection, and it is the next period's offer (discounted once more).
    Alternating,
    /// Deal or No Deal's (Lewis et al. 2017, §2): either side ends the talk (`accept`, legal at
    /// any turn), then both select privately, at the same step, what they take (an offer act)
    /// or no agreement (`walk_away`); only selections that are complementary for every item
    /// make a deal, otherwise each side gets its no-deal score. Items only.
    Selection,
}

/// Settings of `[game.negotiation]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NegotiationConfig {
    /// What is bargained over.
    pub goods: Goods,
    /// How a deal is struck.
    pub agreement: Agreement,
    /// Discount factors of the first and the second speaker of a pair: a deal struck after `t`
    /// offers were rejected or replaced is worth `δ^t` of its value to each.
    pub discount: [f64; 2],
    /// The most utterances of a pair's negotiation.
    pub max_turns: Count,
    /// Characters of free text an external agent may send beside each act (0: none).
    pub free_text: u32,
    /// The scenario's text and the agents' goals (default: the bundled setting).
    pub setting: Setting,
    /// The agents' profiles, agent `a` taking profile `a mod profiles` (default: the bundled
    /// ones).
    pub profiles: Vec<Profile>,
}

impl Default for NegotiationConfig {
    fn default() -> Self {
        NegotiationConfig {
            goods: Goods::Items,
            agreement: Agreement::Accept,
            discount: [1.0, 1.0],
            max_turns: Count::new(20).expect("in range"),
            free_text: 0,
            setting: social::bundled_setting(),
            profiles: social::bundled_profiles(),
        }
    }
}

impl NegotiationConfig {
    /// Agent `a`'s profile: profile `a mod profiles`.
    pub fn profile(&self, a: AgentId) -> &Profile {
        &self.profiles[a.index() % self.profiles.len()]
    }

    /// Agent `a`'s goal: goal `a mod goals`.
    pub fn goal(&self, a: AgentId) -> &social::Goal {
        &self.setting.goals[a.index() % self.setting.goals.len()]
    }
}

/// The seven SOTOPIA-EVAL dimensions, in [`DimId`] order, with Sotopia's range of each
/// episode total.
pub const DIMENSIONS_RANGE: [(f64, f64); 7] = [
    (0.0, 10.0),
    (-5.0, 5.0),
    (0.0, 10.0),
    (-10.0, 0.0),
    (-10.0, 0.0),
    (-5.0, 5.0),
    (0.0, 10.0),
];

/// Goal completion 0..10: the potential of the standing offer, ending at the final score.
pub const GOAL: DimId = DimId(0);
/// Financial and material benefits −5..5: the gain over the reservation value, halved.
pub const FINANCIAL: DimId = DimId(1);
/// Knowledge 0..10: true, new things learned from the partner.
pub const KNOWLEDGE: DimId = DimId(2);
/// Secret −10..0: own secret and private values told.
pub const SECRET: DimId = DimId(3);
/// Social rules −10..0: lies, threats, reneging.
pub const SOCIAL_RULES: DimId = DimId(4);
/// Relationship −5..5: acts that build or harm the tie, scaled by its kind.
pub const RELATIONSHIP: DimId = DimId(5);
/// Believability 0..10: a consistency proxy for Sotopia's judged naturalness.
pub const BELIEVABILITY: DimId = DimId(6);

/// Every dimension weighs 1/7, so that the weighted episode return is Sotopia's `overall`
/// (the unweighted mean of the seven).
const SEVENTH: f64 = 1.0 / 7.0;

static DIMENSIONS: [DimensionInfo; 7] = [
    DimensionInfo {
        name: "goal",
        summary: "goal completion 0..10: the goal's score of the standing offer, ending at the \
                  final score",
        default_weight: SEVENTH,
        range: Some((0.0, 10.0)),
    },
    DimensionInfo {
        name: "financial",
        summary: "financial and material benefits -5..5: (score - reservation) / 2 at a deal",
        default_weight: SEVENTH,
        range: Some((-5.0, 5.0)),
    },
    DimensionInfo {
        name: "knowledge",
        summary: "knowledge 0..10: true, new values, facts and secrets learned, credited to the \
                  learner's ask or the teller's reveal",
        default_weight: SEVENTH,
        range: Some((0.0, 10.0)),
    },
    DimensionInfo {
        name: "secret",
        summary: "secret -10..0: -1 for each own value told, -severity for the secret told",
        default_weight: SEVENTH,
        range: Some((-10.0, 0.0)),
    },
    DimensionInfo {
        name: "social_rules",
        summary: "social rules -10..0: -2 a lie, -2 a threat, -1 reneging on an earlier offer",
        default_weight: SEVENTH,
        range: Some((-10.0, 0.0)),
    },
    DimensionInfo {
        name: "relationship",
        summary: "relationship -5..5: rapport, flattery, threats, walk-aways, deals and exposed \
                  lies, scaled by the tie's kind",
        default_weight: SEVENTH,
        range: Some((-5.0, 5.0)),
    },
    DimensionInfo {
        name: "believability",
        summary: "believability 0..10 (a consistency proxy): 10 at the first utterance, -2 a \
                  self-contradiction, -1 a repetition or an offer or acceptance below reservation",
        default_weight: SEVENTH,
        range: Some((0.0, 10.0)),
    },
];

/// Potential: what the agent would get if things ended now — the standing offer's worth to it,
/// its final score once its negotiation is over, 0 otherwise.
pub const OFFER_POTENTIAL: PotentialId = PotentialId(0);

static POTENTIALS: [PotentialInfo; 1] = [PotentialInfo {
    name: "offer",
    summary: "the standing offer's worth to the agent (its final score once over; 0 without)",
}];

/// Metric: the share of pairs that reached a deal.
pub const DEAL: MetricId = MetricId(0);
/// Metric: the mean final score (0..10) of the seated agents.
pub const SCORE: MetricId = MetricId(1);
/// Metric: the share of deals that are Pareto-optimal (items).
pub const PARETO: MetricId = MetricId(2);
/// Metric: the mean number of utterances of a pair.
pub const TURNS: MetricId = MetricId(3);
/// Metric: the first speaker's share of a divisible good at a deal.
pub const FIRST_SHARE: MetricId = MetricId(4);
/// Metric: Sotopia's overall, the mean over seated agents of the seven dimensions' mean.
pub const OVERALL: MetricId = MetricId(5);
/// Metric: lies told per pair.
pub const LIES: MetricId = MetricId(6);

static METRICS: [MetricInfo; 7] = [
    MetricInfo {
        name: "deal",
        summary: "share of pairs that reached a deal",
    },
    MetricInfo {
        name: "score",
        summary: "mean final score (0..10) of the seated agents",
    },
    MetricInfo {
        name: "pareto",
        summary: "share of item deals that are Pareto-optimal",
    },
    MetricInfo {
        name: "turns",
        summary: "mean utterances of a pair's negotiation",
    },
    MetricInfo {
        name: "first_share",
        summary: "the first speaker's share of a divisible good, at a deal",
    },
    MetricInfo {
        name: "overall",
        summary: "Sotopia's overall: mean over seated agents of the seven dimensions' mean",
    },
    MetricInfo {
        name: "lies",
        summary: "false reveals per pair",
    },
];

impl Rules for NegotiationConfig {
    fn observation_space(&self, _agents: usize) -> Space {
        Space::uniform_box(layout::DIM, 0.0, 1.0)
    }

    fn action_space(&self, _agents: usize) -> Space {
        let divisible = self.goods == Goods::Divisible;
        let mut parts = vec![Space::Discrete {
            n: acts::count(divisible) as u32,
        }];
        if divisible {
            parts.push(Space::uniform_box(1, 0.0, 1.0));
        }
        if self.free_text > 0 {
            parts.push(Space::Text {
                max_chars: self.free_text,
            });
        }
        match parts.len() {
            1 => parts.pop().expect("one part"),
            _ => Space::Tuple(parts),
        }
    }

    fn turn_order(&self) -> TurnOrder {
        TurnOrder::Chosen
    }

    fn reward_dimensions(&self) -> &'static [DimensionInfo] {
        &DIMENSIONS
    }

    fn strategies(&self) -> &'static [StrategyInfo] {
        &strategies::STRATEGIES
    }

    fn metrics(&self) -> &'static [MetricInfo] {
        &METRICS
    }

    fn potentials(&self) -> &'static [PotentialInfo] {
        &POTENTIALS
    }

    fn check(&self, agents: &[AgentSpec]) -> Result<(), String> {
        if agents.len() < 2 {
            return Err(format!(
                "a negotiation needs at least 2 agents, found {}",
                agents.len()
            ));
        }
        if self.agreement == Agreement::Selection && self.goods == Goods::Divisible {
            return Err(
                "`agreement`: \"selection\" (Deal or No Deal's private selections) \
                        needs `goods = \"items\"`; a divisible good's deal is an accepted offer"
                    .into(),
            );
        }
        if let Some(d) = self.discount.iter().find(|d| !(**d > 0.0 && **d <= 1.0)) {
            return Err(format!("`discount`: expected factors in (0, 1], found {d}"));
        }
        social::check(&self.profiles, &self.setting)
    }

    fn prompt(&self, _agents: usize, agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
        prompt::render(self, agent, obs, mask)
    }

    fn build(&self, game: &mut GameBuilder) {
        let n = game.agent_count();
        game.insert_strategies(strategies::strategy);
        let state = play::State::new(self.clone(), n);
        game.env_component(|| state.clone())
            .env_component(play::Events::default)
            .add_systems(Phase::Reset, play::reset)
            .add_systems(Phase::Decide, strategies::decide)
            .add_systems(Phase::Resolve, play::resolve)
            .add_systems(Phase::Reward, play::reward)
            .add_systems(Phase::Record, play::record)
            .add_systems(Phase::Observe, obs::turns_and_observations);
    }
}
