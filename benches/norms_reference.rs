//! A flat-array reference of the `norms` game: the rules alone, in plain `Vec`s, for many envs.
//!
//! It mirrors Socium's second-order-norms game (`socium::games::donor::indirect`, after Ohtsuki &
//! Iwasa 2004, "How should we define goodness? Reputation dynamics in indirect reciprocity",
//! J. Theor. Biol. 231) under **public assessment**: one shared Good/Bad reputation per agent,
//! everyone Good at a reset; in every round each agent donates once to a uniformly random
//! neighbour, its scripted strategy deciding from the reputations at the start of the round; an
//! intended help fails with probability e (execution error); the norm table maps (donor's
//! reputation, recipient's reputation, action) to the donor's new reputation, which comes out
//! opposite with probability μ (assessment error); the new reputations apply once every donation
//! of the round is assessed. Helping costs the donor c and gives the recipient b.
//!
//! It reproduces Socium's results bit for bit (`tests/norms_reference.rs` checks it against
//! `VecEnv`): env `i` draws from the streams of `SimRng::new(seeds[i])` in Socium's order — the
//! graph from `graph` at a seeded reset (with `GraphSpec::generate`), one pairing per acting agent
//! from `chance` at the end of every reset and every step that does not end the episode
//! (`random_range(0..n − 1)` as `u32` on a complete graph, `random_range(0..len)` over the sorted
//! neighbour list otherwise), and from `noise`, donor by donor, first the execution error
//! (`random_bool(e)`, drawn only for a donor that means to help, and drawn even when e = 0), then
//! the assessment error (`random_bool(μ)`, drawn only when μ > 0). Rewards are summed as Socium's
//! kernel sums them: per agent, the payoff entries in donor order in `f64`, each dimension's
//! component as `f32`, the weighted sum in `f64`, stored as `f32`. An env whose episode ended at
//! one step is reset (unseeded: streams and graph continue) at the next, which reports zero reward,
//! as `VecEnv`'s autoreset does.
//!
//! It leaves out everything but the rules: no utterances, no reward-ledger entries, no transcript,
//! no observations, masks or done flags, no metrics, no ECS. It is the floor a simulator of these
//! rules could reach, the roofline `benches/norms_roofline.rs` measures Socium against. Private
//! assessment, `own_norm` players and reward transforms other than the identity are not covered.

use rand::Rng;
use rand::distr::{Bernoulli, Distribution};
use rand_chacha::ChaCha8Rng;
use socium::core::{Controller, GraphSpec, SimConfig, SimRng, Transform};
use socium::games::donor::indirect::{Assessment, NormsConfig};

/// No recipient: the agent does not act this round.
const NONE: u32 = u32::MAX;

/// Reputations: Bad and Good.
const BAD: i8 = 0;
const GOOD: i8 = 1;

/// A scripted donor's action rule, as the norms game's scripted strategies have it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Always (true) or never (false) helps: `allc`, `alld`.
    Always(bool),
    /// Helps iff the recipient's reputation is at least `k` (Good = 1): `discriminator` is k = 1.
    Threshold(i8),
    /// Helps iff the recipient is Good or the donor is Bad: `apologetic_discriminator`.
    Apologetic,
}

impl Rule {
    /// Whether a donor of reputation `own` helps a recipient of reputation `recipient`.
    pub fn helps(self, own: i8, recipient: i8) -> bool {
        match self {
            Rule::Always(c) => c,
            Rule::Threshold(k) => recipient >= k,
            Rule::Apologetic => recipient >= GOOD || own < GOOD,
        }
    }

    /// The rule as four bits, bit `own·2 + recipient` set iff it helps (reputations 0 or 1).
    fn table(self) -> u8 {
        let mut bits = 0;
        for own in [BAD, GOOD] {
            for recipient in [BAD, GOOD] {
                bits |= u8::from(self.helps(own, recipient)) << (own * 2 + recipient);
            }
        }
        bits
    }

