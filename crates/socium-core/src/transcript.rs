//! The transcript: one JSON line per utterance, with the reward entries it caused, or per group
//! of entries settling an utterance of an earlier step. [`TranscriptLine`] is the one definition
//! of a line: the kernel writes it, `socium replay` and the Python package read it.

use crate::{
    AgentId, Audience, Clock, Faults, RewardEntry, RewardLedger, Stepping, Utterance,
    UtteranceEntries, UtteranceId, Utterances,
    reward::{DimensionSpec, RewardDimensions},
};
use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};
use std::{borrow::Cow, io::Write as _};

/// One transcript line.
///
/// ```json
/// {"episode":0,"id":3,"step":1,"speaker":2,"audience":5,"act":{"kind":"give","target":5,"value":2.5},"text":"...","rewards":[{"agent":2,"dimension":"payoff","value":-2.5}]}
/// {"episode":0,"step":4,"settles":3,"rewards":[{"agent":1,"dimension":"listening","value":-0.2}]}
/// {"episode":0,"step":5,"agent":1,"fault":"no answer after 3 attempts: ..."}
/// {"episode":10,"timeline":"agents[1].strategy=\"alld\""}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TranscriptLine<'a> {
    /// An utterance and the entries naming it.
    Made {
        /// Episode since the last seeded reset.
        episode: u64,
        /// The utterance's id, unique within the episode.
        id: UtteranceId,
        /// The step it was made at.
        step: u32,
        /// Who made it.
        speaker: AgentId,
        /// Who hears it.
        audience: Audience,
        /// What it does.
        #[serde(borrow)]
        act: ActLine<'a>,
        /// Its text, when rendered or given.
        #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
        text: Option<Cow<'a, str>>,
        /// The reward entries it caused this step.
        #[serde(borrow)]
        rewards: Vec<RewardLine<'a>>,
    },
    /// Entries settling an utterance of an earlier step.
    Settles {
        /// Episode since the last seeded reset.
        episode: u64,
        /// The step the entries were written at.
        step: u32,
        /// The earlier utterance.
        settles: UtteranceId,
        /// The entries.
        #[serde(borrow)]
        rewards: Vec<RewardLine<'a>>,
    },
    /// A controller's fault: the agent's act at this step is the game's default one.
    Fault {
        /// Episode since the last seeded reset.
        episode: u64,
        /// The step.
        step: u32,
        /// The agent.
        agent: AgentId,
        /// What failed.
        #[serde(borrow)]
        fault: Cow<'a, str>,
    },
    /// Each agent's hidden role in the episode (mafia, imposter...), in agent order: the first
    /// line of the episode's steps, for games that deal roles ([`Roles`]).
    Roles {
        /// Episode since the last seeded reset.
        episode: u64,
        /// The roles, agent 0's first.
        #[serde(borrow)]
        roles: Vec<Cow<'a, str>>,
    },
    /// A change of the scenario (`[[timeline]]`) from this episode on, before its first step, or
    /// from this step of it on.
    Change {
        /// The first episode the change applies to.
        episode: u64,
        /// The step it applies from, for a change part-way through the episode.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<u32>,
        /// What it sets, `key=value` pairs.
        #[serde(borrow)]
        timeline: Cow<'a, str>,
    },
}

/// An utterance's act, as a transcript line holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActLine<'a> {
    /// The act's name.
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    /// The agent it is aimed at, if any.
    pub target: Option<AgentId>,
    /// The number it carries.
    pub value: f64,
}

/// A reward entry, as a transcript line holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardLine<'a> {
    /// Who is rewarded.
    pub agent: AgentId,
    /// The dimension's name.
    #[serde(borrow)]
    pub dimension: Cow<'a, str>,
    /// The raw value.
    pub value: f64,
}

