//! Episode-to-utterance attribution (Sotopia-RL; Yu et al. 2025, arXiv 2508.03905): an agent's
//! score on a reward dimension over a finished episode, spread over the utterances it made, so
//! that a trainer can reward each utterance for its share of the outcome.
//!
//! An [`EpisodeLog`] gathers an episode as it is played: every utterance with the speaker's
//! observation when it spoke (a weight model's input) and its words (a language model's), and
//! every reward entry. [`attribute`] then gives each utterance `score · w_i / Σ w` of its
//! speaker's episode score on each dimension, for weights `w` from any method (uniform, an ONNX
//! model, a language model's 0–3 ratings), so an agent's utterances sum to its score whatever the
//! weights. The **exact** attribution is the game's own: [`EpisodeLog::exact`].
//!
//! Exact values follow the ledger. An entry that names one of its agent's own utterances (a
//! donation's cost, a vote's credit, a settlement of an earlier message) is that utterance's. An
//! entry caused by another agent's utterance (a donation received, a win decided by someone
//! else's vote) is the reward of the act its agent was taking when it came — the agent's
//! utterance of that step, else its latest before — as in the per-step rewards of reinforcement
//! learning; entries that come before an agent's first utterance are its first utterance's. So an
//! agent's exact values sum to its whole episode score, as every other method's do. An agent
//! that never spoke has nothing to attribute its score to: [`EpisodeLog::unattributed`].

use crate::{AgentId, RewardEntry, Utterance, UtteranceId};

/// No utterance (yet).
const NONE: u32 = u32::MAX;

/// One utterance of an episode, as attribution needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Spoken {
    /// The utterance's id.
    pub id: UtteranceId,
    /// The step it was made at.
    pub step: u32,
    /// Who made it.
    pub agent: AgentId,
    /// What was said ([`Utterance::words`]).
    pub words: String,
}

/// An episode's utterances and reward entries, gathered step by step for attribution.
#[derive(Clone, Debug)]
pub struct EpisodeLog {
    dims: usize,
    obs_dim: usize,
    spoken: Vec<Spoken>,
    /// Exact values, `[spoken × dims]`.
    exact: Vec<f64>,
    /// The speaker's observation when it spoke, `[spoken × obs_dim]`.
    observations: Vec<f32>,
    /// Utterance id (they count from 0 in every episode) → index into `spoken`.
    index: Vec<u32>,
    /// Each agent's latest utterance (index into `spoken`).
    latest: Vec<u32>,
    /// Entries of agents that have not spoken yet, `[agents × dims]`.
    waiting: Vec<f64>,
    /// Each agent's episode score, `[agents × dims]`.
    scores: Vec<f64>,
}

impl EpisodeLog {
    /// An empty log for `agents` agents, `dims` reward dimensions and observations of `obs_dim`.
    pub fn new(agents: usize, dims: usize, obs_dim: usize) -> Self {
        EpisodeLog {
            dims,
            obs_dim,
            spoken: Vec::new(),
            exact: Vec::new(),
            observations: Vec::new(),
            index: Vec::new(),
            latest: vec![NONE; agents],
            waiting: vec![0.0; agents * dims],
            scores: vec![0.0; agents * dims],
        }
    }

    /// Empties the log for the next episode.
    pub fn clear(&mut self) {
        self.spoken.clear();
        self.exact.clear();
        self.observations.clear();
        self.index.clear();
        self.latest.fill(NONE);
        self.waiting.fill(0.0);
        self.scores.fill(0.0);
    }

    /// Adds a step: `observations` (`[agents × obs_dim]`) are the ones the agents acted on,
    /// `utterances` and `entries` what the step made and paid.
    pub fn record(
        &mut self,
        observations: &[f32],
        utterances: &[Utterance],
        entries: &[RewardEntry],
    ) {
        let (d, od) = (self.dims, self.obs_dim);
        for u in utterances {
            let i = self.spoken.len() as u32;
            let id = u.id.0 as usize;
            if self.index.len() <= id {
                self.index.resize(id + 1, NONE);
            }
            self.index[id] = i;
            let a = u.speaker.index();
            self.spoken.push(Spoken {
                id: u.id,
                step: u.step,
                agent: u.speaker,
                words: u.words(),
            });
            self.observations
                .extend_from_slice(&observations[a * od..(a + 1) * od]);
            match self.latest[a] {
                // The agent's first utterance takes what came before it.
                NONE => self.exact.extend(
                    self.waiting[a * d..(a + 1) * d]
                        .iter_mut()
                        .map(std::mem::take),
                ),
                _ => self.exact.extend(std::iter::repeat_n(0.0, d)),
            }
            self.latest[a] = i;
        }
        for e in entries {
            let (a, k) = (e.agent.index(), e.dimension.0 as usize);
            self.scores[a * d + k] += e.value;
            let own = (self.index.get(e.utterance.0 as usize))
                .filter(|&&i| i != NONE && self.spoken[i as usize].agent == e.agent);
            match own.copied().unwrap_or(self.latest[a]) {
                NONE => self.waiting[a * d + k] += e.value,
                i => self.exact[i as usize * d + k] += e.value,
            }
        }
    }

