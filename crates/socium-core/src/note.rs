//! What a controller says beside an agent's action: the free text it speaks, the fault that
//! made it fall back on the game's default act (a language model that did not answer, say), or
//! what it keeps for the agent for the rest of the episode.
//! Faults are kept per step and counted per episode, and the transcript has a line for each, so
//! a run never scores a silent default.

use crate::AgentId;
use bevy_ecs::component::Component;

/// A policy's note on one agent's action at one step.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// Free text the agent says with its act (taken where the action space has a `Text` part).
    Text(String),
    /// Why the agent's act is the default one.
    Fault(String),
    /// The agent's memory from now on, in place of what its policy kept before: what the
    /// policy's later passes of the episode read ([`crate::PolicyBatch::memory`]; a language
    /// model's latest turns, a recurrent policy's state). Kept only once the step is taken.
    Remember(String),
}

/// The controller faults of the current step, and each agent's count over the episode.
#[derive(Component, Clone, Debug)]
pub struct Faults {
    pub(crate) current: Vec<(AgentId, String)>,
    pub(crate) episode: Vec<u32>,
}

impl Faults {
    pub(crate) fn new(agents: usize) -> Self {
        Faults {
            current: Vec::new(),
            episode: vec![0; agents],
        }
    }

    /// This step's faults: each agent and what failed.
    pub fn current(&self) -> &[(AgentId, String)] {
        &self.current
    }

    /// Each agent's faults this episode, `[agents]`.
    pub fn episode(&self) -> &[u32] {
        &self.episode
    }

    pub(crate) fn record(&mut self, a: AgentId, fault: String) {
        self.episode[a.index()] += 1;
        self.current.push((a, fault));
    }

    pub(crate) fn clear_episode(&mut self) {
        self.current.clear();
        self.episode.fill(0);
    }
}
