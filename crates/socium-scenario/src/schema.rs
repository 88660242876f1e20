//! The scenario file format (serde). Every table refuses unknown keys; numbers are range-checked
//! by their types, so errors point at the offending value. `docs/scenarios.md` documents each key.

use serde::Deserialize;
use socium_core::{
    Combine, GraphSpec, ShapingSpec, Social, Transform,
    bounded::{Count, Finite, HalfRate, NonNegative, Positive, Probability, UnitPositive},
};
use std::collections::BTreeMap;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// `[scenario]`: name, seed, run length.
    pub scenario: Meta,
    /// `[game.<name>]`: which game, and its settings.
    pub game: Spanned<GameSpec>,
    /// `[graph]`: the social graph generator (complete when absent).
    #[serde(default)]
    pub graph: Option<Spanned<GraphSpec>>,
    /// `[[agents]]`: groups of agents, in id order.
    pub agents: Spanned<Vec<Spanned<AgentGroup>>>,
    /// `[rewards.<dimension>]`: weights and transforms.
    #[serde(default)]
    pub rewards: BTreeMap<Spanned<String>, RewardTable>,
    /// `[output]`: what `socium run` writes.
    #[serde(default)]
    pub output: Output,
    /// `[evolution]`: how `socium evolve` evolves the groups' strategies.
    #[serde(default)]
    pub evolution: Option<EvolutionSpec>,
    /// `[shaping.<potential>]`: potential-based shaping terms added to the scalar reward.
    #[serde(default)]
    pub shaping: BTreeMap<Spanned<String>, ShapingSpec>,
    /// `[scalar]`: how the weighted reward components combine into the scalar reward.
    #[serde(default)]
    pub scalar: Scalar,
    /// `[judge]`: a language model that scores every agent after each episode of `socium run`.
    #[serde(default)]
    pub judge: Option<Spanned<LlmConfig>>,
    /// `[attribution]`: how `socium run` spreads each agent's episode score over its utterances.
    #[serde(default)]
    pub attribution: Option<AttributionSpec>,
    /// `[ties]`: how the social graph's ties form and break as agents act.
    #[serde(default)]
    pub ties: Option<Spanned<TieSpec>>,
    /// `[values]`: every agent holds a value that drifts toward its partners'.
    #[serde(default)]
    pub values: Option<ValueSpec>,
    /// `[[timeline]]`: changes to the scenario from given episodes on.
    #[serde(default)]
    pub timeline: Vec<Spanned<TimelineEntry>>,
}

/// `[[timeline]]`: from episode `episode` on (`socium run`; from its step `step` on when given),
/// or from generation `generation` on (`socium evolve`, in a scenario with `[evolution]`), the
/// scenario with `set` applied (keys as `--set` takes them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// The first episode the change applies to (0-based).
    pub episode: Option<Spanned<u64>>,
    /// The first generation the change applies to (0-based).
    pub generation: Option<Spanned<u64>>,
    /// The step of `episode` the change applies from (the steps played before it; absent: the
    /// episode's start).
    pub step: Option<Spanned<u32>>,
    /// Dotted keys and their new values.
    pub set: BTreeMap<String, toml::Value>,
}

/// `[ties]`: see `socium_core::TieRules`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TieSpec {
    /// The reward dimension whose entries move ties (the game's first when absent).
    pub dimension: Option<Spanned<String>>,
    /// Weight lost per act of one end that cost the other.
    pub weaken: Option<NonNegative>,
    /// Weight gained per act of one end that benefited the other.
    pub strengthen: Option<NonNegative>,
    /// Ties whose weight falls below this are cut (default 0).
    pub cut_below: Option<Finite>,
    /// Probability, per agent and episode end, of tying to a friend of a friend.
    pub closure: Option<Probability>,
    /// The most ties an agent may gain up to.
    pub budget: Option<Count>,
    /// Probability, per agent and episode end, of tying to an agent of similar value (needs
    /// `[values]`).
    pub homophily: Option<Spanned<Probability>>,
    /// How close a value is similar (default 0.1).
    pub similar_within: Option<Probability>,
    /// Probability, per favour returned across a tie, that the two grow one relationship level
    /// closer.
    pub reciprocity: Option<Probability>,
}

