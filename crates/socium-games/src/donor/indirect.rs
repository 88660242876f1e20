//! Indirect reciprocity: help those who helped others.
//!
//! Two rule sets share one engine, differing in how a donation changes the donor's reputation:
//!
//! - **Image scoring** (Nowak & Sigmund 1998, "Evolution of indirect reciprocity by image
//!   scoring", Nature 393): scores are whole numbers clamped to [−5, +5], +1 for helping and −1
//!   for refusing; newborns start at 0. A donor helps at cost `c`, the recipient gains `b`
//!   (paper: b = 1, c = 0.1). Threshold strategies `k` in −5..=6 help iff the recipient's score is
//!   at least `k` (k = −5 always helps, k = 6 never). With incomplete information each donation is
//!   seen by each other agent with probability `observation`, who updates its private image of the
//!   donor. Discriminators resist defectors iff q·b > c (Nowak & Sigmund 1998, 2005), where q is
//!   the probability of *knowing* the recipient's image: here 1 − (1 − observation)^t for a
//!   recipient that has donated t times before.
//! - **Second-order norms** (Ohtsuki & Iwasa 2004, "How should we define goodness? Reputation
//!   dynamics in indirect reciprocity", J. Theor. Biol. 231): reputations are Good or Bad, and an
//!   assessment rule (the norm) maps (donor's reputation, recipient's reputation, action) to the
//!   donor's new reputation — 8-entry tables, among them the "leading eight" L1–L8 (simple
//!   standing is L3, stern judging L6). Assessment is public (one shared reputation, as in the
//!   paper's analysis) or private (each observer its own), with assessment error μ (the opposite
//!   reputation is assigned) and execution error e (an intended help fails). Under private
//!   assessment an `own_norm` player judges by a norm of its own, a strategy parameter that can
//!   evolve (individual norms, as in Pacheco, Santos & Chalub 2006, PLoS Comput. Biol. 2(12)).
//!
//! Time: a round is one donation per agent, each donor meeting a uniformly random neighbour
//! (anyone on the complete graph), all decisions taken on the reputations at the start of the
//! round. Nowak & Sigmund instead draw m = 125 random pairs per generation among n = 100; with
//! `rounds` rounds an episode has n·rounds donations. Donors always see their own donations.
//!
//! An agent's reputation as the population sees it is the mean of every agent's view of it, its
//! own included (under public assessment the one shared view): a mean image score in [−5, 5], or
//! the fraction of views that hold it Good. The `reputation` reward dimension gives a donor each
//! change of it; the potential `reputation` (for potential-based shaping) is its value, so with
//! γ = 1 the shaping term of a step is the agent's `reputation` entry of that step.

use super::{COOPERATION, COOPERATION_METRIC, DONATION_DIMENSIONS, PAYOFF, REPUTATION, Said};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand::distr::Bernoulli;
use rand_distr::{Distribution, Geometric};
use serde::{Deserialize, Deserializer, de};
use socium_core::{
    Act, Actions, AgentId, Audience, Clock, Controller, DimensionInfo, Done, GameBuilder,
    MaybeAgent, MetricId, MetricInfo, Metrics, Observations, ParamInfo, ParamKind, Phase,
    PotentialId, PotentialInfo, Potentials, Prompt, Resetting, RewardLedger, Rules, SimRng,
    SocialGraph, Space, Stepping, Strategies, StrategyChoice, StrategyInfo, Turn, TurnOrder,
    Utterances,
    bounded::{Count, NonNegative, Positive, Probability},
};
use std::fmt::{self, Write as _};
use std::ops::Range;

/// Settings of the image-scoring game (`[game.image_scoring]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ImageScoringConfig {
    /// Rounds per episode (one donation per agent per round).
    pub rounds: Count,
    /// What the recipient gains from help (paper: 1).
    pub benefit: Positive,
    /// What helping costs the donor (paper: 0.1).
    pub cost: NonNegative,
    /// Probability that each other agent sees a donation (q); 1 is full information.
    pub observation: Probability,
    /// Probability that an intended help fails.
    pub execution_error: Probability,
}

impl Default for ImageScoringConfig {
    fn default() -> Self {
        ImageScoringConfig {
            rounds: Count::new(10).expect("in range"),
            benefit: Positive::new(1.0).expect("in range"),
            cost: NonNegative::new(0.1).expect("in range"),
            observation: Probability::new(1.0).expect("in range"),
            execution_error: Probability::new(0.0).expect("in range"),
        }
    }
}

/// Public or private assessment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    /// One shared reputation per agent, assessed by an institution that sees every donation.
    #[default]
    Public,
    /// Each observer holds its own view of everyone.
    Private,
}

/// Settings of the second-order-norms game (`[game.norms]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NormsConfig {
    /// Rounds per episode (one donation per agent per round).
    pub rounds: Count,
    /// What the recipient gains from help.
    pub benefit: Positive,
    /// What helping costs the donor.
    pub cost: NonNegative,
    /// The assessment rule: a name (`stern_judging`, `simple_standing`, `image_scoring`,
    /// `shunning`, `l1`..`l8`) or 8 zeros and ones indexed `[BBD, BBC, BGD, BGC, GBD, GBC, GGD, GGC]`.
    pub norm: Norm,
    /// Public or private assessment.
    pub assessment: Assessment,
    /// Under private assessment, probability that each other agent sees a donation.
    pub observation: Probability,
    /// Probability that an observer assigns the opposite reputation (μ).
    pub assessment_error: Probability,
    /// Probability that an intended help fails (e).
    pub execution_error: Probability,
}

