//! The Socium kernel.
//!
//! One [`Sim`] is one environment: a `bevy_ecs` world run by single-threaded schedules through the
//! phases `Observe -> Decide -> Resolve -> Reward -> Record`. Agents are entities with a dense
//! [`AgentId`] and a [`Controller`]; a [`SocialGraph`] ties them; every act is an [`Utterance`];
//! reward components write `(agent, utterance, dimension, value)` entries into the
//! [`RewardLedger`]. Games are plugins implementing [`Game`]. A [`VecEnv`] steps many Sims in
//! parallel with rayon into flat buffers; [`Policy`] controllers act for all their agents across
//! a VecEnv in one batch. See `docs/ARCHITECTURE.md` for the map.

mod agent;
pub mod bounded;
mod graph;
mod metrics;
mod policy;
mod reward;
mod rng;
mod sim;
pub mod space;
mod turn;
mod utterance;
mod vec_env;

pub use agent::{
    AgentId, AgentSpec, Agents, Controller, ParamError, ParamInfo, ParamKind, StrategyChoice,
    StrategyInfo,
};
pub use graph::{
    Edge, EdgeListError, GENERATORS, GraphSpec, Neighbours, Relationship, SocialGraph, Tie,
    parse_edge_list,
};
pub use metrics::{MetricId, MetricInfo, Metrics};
pub use policy::{Policy, PolicyBatch, PolicyController, PolicyExtras, Selection};
pub use reward::{
    Attribution, DimId, DimensionInfo, DimensionSpec, RewardEntry, RewardLedger, StepRewards,
    Transform, attribute,
};
pub use rng::{SimRng, derive_seed};
pub use sim::{
    ActionMasks, Actions, Game, Observations, Phase, Rows, Sim, SimBuilder, SimConfig, SimError,
    Spaces, StepError,
};
pub use space::Space;
pub use turn::{Clock, Done, Turn, TurnOrder};
pub use utterance::{Act, Audience, Texts, Utterance, UtteranceId, Utterances};
pub use vec_env::{VecBuffers, VecEnv, VecOutputs, VecStepError};
