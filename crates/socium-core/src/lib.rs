//! The Socium kernel.
//!
//! A `bevy_ecs` World hosts a block of envs: each env is an entity whose components are its
//! state, its agents are entities related to it ([`AgentOf`]), and one run of a single-threaded
//! schedule steps every env of the block through the phases `Decide -> Resolve -> Reward ->
//! Record -> Observe` (or resets it). Agents have a dense [`AgentId`] and a [`Controller`]; a
//! [`SocialGraph`] ties them; every act is an [`Utterance`]; reward components write `(agent,
//! utterance, dimension, value)` entries into the [`RewardLedger`]. Games are plugins: [`Rules`]
//! under a name ([`Game`], [`Named`]). A [`Sim`] is a block of one env; a [`VecEnv`] steps many blocks in
//! parallel with rayon into flat buffers; [`Policy`] controllers act for all their agents across
//! a VecEnv in one batch. See `docs/ARCHITECTURE.md` for the map.

mod agent;
mod agreement;
pub mod attribution;
mod block;
pub mod bounded;
mod buffers;
mod env;
mod game;
mod graph;
mod graph_stats;
pub mod heron;
mod metrics;
mod note;
mod policy;
mod reward;
mod rng;
mod shaping;
mod sim;
mod social;
pub mod space;
mod ties;
mod transcript;
mod transform;
mod turn;
mod utterance;
mod values;
mod vec_env;

pub use agent::{
    AgentId, AgentOf, AgentSpec, Agents, Controller, EnvAgents, MaybeAgent, ParamError, ParamInfo,
    ParamKind, Strategies, StrategyChoice, StrategyInfo, runs,
};
pub use agreement::Agreement;
pub use buffers::{VecBuffers, Window};
pub use env::{
    ActionMasks, Actions, EnvView, Observations, ResetDue, Resetting, Rows, Spaces, Stepping,
};
pub use game::{Game, GameBuilder, Named, Phase, Prompt, Retune, Rules, retune_settings};
pub use graph::{
    Edge, EdgeListError, GENERATORS, GraphSpec, Neighbours, Relationship, SocialGraph, Tie,
    parse_edge_list,
};
pub use graph_stats::{GRAPH_STATS, GraphStats, edge_list};
pub use metrics::{MetricId, MetricInfo, Metrics};
pub use note::{Faults, Note};
pub use policy::{
    NEXT_STATE, Policy, PolicyBatch, PolicyController, PolicyError, PolicyExtras, Selection,
};
pub use reward::{
    Combine, DimId, DimensionInfo, DimensionSpec, LedgerWriter, RewardEntry, RewardLedger,
    StepRewards, UtteranceEntries, by_utterance,
};
pub use rng::{SimRng, Stream, derive_seed};
pub use shaping::{PotentialId, PotentialInfo, Potentials, ShapingSpec};
pub use sim::{RetuneError, Sim, SimConfig, SimError, StepError};
pub use social::Social;
pub use space::Space;
pub use ties::TieRules;
pub use transcript::{ActLine, RewardLine, Roles, TranscriptLine};
pub use transform::{Reference, Transform};
pub use turn::{Clock, Done, Turn, TurnOrder};
pub use utterance::{Act, Audience, Texts, Utterance, UtteranceId, UtteranceText, Utterances};
pub use values::{VALUE_STATS, ValueRules, ValueStats, Values, clusters, tie_distance};
pub use vec_env::{VecEnv, VecStepError};