impl Default for NormsConfig {
    fn default() -> Self {
        NormsConfig {
            rounds: Count::new(100).expect("in range"),
            benefit: Positive::new(1.0).expect("in range"),
            cost: NonNegative::new(0.1).expect("in range"),
            norm: Norm::STERN_JUDGING,
            assessment: Assessment::Public,
            observation: Probability::new(1.0).expect("in range"),
            assessment_error: Probability::new(0.0).expect("in range"),
            execution_error: Probability::new(0.0).expect("in range"),
        }
    }
}

/// A second-order assessment rule: `table[donor·4 + recipient·2 + action]` is whether the donor
/// becomes Good, with Bad = 0, Good = 1, defect = 0, cooperate = 1.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Norm(pub [bool; 8]);

const fn norm(bits: [u8; 8]) -> Norm {
    let mut t = [false; 8];
    let mut i = 0;
    while i < 8 {
        t[i] = bits[i] == 1;
        i += 1;
    }
    Norm(t)
}

impl Norm {
    /// Image scoring as a norm: Good iff cooperated.
    pub const IMAGE_SCORING: Norm = norm([0, 1, 0, 1, 0, 1, 0, 1]);
    /// Shunning: Good only for helping a Good recipient.
    pub const SHUNNING: Norm = norm([0, 0, 0, 1, 0, 0, 0, 1]);
    /// The leading eight of Ohtsuki & Iwasa (2004, Table 2), L1..L8: all assess
    /// GGC = G, GGD = B, GBD = G, BGC = G, BGD = B and differ in GBC, BBC, BBD.
    pub const LEADING_EIGHT: [Norm; 8] = [
        norm([0, 1, 0, 1, 1, 1, 0, 1]),
        norm([0, 1, 0, 1, 1, 0, 0, 1]),
        norm([1, 1, 0, 1, 1, 1, 0, 1]),
        norm([1, 0, 0, 1, 1, 1, 0, 1]),
        norm([1, 1, 0, 1, 1, 0, 0, 1]),
        norm([1, 0, 0, 1, 1, 0, 0, 1]),
        norm([0, 0, 0, 1, 1, 1, 0, 1]),
        norm([0, 0, 0, 1, 1, 0, 0, 1]),
    ];
    /// Simple standing (L3).
    pub const SIMPLE_STANDING: Norm = Norm::LEADING_EIGHT[2];
    /// Stern judging (L6).
    pub const STERN_JUDGING: Norm = Norm::LEADING_EIGHT[5];

    const NAMES: [&'static str; 12] = [
        "image_scoring",
        "shunning",
        "simple_standing",
        "stern_judging",
        "l1",
        "l2",
        "l3",
        "l4",
        "l5",
        "l6",
        "l7",
        "l8",
    ];

    /// The norm of a name: `image_scoring`, `shunning`, `simple_standing`, `stern_judging` or
    /// `l1`..`l8`.
    pub fn by_name(name: &str) -> Option<Norm> {
        Some(match name {
            "image_scoring" => Norm::IMAGE_SCORING,
            "shunning" => Norm::SHUNNING,
            "simple_standing" => Norm::SIMPLE_STANDING,
            "stern_judging" => Norm::STERN_JUDGING,
            _ => {
                let i = Norm::NAMES[4..].iter().position(|n| *n == name)?;
                Norm::LEADING_EIGHT[i]
            }
        })
    }

    /// The norm whose entry `i` is bit `i` of `bits`.
    pub fn from_bits(bits: u8) -> Norm {
        Norm(std::array::from_fn(|i| bits >> i & 1 == 1))
    }

    /// The table as a number: bit `i` is entry `i` (stern judging is 153).
    pub fn bits(&self) -> u8 {
        (0..8).fold(0, |b, i| b | u8::from(self.0[i]) << i)
    }

    /// The donor's new reputation.
    #[inline]
    pub fn assess(&self, donor_good: bool, recipient_good: bool, cooperated: bool) -> bool {
        self.0[(donor_good as usize) << 2 | (recipient_good as usize) << 1 | cooperated as usize]
    }

    /// The table in words: what each act towards a Good and a Bad recipient makes the donor,
    /// the donor's own reputation named where the table heeds it.
    pub fn in_words(&self) -> String {
        let name = |good: bool| if good { "Good" } else { "Bad" };
        let case = |recipient: bool, helped: bool| {
            let act = if helped { "helping" } else { "refusing" };
            let (by_good, by_bad) = (
                self.assess(true, recipient, helped),
                self.assess(false, recipient, helped),
            );
            let made = match by_good == by_bad {
                true => format!("makes the donor {}", name(by_good)),
                false => format!(
                    "makes a Good donor {} and a Bad one {}",
                    name(by_good),
                    name(by_bad)
                ),
            };
            format!("{act} a {} recipient {made}", name(recipient))
        };
        [(true, true), (true, false), (false, true), (false, false)]
            .map(|(recipient, helped)| case(recipient, helped))
            .join("; ")
    }
}

impl fmt::Debug for Norm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits: Vec<u8> = self.0.iter().map(|&b| b as u8).collect();
        write!(f, "Norm({bits:?})")
    }
}