    /// Reward dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The width of an observation.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Every utterance of the episode, in order.
    pub fn spoken(&self) -> &[Spoken] {
        &self.spoken
    }

    /// The indices (into [`Self::spoken`]) of `agent`'s utterances, in order.
    pub fn utterances_of(&self, agent: AgentId) -> Vec<usize> {
        (self.spoken.iter().enumerate())
            .filter(|(_, s)| s.agent == agent)
            .map(|(i, _)| i)
            .collect()
    }

    /// `agent`'s episode score on dimension `k`: the sum of its entries.
    pub fn score(&self, agent: AgentId, k: usize) -> f64 {
        self.scores[agent.index() * self.dims + k]
    }

    /// Utterance `i`'s exact values, one per dimension.
    pub fn exact(&self, i: usize) -> &[f64] {
        &self.exact[i * self.dims..(i + 1) * self.dims]
    }

    /// The speaker's observation when it made utterance `i`.
    pub fn observation(&self, i: usize) -> &[f32] {
        &self.observations[i * self.obs_dim..(i + 1) * self.obs_dim]
    }

    /// `agent`'s score on dimension `k` that no utterance carries: all of it when the agent never
    /// spoke, else 0.
    pub fn unattributed(&self, agent: AgentId, k: usize) -> f64 {
        self.waiting[agent.index() * self.dims + k]
    }
}

/// `score` spread over utterances by `weights`: `score · w_i / Σ w`, negative weights counted as
/// 0 and equal shares when no weight is positive (or the weights do not sum to a finite number).
/// The last share is what the others leave, so the shares sum to `score` up to one rounding.
pub fn split(score: f64, weights: &[f64]) -> Vec<f64> {
    let clean = |w: f64| if w > 0.0 { w } else { 0.0 };
    let total: f64 = weights.iter().map(|&w| clean(w)).sum();
    let n = weights.len();
    let mut shares: Vec<f64> = match total > 0.0 && total.is_finite() {
        true => weights
            .iter()
            .map(|&w| score * (clean(w) / total))
            .collect(),
        false => vec![score / n as f64; n],
    };
    if let Some((last, rest)) = shares.split_last_mut() {
        *last = score - rest.iter().sum::<f64>();
    }
    shares
}