    /// Every agent's rule, from a scenario's agents (scripted strategies of the norms game).
    pub fn of(config: &SimConfig) -> Result<Vec<Rule>, String> {
        config
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if !matches!(a.controller, Controller::Scripted(_)) {
                    return Err(format!("agent {i}: only scripted strategies are mirrored"));
                }
                Ok(match a.controller.name() {
                    "allc" => Rule::Always(true),
                    "alld" => Rule::Always(false),
                    "discriminator" => Rule::Threshold(GOOD),
                    "apologetic_discriminator" => Rule::Apologetic,
                    other => return Err(format!("agent {i}: strategy `{other}` is not mirrored")),
                })
            })
            .collect()
    }
}

/// The settings the reference plays by.
#[derive(Clone, Debug, PartialEq)]
pub struct NormsRules {
    /// The norm: `norm[donor·4 + recipient·2 + cooperated]` is whether the donor becomes Good.
    pub norm: [bool; 8],
    /// What the recipient of help gains (b).
    pub benefit: f64,
    /// What helping costs the donor (c).
    pub cost: f64,
    /// Probability that the assigned reputation comes out opposite (μ).
    pub assessment_error: f64,
    /// Probability that an intended help fails (e).
    pub execution_error: f64,
    /// Rounds (steps) per episode.
    pub rounds: u32,
    /// The scenario's step limit, if any.
    pub max_steps: Option<u32>,
    /// Weights of the payoff and reputation dimensions in the scalar reward.
    pub weights: [f64; 2],
    /// Every agent's action rule, in id order.
    pub agents: Vec<Rule>,
    /// How each env's social graph is drawn at a seeded reset.
    pub graph: GraphSpec,
}

impl NormsRules {
    /// The rules of a norms scenario: the game's settings from the file's text (`[game.norms]`,
    /// deserialised as Socium deserialises them), the agents, graph, step limit and reward
    /// weights from its validated [`SimConfig`] (`Scenario::parse(text, ..)?.config`).
    pub fn from_scenario(text: &str, config: &SimConfig) -> Result<NormsRules, String> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let game = doc
            .get("game")
            .and_then(|g| g.get("norms"))
            .ok_or("the scenario's game is not `norms`")?;
        let c: NormsConfig = game.clone().try_into().map_err(|e| format!("{e}"))?;
        if c.assessment != Assessment::Public {
            return Err("only public assessment is mirrored".into());
        }
        let dims: Vec<&str> = config.rewards.iter().map(|d| d.name).collect();
        if dims != ["payoff", "reputation"] {
            return Err(format!(
                "expected dimensions payoff and reputation, found {dims:?}"
            ));
        }
        if config
            .rewards
            .iter()
            .any(|d| d.transform != Transform::Identity)
        {
            return Err("only the identity reward transform is mirrored".into());
        }
        Ok(NormsRules {
            norm: c.norm.0,
            benefit: c.benefit.get(),
            cost: c.cost.get(),
            assessment_error: c.assessment_error.get(),
            execution_error: c.execution_error.get(),
            rounds: c.rounds.get(),
            max_steps: config.max_steps,
            weights: [config.rewards[0].weight, config.rewards[1].weight],
            agents: Rule::of(config)?,
            graph: config.graph.clone(),
        })
    }

    /// Steps per episode: the rounds, or the step limit if it comes first.
    fn episode_steps(&self) -> u32 {
        self.rounds.min(self.max_steps.unwrap_or(u32::MAX))
    }
}