impl<'de> Deserialize<'de> for Norm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Norm;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a norm name ({}) or a list of 8 zeros and ones",
                    Norm::NAMES.join(", ")
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Norm, E> {
                Norm::by_name(s).ok_or_else(|| {
                    E::custom(format!(
                        "unknown norm `{s}`, expected one of {}",
                        Norm::NAMES.join(", ")
                    ))
                })
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Norm, A::Error> {
                let mut t = [false; 8];
                let mut len = 0;
                while let Some(bit) = seq.next_element::<u8>()? {
                    if bit > 1 || len == 8 {
                        return Err(de::Error::custom("expected a list of 8 zeros and ones"));
                    }
                    t[len] = bit == 1;
                    len += 1;
                }
                if len != 8 {
                    return Err(de::Error::custom(format!(
                        "expected a list of 8 zeros and ones, found {len} entries"
                    )));
                }
                Ok(Norm(t))
            }
        }
        d.deserialize_any(V)
    }
}

/// How reputations are kept.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Model {
    /// Image scores in [−5, 5].
    Scores,
    /// Good (1) or Bad (0) under a norm.
    Norm(Norm),
}

/// The indirect-reciprocity game, built from an [`ImageScoringConfig`] or a [`NormsConfig`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IndirectGame {
    model: Model,
    rounds: u32,
    benefit: f64,
    cost: f64,
    public: bool,
    observation: f64,
    /// Whether an assessor errs; drawn only where it can (p > 0).
    assessment_error: Option<Bernoulli>,
    /// Whether a donor meaning to help fails; drawn at every intended help, even at p = 0.
    execution_error: Bernoulli,
}

/// The rules and a donor's situation in words, from its observation row and mask.
fn prompt(game: &IndirectGame, obs: &[f32], mask: &[u8]) -> Prompt {
    let (b, c, rounds) = (game.benefit, game.cost, game.rounds);
    let mut rules = format!(
        "Each round every agent donates once, to another agent it meets at random: helping \
         costs the donor {c} and gives the recipient {b}; refusing costs nothing. There are \
         {rounds} rounds. "
    );
    let (q, own) = (game.observation, "the donor always sees its own");
    match game.model {
        Model::Scores => write!(
            rules,
            "Every agent has an image score from -5 to 5, 0 at the start: helping raises the \
             donor's by 1, refusing lowers it by 1. Each agent keeps its own view of every \
             score, seeing each donation with probability {q} ({own})."
        ),
        Model::Norm(norm) => {
            write!(
                rules,
                "Every agent is Good or Bad, Good at the start, and after each donation the donor \
                 is judged by the society's norm: {}. ",
                norm.in_words()
            )
            .expect("writing to a String");
            match game.public {
                true => rules.push_str("The judgement is public: one view that everyone shares."),
                false => write!(
                    rules,
                    "Each agent judges for itself, seeing each donation with probability {q} \
                     ({own}); an agent with a norm of its own judges by that norm instead."
                )
                .expect("writing to a String"),
            }
            match game.assessment_error {
                Some(mu) => write!(
                    rules,
                    " A judge assigns the opposite reputation with probability {}.",
                    mu.p()
                ),
                None => Ok(()),
            }
        }
    }
    .expect("writing to a String");
    let e = game.execution_error.p();
    if e > 0.0 {
        write!(
            rules,
            " A donor meaning to help fails to with probability {e}."
        )
        .expect("writing to a String");
    }
    rules.push_str(" Aim for the highest total payoff.");
    let round = (obs[obs::PROGRESS] * rounds as f32).round() as u32 + 1;
    let view = if game.public { "" } else { " in your view" };
    // Said of the recipient, or (`you`) of the donor itself.
    let standing = |v: f32, you: bool| match game.model {
        Model::Scores => format!(
            "{} an image score of {v}{view}",
            ["has", "have"][you as usize]
        ),
        Model::Norm(_) => {
            let good = if v >= 1.0 { "Good" } else { "Bad" };
            format!("{} {good}{view}", ["is", "are"][you as usize])
        }
    };
    let mut situation = format!("Round {round} of {rounds}: ");
    match obs[obs::DONOR] == 1.0 {
        true => write!(
            situation,
            "you donate to an agent who {}.",
            standing(obs[obs::RECIPIENT_REPUTATION], false)
        ),
        false => write!(situation, "you meet no one to donate to."),
    }
    .expect("writing to a String");
    write!(
        situation,
        " You {}.",
        standing(obs[obs::OWN_REPUTATION], true)
    )
    .expect("writing to a String");
    let acts = Prompt::legal_acts(2, mask, |i| match i {
        1 => format!("help (pay {c}, the recipient gains {b})"),
        _ => "refuse".to_owned(),
    });
    Prompt {
        rules,
        situation,
        acts,
        amount: None,
    }
}

/// The coin of probability `p` (a checked [`Probability`]), made once rather than at each draw:
/// `rng.sample(coin(p))` draws what `rng.random_bool(p)` draws.
fn coin(p: Probability) -> Bernoulli {
    Bernoulli::new(p.get()).expect("a Probability is in [0, 1]")
}

impl From<ImageScoringConfig> for IndirectGame {
    fn from(c: ImageScoringConfig) -> Self {
        IndirectGame {
            model: Model::Scores,
            rounds: c.rounds.get(),
            benefit: c.benefit.get(),
            cost: c.cost.get(),
            public: false,
            observation: c.observation.get(),
            assessment_error: None,
            execution_error: coin(c.execution_error),
        }
    }
}

impl From<NormsConfig> for IndirectGame {
    fn from(c: NormsConfig) -> Self {
        IndirectGame {
            model: Model::Norm(c.norm),
            rounds: c.rounds.get(),
            benefit: c.benefit.get(),
            cost: c.cost.get(),
            public: c.assessment == Assessment::Public,
            observation: c.observation.get(),
            assessment_error: (c.assessment_error.get() > 0.0).then(|| coin(c.assessment_error)),
            execution_error: coin(c.execution_error),
        }
    }
}