impl<'a> TranscriptLine<'a> {
    /// The line of one utterance's entries of a step (see [`crate::by_utterance`]), naming dimensions from
    /// `dims`.
    pub fn new(
        episode: u64,
        step: u32,
        entries: UtteranceEntries<'a>,
        dims: &'a [DimensionSpec],
    ) -> Self {
        let named = |rewards: Vec<&RewardEntry>| {
            rewards
                .iter()
                .map(|e| RewardLine {
                    agent: e.agent,
                    dimension: Cow::Borrowed(dims[e.dimension.0 as usize].name),
                    value: e.value,
                })
                .collect()
        };
        match entries {
            UtteranceEntries::Made { utterance, rewards } => {
                let Utterance {
                    id,
                    step,
                    speaker,
                    audience,
                    act,
                    text,
                } = utterance;
                TranscriptLine::Made {
                    episode,
                    id: *id,
                    step: *step,
                    speaker: *speaker,
                    audience: *audience,
                    act: ActLine {
                        kind: Cow::Borrowed(act.kind),
                        target: act.target,
                        value: act.value,
                    },
                    text: text.as_deref().map(Cow::Borrowed),
                    rewards: named(rewards),
                }
            }
            UtteranceEntries::Settles { utterance, rewards } => TranscriptLine::Settles {
                episode,
                step,
                settles: utterance,
                rewards: named(rewards),
            },
        }
    }

    /// The step the line was written at.
    pub fn step(&self) -> u32 {
        match self {
            TranscriptLine::Made { step, .. }
            | TranscriptLine::Settles { step, .. }
            | TranscriptLine::Fault { step, .. } => *step,
            TranscriptLine::Change { step, .. } => step.unwrap_or(0),
            TranscriptLine::Roles { .. } => 0,
        }
    }

    /// The episode the line belongs to.
    pub fn episode(&self) -> u64 {
        match self {
            TranscriptLine::Made { episode, .. }
            | TranscriptLine::Settles { episode, .. }
            | TranscriptLine::Fault { episode, .. }
            | TranscriptLine::Change { episode, .. }
            | TranscriptLine::Roles { episode, .. } => *episode,
        }
    }

    /// The reward entries on the line (none on a fault's).
    pub fn rewards(&self) -> &[RewardLine<'a>] {
        match self {
            TranscriptLine::Made { rewards, .. } | TranscriptLine::Settles { rewards, .. } => {
                rewards
            }
            TranscriptLine::Fault { .. }
            | TranscriptLine::Change { .. }
            | TranscriptLine::Roles { .. } => &[],
        }
    }
}

/// An env's JSON-lines transcript, written at the end of every step by [`write_transcript`],
/// which only a World that keeps one runs, and taken by `Sim::take_transcript`.
#[derive(Component, Debug, Default)]
pub(crate) struct Transcript {
    pub(crate) buf: Vec<u8>,
}