/// `N` envs of the norms game in flat arrays, `[envs × agents]`, stepped one round at a time.
pub struct NormsReference {
    rules: NormsRules,
    envs: usize,
    agents: usize,
    /// Each agent's rule as four bits (see [`Rule::table`]).
    helps: Vec<u8>,
    /// Execution error, as `random_bool(e)` draws it.
    execution: Bernoulli,
    /// Assessment error, as `random_bool(μ)` draws it.
    assessment: Bernoulli,
    /// Reputations, `[envs × agents]`, 0 Bad or 1 Good.
    reps: Vec<i8>,
    /// Each agent's recipient in the coming round, `[envs × agents]` (`NONE`: idle).
    recipient: Vec<u32>,
    /// Per env: its `chance` (pairing) and `noise` streams.
    pairing: Vec<ChaCha8Rng>,
    noise: Vec<ChaCha8Rng>,
    /// Per env: whether its graph is complete (pairing by `random_range(0..n − 1)`).
    complete: Vec<bool>,
    /// Neighbour lists in CSR form: agent `a` of env `e` has `neighbours[offsets[e·n + a]..
    /// offsets[e·n + a + 1]]` (empty ranges on complete graphs).
    offsets: Vec<u32>,
    neighbours: Vec<u32>,
    /// Per env: steps played in its episode.
    episode_step: Vec<u32>,
    /// Per env: whether its episode ended at the last step (reset by the next).
    finished: Vec<bool>,
    /// Scalar rewards of the last step, `[envs × agents]`.
    rewards: Vec<f32>,
    /// Scratch, `[agents]`: the round's new reputations, raw payoffs, raw reputation changes.
    next: Vec<i8>,
    payoff: Vec<f64>,
    standing: Vec<f64>,
}

impl NormsReference {
    /// `envs` envs of `rules`, reset with `seeds` (one per env).
    ///
    /// # Panics
    /// If `seeds` does not have one seed per env, or an error probability is not in [0, 1].
    pub fn new(rules: NormsRules, seeds: &[u64]) -> NormsReference {
        let (envs, agents) = (seeds.len(), rules.agents.len());
        let bernoulli = |p: f64| Bernoulli::new(p).expect("a probability");
        let mut reference = NormsReference {
            helps: rules.agents.iter().map(|r| r.table()).collect(),
            execution: bernoulli(rules.execution_error),
            assessment: bernoulli(rules.assessment_error),
            reps: vec![GOOD; envs * agents],
            recipient: vec![NONE; envs * agents],
            pairing: Vec::with_capacity(envs),
            noise: Vec::with_capacity(envs),
            complete: vec![false; envs],
            offsets: Vec::new(),
            neighbours: Vec::new(),
            episode_step: vec![0; envs],
            finished: vec![false; envs],
            rewards: vec![0.0; envs * agents],
            next: vec![GOOD; agents],
            payoff: vec![0.0; agents],
            standing: vec![0.0; agents],
            rules,
            envs,
            agents,
        };
        reference.reset(seeds);
        reference
    }

    /// Number of envs.
    pub fn num_envs(&self) -> usize {
        self.envs
    }

    /// Resets every env with its seed, as `VecEnv::reset(Some(seeds))` does: new streams, a new
    /// graph, everyone Good, the first pairings drawn; rewards zero.
    ///
    /// # Panics
    /// If `seeds` does not have one seed per env.
    pub fn reset(&mut self, seeds: &[u64]) {
        assert_eq!(seeds.len(), self.envs, "one seed per env");
        let n = self.agents;
        self.pairing.clear();
        self.noise.clear();
        self.offsets.clear();
        self.neighbours.clear();
        self.offsets.push(0);
        for (e, &seed) in seeds.iter().enumerate() {
            let mut rng = SimRng::new(seed);
            let graph = self.rules.graph.generate(n, &mut rng);
            self.complete[e] = graph.is_complete();
            for a in 0..n as u32 {
                if !graph.is_complete() {
                    let ns = graph.neighbours(socium::core::AgentId(a));
                    self.neighbours.extend(ns.iter().map(|b| b.0));
                }
                self.offsets.push(self.neighbours.len() as u32);
            }
            self.pairing.push(rng.chance.clone());
            self.noise.push(rng.noise.clone());
            self.start_episode(e);
        }
    }

    /// Plays one round in every env (an env whose episode ended at the last step is reset
    /// instead, unseeded, with zero rewards) and returns the decisions taken: the donations
    /// resolved, one per acting donor.
    pub fn step(&mut self) -> u64 {
        (0..self.envs).map(|e| self.step_env(e)).sum()
    }

    /// Scalar rewards of the last step, `[envs × agents]`, as `VecBuffers::rewards` holds them.
    pub fn rewards(&self) -> &[f32] {
        &self.rewards
    }