/// Observation layout: entry indices.
pub mod obs {
    /// 1 when the agent donates this round.
    pub const DONOR: usize = 0;
    /// The donor's view of the recipient: image score in [−5, 5], or 1 Good / 0 Bad.
    pub const RECIPIENT_REPUTATION: usize = 1;
    /// The agent's own reputation (its own view under private assessment).
    pub const OWN_REPUTATION: usize = 2;
    /// Round as a fraction of the episode.
    pub const PROGRESS: usize = 3;
    /// Entries in a row.
    pub const DIM: usize = 4;
}

/// Most agents under private views (each agent's view of everyone: agents² bytes, 256 MiB).
pub const MAX_PRIVATE_AGENTS: usize = 16_384;

/// Action: 0 defect, 1 cooperate (help).
pub const COOPERATE: f32 = 1.0;

const K: ParamInfo = ParamInfo {
    name: "k",
    summary: "helps iff the recipient's image score is at least k",
    default: 0.0,
    min: -5.0,
    max: 6.0,
    kind: ParamKind::Integer,
};

strategies! {
    static SCORE_STRATEGIES, fn score_strategy -> Strategy = [
        StrategyInfo {
            name: "allc",
            summary: "always helps (k = −5)",
            params: &[],
        } => |_| Strategy::Always(true),
        StrategyInfo {
            name: "alld",
            summary: "never helps (k = 6)",
            params: &[],
        } => |_| Strategy::Always(false),
        StrategyInfo {
            name: "discriminator",
            summary: "helps iff the recipient's score ≥ k",
            params: &[K],
        } => |c| Strategy::Threshold(c.param("k") as i8),
    ]
}

const OWN_NORM: ParamInfo = ParamInfo {
    name: "norm",
    summary: "the 8-entry norm it judges donors by, bit i = entry i of \
              [BBD, BBC, BGD, BGC, GBD, GBC, GGD, GGC] (153: stern judging)",
    default: 153.0,
    min: 0.0,
    max: 255.0,
    kind: ParamKind::Bits(8),
};

strategies! {
    static NORM_STRATEGIES, fn norm_strategy -> Strategy = [
        StrategyInfo {
            name: "allc",
            summary: "always helps",
            params: &[],
        } => |_| Strategy::Always(true),
        StrategyInfo {
            name: "alld",
            summary: "never helps",
            params: &[],
        } => |_| Strategy::Always(false),
        StrategyInfo {
            name: "discriminator",
            summary: "helps iff the recipient is Good (the action rule of L3–L8)",
            params: &[],
        } => |_| Strategy::Threshold(1),
        StrategyInfo {
            name: "apologetic_discriminator",
            summary: "helps iff the recipient is Good or itself is Bad (the action rule of L1, L2)",
            params: &[],
        } => |_| Strategy::Apologetic,
        StrategyInfo {
            name: "own_norm",
            summary: "helps iff the recipient is Good in its own view, and judges donors by its own \
                      norm (private assessment only)",
            params: &[OWN_NORM],
        } => |c| Strategy::OwnNorm(Norm::from_bits(c.param("norm") as u8)),
    ]
}

static SCORE_METRICS: [MetricInfo; 2] = [
    COOPERATION_METRIC,
    MetricInfo {
        name: "mean_image",
        summary: "mean image score over all views, per round",
    },
];

static NORM_METRICS: [MetricInfo; 2] = [
    COOPERATION_METRIC,
    MetricInfo {
        name: "good_fraction",
        summary: "fraction of Good reputations over all views, per round",
    },
];

/// Metric: mean image score (image scoring) or fraction of Good (norms), per round.
pub const REPUTATION_LEVEL: MetricId = MetricId(1);

/// Potential: the agent's reputation as the population sees it, the mean of every agent's view
/// of it (its own included; the shared view under public assessment).
pub const REPUTATION_POTENTIAL: PotentialId = PotentialId(0);

static POTENTIALS: [PotentialInfo; 1] = [PotentialInfo {
    name: "reputation",
    summary: "own reputation: the mean of every view of it, its own included (image score, or \
              share of Good views)",
}];

/// A scripted donor's action rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strategy {
    /// Always (true) or never (false) helps.
    Always(bool),
    /// Helps iff the recipient's reputation is at least `k` (Good = 1 under norms).
    Threshold(i8),
    /// Helps iff the recipient is Good or the donor is Bad.
    Apologetic,
    /// Helps iff the recipient is Good, and assesses by this norm rather than the game's.
    OwnNorm(Norm),
}

impl Strategy {
    /// Whether to help, from an observation row.
    pub fn cooperates(&self, obs: &[f32]) -> bool {
        let recipient = obs[obs::RECIPIENT_REPUTATION];
        match *self {
            Strategy::Always(c) => c,
            Strategy::Threshold(k) => recipient >= k as f32,
            Strategy::OwnNorm(_) => recipient >= 1.0,
            Strategy::Apologetic => recipient >= 1.0 || obs[obs::OWN_REPUTATION] < 1.0,
        }
    }