/// Each agent's hidden role in the env's episode, which a game that deals roles sets for every
/// agent as the episode starts (in its `Reset` systems; the kernel clears them before): the
/// first transcript line of the episode's steps shows them ([`TranscriptLine::Roles`]), for readers
/// (`socium replay`, `socium view`), never the agents.
#[derive(Component, Clone, Debug, Default)]
pub struct Roles(Vec<&'static str>);

impl Roles {
    /// Agent `a`'s role is `role`.
    pub fn set(&mut self, a: AgentId, role: &'static str) {
        if self.0.len() <= a.index() {
            self.0.resize(a.index() + 1, "");
        }
        self.0[a.index()] = role;
    }

    /// The roles, in agent order (empty where the game deals none).
    pub fn get(&self) -> &[&'static str] {
        &self.0
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

/// Writes each stepped env's lines of the step: its roles at the episode's first step, its
/// controllers' faults, then its utterances with the reward entries of each.
pub(crate) fn write_transcript(
    dims: Res<RewardDimensions>,
    mut envs: Query<
        (
            &Clock,
            &Utterances,
            &RewardLedger,
            &Faults,
            &Roles,
            &mut Transcript,
        ),
        Stepping,
    >,
) {
    for (clock, utterances, ledger, faults, roles, transcript) in &mut envs {
        let grouped = crate::by_utterance(utterances.this_step(), ledger.entries());
        let (episode, step, faults) = (clock.episode, utterances.step, faults.current());
        let lines = step_lines(episode, step, Some(roles), faults, grouped, &dims.0);
        transcript.into_inner().write(lines);
    }
}

/// One step's transcript lines, in the order `transcript.jsonl` holds them: at the episode's
/// first step, the `roles` where given and the game deals some; the controllers' `faults`, then
/// the reward entries by utterance ([`crate::by_utterance`]), naming dimensions from `dims`.
pub(crate) fn step_lines<'a>(
    episode: u64,
    step: u32,
    roles: Option<&'a Roles>,
    faults: &'a [(AgentId, String)],
    grouped: impl IntoIterator<Item = UtteranceEntries<'a>>,
    dims: &'a [DimensionSpec],
) -> impl Iterator<Item = TranscriptLine<'a>> {
    let roles = roles.filter(|r| step == 0 && !r.0.is_empty());
    let roles = roles.map(|r| TranscriptLine::Roles {
        episode,
        roles: r.0.iter().map(|r| Cow::Borrowed(*r)).collect(),
    });
    let faults = faults
        .iter()
        .map(move |(agent, fault)| TranscriptLine::Fault {
            episode,
            step,
            agent: *agent,
            fault: Cow::Borrowed(fault),
        });
    let made =
        (grouped.into_iter()).map(move |entries| TranscriptLine::new(episode, step, entries, dims));
    roles.into_iter().chain(faults).chain(made)
}

impl Transcript {
    /// Appends `lines`, one JSON object a line.
    pub(crate) fn write<'a>(&mut self, lines: impl IntoIterator<Item = TranscriptLine<'a>>) {
        for line in lines {
            serde_json::to_writer(&mut self.buf, &line).expect("serialising to memory cannot fail");
            self.buf
                .write_all(b"\n")
                .expect("writing to memory cannot fail");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Act, DimId, Transform};

    #[test]
    fn lines_read_back_as_written() {
        let dims = [DimensionSpec {
            name: "payoff",
            weight: 1.0,
            transform: Transform::Identity,
        }];
        let utterance = Utterance {
            id: UtteranceId(3),
            step: 1,
            speaker: AgentId(2),
            audience: Audience::Agent(AgentId(5)),
            act: Act {
                kind: "give",
                target: Some(AgentId(5)),
                value: 2.5,
            },
            text: Some("gives \"2.5\"".into()),
        };
        let entry = RewardEntry {
            agent: AgentId(2),
            utterance: UtteranceId(3),
            dimension: DimId(0),
            value: -2.5,
        };
        let mut transcript = Transcript::default();
        let made = UtteranceEntries::Made {
            utterance: &utterance,
            rewards: vec![&entry],
        };
        let settles = UtteranceEntries::Settles {
            utterance: UtteranceId(1),
            rewards: vec![&entry],
        };
        let faults = [(AgentId(4), "timed out".to_owned())];
        let mut roles = Roles::default();
        transcript.write(step_lines(
            0,
            1,
            Some(&roles),
            &faults,
            [made, settles],
            &dims,
        ));
        // At an episode's first step, its roles come first.
        roles.set(AgentId(1), "mafia");
        roles.set(AgentId(0), "citizen");
        transcript.write(step_lines(1, 0, Some(&roles), &[], [], &dims));
        let text = String::from_utf8(transcript.buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"episode":0,"step":1,"agent":4,"fault":"timed out"}"#
        );
        assert_eq!(
            lines[1],
            r#"{"episode":0,"id":3,"step":1,"speaker":2,"audience":5,"act":{"kind":"give","target":5,"value":2.5},"text":"gives \"2.5\"","rewards":[{"agent":2,"dimension":"payoff","value":-2.5}]}"#
        );
        assert_eq!(
            lines[2],
            r#"{"episode":0,"step":1,"settles":1,"rewards":[{"agent":2,"dimension":"payoff","value":-2.5}]}"#
        );
        assert_eq!(lines[3], r#"{"episode":1,"roles":["citizen","mafia"]}"#);
        assert_eq!(lines.len(), 4);
        for line in lines {
            let read: TranscriptLine = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&read).unwrap(), line);
        }
    }
}