/// Every utterance's attributed reward per dimension, `[spoken × dims]`: each agent's score on
/// each dimension split over its utterances ([`split`]) by `weigh(agent, its utterances)`, which
/// gives a weight per utterance and dimension (`[utterances × dims]`).
pub fn attribute(
    log: &EpisodeLog,
    mut weigh: impl FnMut(AgentId, &[usize]) -> Vec<f64>,
) -> Vec<f64> {
    let d = log.dims;
    let mut out = vec![0.0; log.spoken.len() * d];
    for (a, _) in log.latest.iter().enumerate().filter(|&(_, &l)| l != NONE) {
        let agent = AgentId(a as u32);
        let mine = log.utterances_of(agent);
        let weights = weigh(agent, &mine);
        assert_eq!(
            weights.len(),
            mine.len() * d,
            "a weight per utterance and dimension"
        );
        for k in 0..d {
            let column: Vec<f64> = weights.iter().skip(k).step_by(d).copied().collect();
            for (&i, share) in mine.iter().zip(split(log.score(agent, k), &column)) {
                out[i * d + k] = share;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Act, Audience, DimId};

    fn say(id: u64, step: u32, speaker: u32) -> Utterance {
        Utterance {
            id: UtteranceId(id),
            step,
            speaker: AgentId(speaker),
            audience: Audience::All,
            act: Act {
                kind: "give",
                target: Some(AgentId(1 - speaker)),
                value: 0.5,
            },
            text: None,
        }
    }

    fn entry(agent: u32, utterance: u64, dim: u16, value: f64) -> RewardEntry {
        RewardEntry {
            agent: AgentId(agent),
            utterance: UtteranceId(utterance),
            dimension: DimId(dim),
            value,
        }
    }

    #[test]
    fn split_keeps_the_score_and_the_weights_ratios() {
        let s = split(6.0, &[1.0, 2.0, 3.0]);
        assert_eq!(s, vec![1.0, 2.0, 3.0]);
        // Negative weights count as 0; no positive weight: equal shares.
        assert_eq!(split(4.0, &[-1.0, 1.0]), vec![0.0, 4.0]);
        assert_eq!(split(3.0, &[0.0, 0.0, 0.0]), vec![1.0, 1.0, 1.0]);
        assert_eq!(split(3.0, &[f64::INFINITY, 1.0]), vec![1.5, 1.5]);
        assert_eq!(split(3.0, &[f64::NAN, 1.0]), vec![0.0, 3.0]);
        assert!(split(1.0, &[]).is_empty());
        // A negative score keeps its sign; awkward weights still sum exactly.
        let weights: Vec<f64> = (1..=1000).map(|i| (i as f64).sqrt() / 7.0).collect();
        for score in [-3.7, 1e-9, 12345.678] {
            let s = split(score, &weights);
            assert!((s.iter().sum::<f64>() - score).abs() <= 1e-9 * score.abs().max(1.0));
        }
    }

    #[test]
    fn exact_values_follow_the_ledger_then_the_acts_under_way() {
        // Two agents, two dimensions, observations of width 1 (the agent's id + 10 × step).
        let mut log = EpisodeLog::new(2, 2, 1);
        // Step 0: only agent 0 speaks (utterance 0); it pays 1 and agent 1 receives 3 before
        // it has spoken.
        log.record(
            &[0.0, 1.0],
            &[say(0, 0, 0)],
            &[entry(0, 0, 0, -1.0), entry(1, 0, 0, 3.0)],
        );
        assert_eq!(log.unattributed(AgentId(1), 0), 3.0);
        // Step 1: both speak (1 by agent 1, 2 by agent 0); agent 1 earns reputation on its own
        // act, agent 0 receives 2 from agent 1's act, and an earlier act of agent 0 settles.
        log.record(
            &[10.0, 11.0],
            &[say(1, 1, 1), say(2, 1, 0)],
            &[
                entry(1, 1, 1, 0.5),
                entry(0, 1, 0, 2.0),
                entry(0, 0, 1, 0.25),
            ],
        );
        // Step 2: nobody speaks; agent 1 receives 4 (to its latest act, utterance 1).
        log.record(&[20.0, 21.0], &[], &[entry(1, 2, 0, 4.0)]);
        assert_eq!(log.spoken().len(), 3);
        assert_eq!(log.exact(0), &[-1.0, 0.25]);
        // Agent 1's first utterance takes what it received before it spoke, and what came after.
        assert_eq!(log.exact(1), &[3.0 + 4.0, 0.5]);
        // Received during the step of agent 0's utterance 2: that act's.
        assert_eq!(log.exact(2), &[2.0, 0.0]);
        assert_eq!(log.unattributed(AgentId(1), 0), 0.0);
        assert_eq!(log.observation(1), &[11.0]);
        assert_eq!(log.observation(2), &[10.0]);
        assert_eq!(log.utterances_of(AgentId(0)), vec![0, 2]);
        for a in [AgentId(0), AgentId(1)] {
            for k in 0..2 {
                let exact: f64 = log.utterances_of(a).iter().map(|&i| log.exact(i)[k]).sum();
                assert_eq!(exact, log.score(a, k));
            }
        }
        assert_eq!(log.spoken()[2].words, "give agent 1 (0.5)");
        // Uniform weights: agent 0's payoff score 1 in halves, its reputation 0.25 in halves.
        let uniform = attribute(&log, |_, mine| vec![1.0; mine.len() * 2]);
        assert_eq!(uniform, vec![0.5, 0.125, 7.0, 0.5, 0.5, 0.125]);
        log.clear();
        assert!(log.spoken().is_empty());
        assert_eq!(log.score(AgentId(1), 0), 0.0);
    }
}