    /// Every acting agent of `agents` (all of them playing this strategy) decides from its row of
    /// `obs` (`[agents × obs::DIM]`) into its entry of `moves` (an action is one number).
    fn decide_run(self, agents: Range<usize>, acting: &[bool], obs: &[f32], moves: &mut [f32]) {
        // One loop per strategy, each calling `cooperates` with the strategy's kind a constant,
        // so that the match on it is settled once a run rather than once an agent.
        macro_rules! each_agent {
            ($strategy:expr) => {
                for d in agents.filter(|&d| acting[d]) {
                    let row = &obs[d * obs::DIM..(d + 1) * obs::DIM];
                    moves[d] = $strategy.cooperates(row) as u8 as f32;
                }
            };
        }
        match self {
            Strategy::Always(true) => each_agent!(Strategy::Always(true)),
            Strategy::Always(false) => each_agent!(Strategy::Always(false)),
            Strategy::Threshold(k) => each_agent!(Strategy::Threshold(k)),
            Strategy::Apologetic => each_agent!(Strategy::Apologetic),
            s @ Strategy::OwnNorm(_) => each_agent!(s),
        }
    }
}

#[derive(Component, Debug)]
struct State {
    rules: IndirectGame,
    n: usize,
    /// Public: `[subject]`; private: `[observer × n + subject]`.
    views: Vec<i8>,
    /// Sum of all views (mean image, or count of Good).
    view_sum: i64,
    /// Under private assessment, each agent's standing: the sum of every view of it. Empty under
    /// public assessment, where the one shared view is the standing (`State::standing`): a
    /// round then writes each donor's reputation once, not twice.
    standing: Vec<i64>,
    /// Each agent's recipient this round, if it donates.
    recipient: Vec<MaybeAgent>,
    /// Under private assessment, new views decided this round, applied after every donation is
    /// assessed: (index in `views`, below `MAX_PRIVATE_AGENTS`² = 2²⁸, view). Under public
    /// assessment a round changes each donor's one view, by its event's `change`.
    pending: Vec<(u32, i8)>,
    observers: Vec<usize>,
    draw: ObserverDraw,
}

impl State {
    fn initial_view(&self) -> i8 {
        match self.rules.model {
            Model::Scores => 0,
            Model::Norm(_) => 1,
        }
    }

    /// `observer`'s view of `subject`, with the assessment known to the compiler (`PUBLIC` must
    /// equal `rules.public`): the systems settle it once a round, not once a view.
    #[inline]
    fn view_as<const PUBLIC: bool>(&self, observer: usize, subject: usize) -> i8 {
        debug_assert_eq!(PUBLIC, self.rules.public);
        self.views[if PUBLIC {
            subject
        } else {
            observer * self.n + subject
        }]
    }

    /// Agent `a`'s standing: the sum of every view of it.
    fn standing(&self, a: usize) -> i64 {
        if self.rules.public {
            self.views[a] as i64
        } else {
            self.standing[a]
        }
    }

    /// How many views each agent has: one shared view, or every agent's.
    fn seen_by(&self) -> usize {
        if self.rules.public { 1 } else { self.n }
    }
}

/// Draws each of n agents with probability q: by geometric skips when q is small, so the cost
/// follows q·n, and by one 32-bit comparison per agent otherwise.
#[derive(Debug)]
enum ObserverDraw {
    None,
    Skips(Geometric),
    Coins(u64),
}

impl ObserverDraw {
    fn new(q: f64) -> Self {
        match q {
            // Below 2^-54, 1 − q rounds to 1: rand_distr's `Geometric::new` never returns, and
            // no run could draw an event that rare.
            q if q <= 0.0 || 1.0 - q == 1.0 => ObserverDraw::None,
            q if q < 0.25 => ObserverDraw::Skips(Geometric::new(q).expect("q is a probability")),
            q => ObserverDraw::Coins((q * 2f64.powi(32)) as u64),
        }
    }

    /// Pushes the drawn agents of `0..n`, except `skip`, in increasing order.
    fn others(&self, skip: usize, n: usize, rng: &mut impl Rng, out: &mut Vec<usize>) {
        match self {
            ObserverDraw::None => {}
            ObserverDraw::Skips(g) => {
                let mut o = 0u64;
                loop {
                    o += g.sample(rng);
                    if o >= n as u64 {
                        break;
                    }
                    if o as usize != skip {
                        out.push(o as usize);
                    }
                    o += 1;
                }
            }
            ObserverDraw::Coins(threshold) => {
                out.extend((0..n).filter(|&o| (rng.next_u32() as u64) < *threshold && o != skip));
            }
        }
    }
}

/// One donation of the round (16 bytes: its utterance's id is [`Said`]'s to give).
#[derive(Clone, Copy, Debug)]
struct Event {
    donor: AgentId,
    recipient: AgentId,
    cooperated: bool,
    /// The change of every view of the donor, summed (at most the agent count in size).
    change: i32,
}

impl Event {
    /// What fills a list's room not yet used.
    const FILLER: Event = Event {
        donor: AgentId(0),
        recipient: AgentId(0),
        cooperated: false,
        change: 0,
    };
}

/// The round's donations, in donor order: at most one an agent.
type Events = Said<Event>;

impl Rules for IndirectGame {
    fn observation_space(&self, _agents: usize) -> Space {
        let (lo, hi) = match self.model {
            Model::Scores => (-5.0, 5.0),
            Model::Norm(_) => (0.0, 1.0),
        };
        Space::Box {
            low: vec![0.0, lo, lo, 0.0],
            high: vec![1.0, hi, hi, 1.0],
        }
    }

    fn action_space(&self, _agents: usize) -> Space {
        Space::Discrete { n: 2 }
    }

    fn turn_order(&self) -> TurnOrder {
        TurnOrder::Chosen
    }