/// `[values]`: see `socium_core::ValueRules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSpec {
    /// The confidence bound ε: partners this far apart or farther do not move each other.
    pub confidence: UnitPositive,
    /// The share of the gap each partner moves, μ in (0, 0.5].
    pub rate: HalfRate,
}

/// `[attribution]`: a method, and the dimensions it attributes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionSpec {
    /// How utterances are weighed.
    pub method: Spanned<AttributionMethod>,
    /// The reward dimensions to attribute (every one when absent).
    #[serde(default)]
    pub dimensions: Option<Spanned<Vec<String>>>,
}

/// `[attribution] method`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AttributionMethod {
    /// Equal weights.
    Uniform,
    /// The game's own per-utterance values.
    Exact,
    /// A weight per utterance from an ONNX model of the speaker's observation.
    Onnx {
        /// The model file, relative to the scenario file.
        model: String,
    },
    /// A language model's 0–3 rating of each utterance (Sotopia-RL).
    Llm(Box<LlmConfig>),
}

/// `[evolution]`: each agent group is a type; a generation plays one episode, then the population
/// reproduces by `rule`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvolutionSpec {
    /// How the population reproduces after each generation.
    pub rule: RuleSpec,
    /// How payoff becomes fitness (default `{ linear = { w = 1 } }`: fitness = payoff).
    #[serde(default = "linear_fitness")]
    pub fitness: FitnessSpec,
    /// Which games of an episode count towards fitness, for a game whose episode is a series of
    /// games ([`Rules::game_steps`](socium_core::Rules::game_steps)); default all of them.
    #[serde(default)]
    pub fitness_games: Option<Spanned<FitnessGames>>,
    /// Generations per run.
    pub generations: Count,
    /// Episodes each generation plays before reproducing, payoffs summed (default 1); a whole
    /// round robin of a repeated game is `agents − 1` episodes (or `agents` when odd).
    #[serde(default = "one")]
    pub episodes: Count,
    /// Independent runs (default 1).
    #[serde(default = "one")]
    pub runs: Count,
    /// Probability that an offspring takes another type at random (default 0).
    #[serde(default = "no_mutation")]
    pub mutation: Probability,
    /// Strategy parameters that drift at every birth: name → standard deviation of a Gaussian
    /// step, clipped to the parameter's declared range (whole-number parameters round). Applies
    /// to every type whose strategy declares the parameter.
    #[serde(default)]
    pub drift: BTreeMap<Spanned<String>, NonNegative>,
    /// Play each distinct population once where the game's outcome does not depend on the seed
    /// (deterministic strategies, no noise; default true). Results are the same either way.
    #[serde(default = "yes")]
    pub memoize: bool,
}

fn yes() -> bool {
    true
}

/// Reproduction rules of `[evolution]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleSpec {
    /// The next generation drawn in proportion to fitness (Nowak & Sigmund 1998).
    Proportional,
    /// The fittest `survivors` share keeps its strategies, the others copy a random survivor
    /// (Vallinder & Hughes 2024).
    Truncation {
        /// Share that survives (default in the paper: 0.5).
        survivors: Probability,
    },
    /// `updates` Moran birth–death updates per generation.
    MoranBirthDeath {
        /// Updates per generation.
        updates: Count,
    },
    /// `updates` Moran death–birth updates per generation.
    MoranDeathBirth {
        /// Updates per generation.
        updates: Count,
    },
    /// `updates` pairwise-comparison (Fermi) imitations per generation, intensity `beta`.
    Fermi {
        /// Intensity of selection.
        beta: NonNegative,
        /// Updates per generation.
        updates: Count,
    },
}

/// Payoff-to-fitness maps of `[evolution]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FitnessSpec {
    /// `1 − w + w·payoff`.
    Linear {
        /// Selection intensity in [0, 1].
        w: Probability,
    },
    /// `exp(w·payoff)`.
    Exponential {
        /// Selection intensity ≥ 0.
        w: NonNegative,
    },
}