    /// Who acts at the coming step, `[envs × agents]`, as `VecBuffers::acting` holds it.
    pub fn acting(&self) -> impl ExactSizeIterator<Item = bool> + '_ {
        self.recipient.iter().map(|&r| r != NONE)
    }

    /// Puts env `e` at the start of an episode: everyone Good, no reward, first pairings drawn.
    fn start_episode(&mut self, e: usize) {
        let span = e * self.agents..(e + 1) * self.agents;
        self.reps[span.clone()].fill(GOOD);
        self.rewards[span].fill(0.0);
        self.episode_step[e] = 0;
        self.finished[e] = false;
        self.pair(e);
    }

    /// Draws every agent's recipient for env `e`'s coming round, in id order, from its `chance`
    /// stream, as `SocialGraph::random_neighbour` does.
    fn pair(&mut self, e: usize) {
        let n = self.agents;
        let rng = &mut self.pairing[e];
        let recipient = &mut self.recipient[e * n..(e + 1) * n];
        if self.complete[e] {
            for (d, r) in recipient.iter_mut().enumerate() {
                *r = if n < 2 {
                    NONE
                } else {
                    let b = rng.random_range(0..n as u32 - 1);
                    if b >= d as u32 { b + 1 } else { b }
                };
            }
            return;
        }
        let offsets = &self.offsets[e * n..=(e + 1) * n];
        for (d, r) in recipient.iter_mut().enumerate() {
            let ns = &self.neighbours[offsets[d] as usize..offsets[d + 1] as usize];
            *r = if ns.is_empty() {
                NONE
            } else {
                ns[rng.random_range(0..ns.len())]
            };
        }
    }

    /// One step of env `e`: a round, or the reset of an ended episode. Returns its decisions.
    fn step_env(&mut self, e: usize) -> u64 {
        if self.finished[e] {
            self.start_episode(e);
            return 0;
        }
        let n = self.agents;
        let span = e * n..(e + 1) * n;
        let rules = &self.rules;
        let (benefit, cost) = (rules.benefit, rules.cost);
        let assess_errors = rules.assessment_error > 0.0;
        let reps = &mut self.reps[span.clone()];
        let recipient = &self.recipient[span.clone()];
        let noise = &mut self.noise[e];
        let (next, payoff, standing) = (&mut self.next, &mut self.payoff, &mut self.standing);
        next.copy_from_slice(reps);
        payoff.fill(0.0);
        standing.fill(0.0);
        let mut decisions = 0;
        for d in 0..n {
            let r = recipient[d];
            if r == NONE {
                continue;
            }
            let r = r as usize;
            decisions += 1;
            // Decide on the reputations at the start of the round, then resolve.
            let (own, other) = ((reps[d] >= GOOD) as u8, (reps[r] >= GOOD) as u8);
            let intended = self.helps[d] >> (own * 2 + other) & 1 == 1;
            let cooperated = intended && !self.execution.sample(noise);
            let good = rules.norm[(own * 4 + other * 2 + cooperated as u8) as usize];
            let error = assess_errors && self.assessment.sample(noise);
            let new = (good != error) as i8;
            next[d] = new;
            if cooperated {
                payoff[d] += -cost;
                payoff[r] += benefit;
            }
            standing[d] += (new - reps[d]) as f64;
        }
        reps.copy_from_slice(next);
        let [w_payoff, w_standing] = rules.weights;
        for ((reward, &p), &s) in self.rewards[span].iter_mut().zip(&*payoff).zip(&*standing) {
            // The kernel's sum: components as f32, weighted in f64 (the same `Sum`), stored f32.
            let r: f64 = [w_payoff * (p as f32) as f64, w_standing * (s as f32) as f64]
                .into_iter()
                .sum();
            *reward = r as f32;
        }
        let step = self.episode_step[e];
        self.episode_step[e] = step + 1;
        if step + 1 >= self.rules.episode_steps() {
            self.finished[e] = true;
            self.recipient[e * n..(e + 1) * n].fill(NONE);
        } else {
            self.pair(e);
        }
        decisions
    }
}