    fn reward_dimensions(&self) -> &'static [DimensionInfo] {
        &DONATION_DIMENSIONS
    }

    fn strategies(&self) -> &'static [StrategyInfo] {
        match self.model {
            Model::Scores => &SCORE_STRATEGIES,
            Model::Norm(_) => &NORM_STRATEGIES,
        }
    }

    fn prompt(&self, _agents: usize, _agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
        prompt(self, obs, mask)
    }

    fn metrics(&self) -> &'static [MetricInfo] {
        match self.model {
            Model::Scores => &SCORE_METRICS,
            Model::Norm(_) => &NORM_METRICS,
        }
    }

    fn potentials(&self) -> &'static [PotentialInfo] {
        &POTENTIALS
    }

    fn check(&self, agents: &[socium_core::AgentSpec]) -> Result<(), String> {
        if agents.len() < 2 {
            return Err(format!("needs at least 2 agents, found {}", agents.len()));
        }
        let own_norm = |a: &socium_core::AgentSpec| matches!(&a.controller, Controller::Scripted(c) if c.info.name == "own_norm");
        if self.public && agents.iter().any(own_norm) {
            return Err(
                "strategy `own_norm` judges by its own norm, which needs private \
                        assessment (`assessment = \"private\"`)"
                    .into(),
            );
        }
        if !self.public && agents.len() > MAX_PRIVATE_AGENTS {
            return Err(format!(
                "private views take agents² bytes: expected at most {MAX_PRIVATE_AGENTS} agents, \
                 found {}",
                agents.len()
            ));
        }
        Ok(())
    }

    fn build(&self, game: &mut GameBuilder) {
        let n = game.agent_count();
        let strategy: fn(&StrategyChoice) -> Strategy = match self.model {
            Model::Scores => score_strategy,
            Model::Norm(_) => norm_strategy,
        };
        game.insert_strategies(strategy);
        let views = if self.public { n } else { n * n };
        let events = Events::lists(game, n, Event::FILLER);
        game.env_component(|| State {
            rules: *self,
            n,
            views: vec![0; views],
            view_sum: 0,
            standing: vec![0; if self.public { 0 } else { n }],
            recipient: vec![MaybeAgent::NONE; n],
            pending: Vec::with_capacity(views),
            observers: Vec::with_capacity(n),
            draw: ObserverDraw::new(self.observation),
        })
        .env_component(events)
        .add_systems(Phase::Reset, reset)
        .add_systems(Phase::Observe, pair_and_observe)
        .add_systems(Phase::Decide, decide)
        .add_systems(Phase::Resolve, resolve)
        .add_systems(Phase::Reward, reward)
        .add_systems(Phase::Record, record);
        if game.shapes() {
            game.add_systems(Phase::Observe, own_reputation);
        }
    }
}

fn reset(mut envs: Query<&mut State, Resetting>) {
    for state in &mut envs {
        let state = state.into_inner();
        let v = state.initial_view();
        state.views.fill(v);
        state.view_sum = v as i64 * state.views.len() as i64;
        let standing = v as i64 * state.seen_by() as i64;
        state.standing.fill(standing);
    }
}

/// The potential `reputation`: each agent's reputation as the population sees it, after every
/// reset and step.
fn own_reputation(mut envs: Query<(&State, &mut Potentials)>) {
    for (state, potentials) in &mut envs {
        let potentials = potentials.into_inner();
        let seen_by = state.seen_by() as f64;
        for a in 0..state.n {
            potentials.set(
                AgentId(a as u32),
                REPUTATION_POTENTIAL,
                state.standing(a) as f64 / seen_by,
            );
        }
    }
}

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
) {
    for (clock, graph, state, rng, turn, obs) in &mut envs {
        let (state, rng, turn, obs) = (
            state.into_inner(),
            rng.into_inner(),
            turn.into_inner(),
            obs.into_inner(),
        );
        // The assessment settled once a round, as in `resolve`.
        if state.rules.public {
            pair_and_observe_env::<true>(clock, graph, state, rng, turn, obs);
        } else {
            pair_and_observe_env::<false>(clock, graph, state, rng, turn, obs);
        }
    }
}

/// One env's pairing and observations (`PUBLIC` equals `rules.public`).
fn pair_and_observe_env<const PUBLIC: bool>(
    clock: &Clock,
    graph: &SocialGraph,
    state: &mut State,
    rng: &mut SimRng,
    turn: &mut Turn,
    obs: &mut Observations,
) {
    let progress = clock.step() as f32 / state.rules.rounds as f32;
    for d in 0..state.n {
        let a = AgentId(d as u32);
        let r = if turn.is_acting(a) {
            graph.random_neighbour(a, &mut rng.chance)
        } else {
            None
        };
        state.recipient[d] = r.into();
        turn.set_acting(a, r.is_some());
        let mut row = [0.0; obs::DIM];
        row[obs::DONOR] = r.is_some() as u8 as f32;
        row[obs::RECIPIENT_REPUTATION] =
            r.map_or(0.0, |r| state.view_as::<PUBLIC>(d, r.index()) as f32);
        row[obs::OWN_REPUTATION] = state.view_as::<PUBLIC>(d, d) as f32;
        row[obs::PROGRESS] = progress;
        obs.0.row_mut(a).copy_from_slice(&row);
    }
}

/// Every scripted agent decides, a run of agents with one strategy at a time.
fn decide(
    strategies: Res<Strategies<Strategy>>,
    mut envs: Query<(&Turn, &Observations, &mut Actions), Stepping>,
) {
    for (turn, obs, actions) in &mut envs {
        let (obs, moves) = (obs.0.as_slice(), actions.into_inner().0.as_mut_slice());
        for (agents, strategy) in strategies.runs() {
            strategy.decide_run(agents.clone(), turn.acting(), obs, moves);
        }
    }
}