/// Which games of an episode count towards fitness (`[evolution] fitness_games`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitnessGames {
    /// Every game's payoff, summed.
    #[default]
    All,
    /// The last game's payoff alone: the released notebook of Vallinder & Hughes
    /// (aronvallinder/llm-donor-game, `Donor_Game_with_Cultural_Evolution.ipynb`, cell 14
    /// `donorGame`) ranks agents by their resources after the second game.
    Last,
}

fn linear_fitness() -> FitnessSpec {
    FitnessSpec::Linear {
        w: Probability::new(1.0).expect("in range"),
    }
}

fn one() -> Count {
    Count::new(1).expect("in range")
}

fn no_mutation() -> Probability {
    Probability::new(0.0).expect("in range")
}

/// `[scenario]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Human-readable name.
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Seed of the first episode.
    #[serde(default)]
    pub seed: u64,
    /// Episodes `socium run` plays (the game's default when absent).
    pub episodes: Option<Count>,
    /// Step limit per episode (truncation).
    pub max_steps: Option<Count>,
    /// The ONNX Runtime library for `policy` agents (relative to the scenario file); looked for
    /// in `ORT_DYLIB_PATH` and the project's `.venv` when absent.
    pub onnxruntime: Option<String>,
}

/// `[game.<name>]`: the game registry's table type (one variant per game of
/// `socium_games`' registry).
pub use socium_games::GameSpec;
use socium_llm::LlmConfig;

/// `[[agents]]`: a group of identical agents.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentGroup {
    /// How many (default 1).
    pub count: Option<Spanned<Count>>,
    /// A scripted strategy of the game.
    pub strategy: Option<Spanned<String>>,
    /// `random`, `external` or `{ llm = { ... } }` instead of a strategy.
    pub controller: Option<Spanned<ControllerKind>>,
    /// An ONNX policy file (relative to the scenario file) instead of a strategy.
    pub policy: Option<Spanned<String>>,
    /// Sample the policy's discrete choices from `softmax(logits / temperature)` (argmax when
    /// absent).
    pub temperature: Option<Spanned<Positive>>,
    /// Label in tables (default: the strategy or controller name).
    pub label: Option<String>,
    /// The strategy's parameters.
    #[serde(default)]
    pub params: BTreeMap<Spanned<String>, Spanned<f64>>,
    /// How the group weighs the others' rewards into its own (selfish when absent).
    pub social: Option<Social>,
}

/// Controllers other than scripted strategies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControllerKind {
    /// Uniformly random legal actions.
    Random,
    /// Actions from an outside trainer.
    External,
    /// A language model behind an OpenAI-compatible server.
    Llm(Box<LlmConfig>),
}

/// `[rewards.<dimension>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardTable {
    /// Weight in the scalar reward (the game's default when absent).
    pub weight: Option<Finite>,
    /// Transform of the per-step raw value (identity when absent); its span points its errors
    /// at it.
    pub transform: Option<Spanned<Transform>>,
}

/// `[scalar]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scalar {
    /// `sum` (default), `min` or `log_sum`.
    pub combine: Combine,
    /// HERON's hierarchical preferences between the agents of each episode, written by
    /// `socium run` to `preferences.jsonl`.
    pub heron: Option<Spanned<HeronSpec>>,
}

/// `[scalar.heron]`: the dimensions in order of importance, each with its margin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeronSpec {
    /// Reward dimensions, most important first.
    pub order: Vec<String>,
    /// One margin ≥ 0 per dimension of `order`: a difference must exceed it to decide.
    pub margins: Vec<NonNegative>,
    /// What is compared: the agents of each episode (default), or each agent's consecutive
    /// episodes.
    #[serde(default)]
    pub between: HeronPairs,
}

/// `[scalar.heron] between`: which outcomes HERON compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeronPairs {
    /// Every pair of agents `a < b` of each episode.
    #[default]
    Agents,
    /// Each agent's episode against its previous one.
    Episodes,
}

/// `[output]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    /// Whether `socium run` writes `transcript.jsonl` (rendering utterance text).
    pub transcript: bool,
    /// Whether `socium run` measures the social graph after every episode (`metrics.csv`,
    /// `summary.json`) and writes its final state to `graph.edges`.
    pub graph: Option<Spanned<bool>>,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            transcript: true,
            graph: None,
        }
    }
}