#[allow(clippy::type_complexity)]
fn resolve(
    mut envs: Query<
        (
            &Turn,
            &Actions,
            &mut State,
            &mut SimRng,
            &mut Utterances,
            &mut Events,
        ),
        Stepping,
    >,
    strategies: Res<Strategies<Strategy>>,
) {
    for (turn, actions, state, rng, utterances, events) in &mut envs {
        let (state, rng) = (state.into_inner(), rng.into_inner());
        let (utterances, events) = (utterances.into_inner(), events.into_inner());
        // The assessment settled once a round, not once a donation.
        if state.rules.public {
            resolve_env::<true>(turn, actions, &strategies, state, rng, utterances, events);
        } else {
            resolve_env::<false>(turn, actions, &strategies, state, rng, utterances, events);
        }
    }
}

/// One env's round, under public assessment or private (`PUBLIC` equals `rules.public`).
fn resolve_env<const PUBLIC: bool>(
    turn: &Turn,
    actions: &Actions,
    strategies: &Strategies<Strategy>,
    state: &mut State,
    rng: &mut SimRng,
    utterances: &mut Utterances,
    events: &mut Events,
) {
    let (n, rules) = (state.n, state.rules);
    let observe_all = PUBLIC || rules.observation >= 1.0;
    events.clear();
    state.pending.clear();
    // Taken out of the state for the round, so that a round's observers can borrow it while the
    // state changes.
    let mut drawn = std::mem::take(&mut state.observers);
    for d in 0..n {
        let donor = AgentId(d as u32);
        let Some(recipient) = state.recipient[d].get().filter(|_| turn.is_acting(donor)) else {
            continue;
        };
        let r = recipient.index();
        let intended = actions.0.row(donor)[0] == COOPERATE;
        let cooperated = intended && !rng.noise.sample(rules.execution_error);
        // Who assesses: the institution (public), or the donor itself plus each other agent with
        // probability q.
        let observers: &[usize] = if PUBLIC {
            &[0]
        } else {
            drawn.clear();
            if observe_all {
                drawn.extend(0..n);
            } else {
                drawn.push(d);
                state.draw.others(d, n, &mut rng.observe, &mut drawn);
            }
            &drawn
        };
        let mut change = 0i64;
        for &o in observers {
            let old = state.view_as::<PUBLIC>(o, d);
            let new = match rules.model {
                Model::Scores => (old + if cooperated { 1 } else { -1 }).clamp(-5, 5),
                Model::Norm(norm) => {
                    // `own_norm` needs private assessment (`check`): the institution judges by
                    // the game's norm.
                    let norm = match strategies.get(AgentId(o as u32)) {
                        Some(&Strategy::OwnNorm(own)) if !PUBLIC => own,
                        _ => norm,
                    };
                    let good =
                        norm.assess(old >= 1, state.view_as::<PUBLIC>(o, r) >= 1, cooperated);
                    let error = rules.assessment_error.is_some_and(|e| rng.noise.sample(e));
                    (good != error) as i8
                }
            };
            if !PUBLIC {
                state.pending.push(((o * n + d) as u32, new));
            }
            change += (new - old) as i64;
        }
        if !PUBLIC {
            state.standing[d] += change;
        }
        let act = Act {
            kind: if cooperated { "cooperate" } else { "defect" },
            target: Some(recipient),
            value: cooperated as u8 as f64,
        };
        let view = state.view_as::<PUBLIC>(d, r);
        let utterance = utterances.say(donor, Audience::Agent(recipient), act, || {
            let verb = if cooperated { "helps" } else { "does not help" };
            let slip = if intended && !cooperated {
                " (meant to help, but failed)"
            } else {
                ""
            };
            format!("{donor} {verb} {recipient}, whose reputation it sees as {view}{slip}")
        });
        events.push(
            utterance,
            Event {
                donor,
                recipient,
                cooperated,
                change: change as i32,
            },
        );
    }
    state.observers = drawn;
    if PUBLIC {
        for e in events.events() {
            state.views[e.donor.index()] += e.change as i8;
            state.view_sum += e.change as i64;
        }
    } else {
        for &(index, new) in &state.pending {
            let index = index as usize;
            state.view_sum += (new - state.views[index]) as i64;
            state.views[index] = new;
        }
    }
}

/// Reward components: payoff (−c to the helper, +b to the helped) and the change in the donor's
/// mean reputation over every agent's view of it (the one public view under public assessment),
/// each attributed to the donation.
fn reward(mut envs: Query<(&State, &Events, &mut RewardLedger), Stepping>) {
    for (state, events, ledger) in &mut envs {
        let mut ledger = ledger.into_inner().writer();
        let seen_by = state.seen_by() as f64;
        for (utterance, e) in events.said() {
            if e.cooperated {
                ledger.add(e.donor, utterance, PAYOFF, -state.rules.cost);
                ledger.add(e.recipient, utterance, PAYOFF, state.rules.benefit);
            }
            ledger.add(e.donor, utterance, REPUTATION, e.change as f64 / seen_by);
        }
    }
}

fn record(mut envs: Query<(&Clock, &State, &Events, &mut Metrics, &mut Done), Stepping>) {
    for (clock, state, events, metrics, done) in &mut envs {
        let metrics = metrics.into_inner();
        let events = events.events();
        let helped = events.iter().filter(|e| e.cooperated).count();
        metrics.record_many(COOPERATION, helped as f64, events.len() as f64);
        metrics.record(
            REPUTATION_LEVEL,
            state.view_sum as f64 / state.views.len() as f64,
        );
        if clock.step() + 1 >= state.rules.rounds {
            done.into_inner().terminate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_prompt_tells_the_donation_and_the_norm_in_words() {
        let norms = |text: &str| IndirectGame::from(toml::from_str::<NormsConfig>(text).unwrap());
        let stern = norms("norm = \"stern_judging\"\nassessment = \"public\"\nrounds = 10");
        let p = prompt(&stern, &[1.0, 0.0, 1.0, 0.2], &[1, 1]);
        assert!(
            p.rules.contains(
                "judged by the society's norm: helping a Good recipient makes the donor Good; \
                 refusing a Good recipient makes the donor Bad; helping a Bad recipient makes the \
                 donor Bad; refusing a Bad recipient makes the donor Good. The judgement is public"
            ),
            "{}",
            p.rules
        );
        assert_eq!(
            p.situation,
            "Round 3 of 10: you donate to an agent who is Bad. You are Good."
        );
        assert_eq!(
            p.acts,
            [
                (0, "refuse".to_owned()),
                (1, "help (pay 0.1, the recipient gains 1)".to_owned())
            ]
        );
        // L7 heeds the donor's reputation when it refuses a Bad recipient (BBD Bad, GBD Good).
        let l7 = norms("norm = \"l7\"\nassessment = \"private\"\nassessment_error = 0.02");
        let p = prompt(&l7, &[0.0, 0.0, 0.0, 0.0], &[0, 0]);
        assert!(
            p.rules
                .contains("refusing a Bad recipient makes a Good donor Good and a Bad one Bad")
        );
        assert!(
            p.rules.contains("Each agent judges for itself")
                && p.rules.contains("probability 0.02.")
        );
        assert_eq!(
            p.situation,
            "Round 1 of 100: you meet no one to donate to. You are Bad in your view."
        );
        assert!(p.acts.is_empty());
        // Image scores, each agent's own view.
        let scores =
            IndirectGame::from(toml::from_str::<ImageScoringConfig>("rounds = 4").unwrap());
        let p = prompt(&scores, &[1.0, 3.0, -1.0, 0.5], &[1, 1]);
        assert!(p.rules.contains("image score from -5 to 5"), "{}", p.rules);
        assert_eq!(
            p.situation,
            "Round 3 of 4: you donate to an agent who has an image score of 3 in your view. You \
             have an image score of -1 in your view."
        );
    }

    #[test]
    fn a_run_decides_as_each_agent_alone() {
        let all = [
            Strategy::Always(true),
            Strategy::Always(false),
            Strategy::Threshold(1),
            Strategy::Threshold(-2),
            Strategy::Apologetic,
            Strategy::OwnNorm(Norm::STERN_JUDGING),
        ];
        // Every pair of the reputations of both models, each agent acting or idle.
        let reputations = [-5.0, -2.0, 0.0, 1.0, 3.0];
        let mut obs = Vec::new();
        let mut acting = Vec::new();
        for (i, &recipient) in reputations.iter().enumerate() {
            for (j, &own) in reputations.iter().enumerate() {
                let mut row = [0.0; obs::DIM];
                (row[obs::RECIPIENT_REPUTATION], row[obs::OWN_REPUTATION]) = (recipient, own);
                obs.extend(row);
                acting.push((i + j) % 3 != 0);
            }
        }
        let n = acting.len();
        for strategy in all {
            let mut moves = vec![0.5; n];
            strategy.decide_run(1..n, &acting, &obs, &mut moves);
            for d in 0..n {
                let alone = match d >= 1 && acting[d] {
                    true => {
                        strategy.cooperates(&obs[d * obs::DIM..(d + 1) * obs::DIM]) as u8 as f32
                    }
                    false => 0.5,
                };
                assert_eq!(moves[d], alone, "{strategy:?}, agent {d}");
            }
        }
    }

    #[test]
    fn observers_are_drawn_with_probability_q() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // 0.1 takes the geometric skips, 0.6 the coins; 200 × 1,000 draws give a standard error
        // under 0.0012 on the fraction.
        for q in [0.1, 0.6] {
            let draw = ObserverDraw::new(q);
            let mut drawn = 0;
            let mut out = Vec::new();
            for _ in 0..1000 {
                out.clear();
                draw.others(7, 200, &mut rng, &mut out);
                assert!(!out.contains(&7));
                assert!(out.windows(2).all(|w| w[0] < w[1]));
                drawn += out.len();
            }
            let fraction = drawn as f64 / (199.0 * 1000.0);
            assert!((fraction - q).abs() < 0.006, "q = {q}: drew {fraction}");
        }
        let mut out = Vec::new();
        ObserverDraw::new(0.0).others(0, 10, &mut rng, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn norm_names_and_tables() {
        assert_eq!(Norm::by_name("l3"), Some(Norm::SIMPLE_STANDING));
        assert_eq!(Norm::by_name("stern_judging"), Some(Norm::LEADING_EIGHT[5]));
        assert_eq!(Norm::by_name("l9"), None);
        assert_eq!(Norm::by_name("l01"), None);
        // Stern judging: helping a Bad recipient is Bad, refusing it is Good, whoever the donor.
        let sj = Norm::STERN_JUDGING;
        assert!(!sj.assess(true, false, true) && sj.assess(false, false, false));
        let table: Norm =
            toml::from_str::<toml::Table>("n = [1, 0, 0, 1, 1, 0, 0, 1]").unwrap()["n"]
                .clone()
                .try_into()
                .unwrap();
        assert_eq!(table, sj);
    }
}
