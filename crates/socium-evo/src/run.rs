//! Evolution of strategies through played episodes: each generation plays one episode of the
//! game with the population's strategies, turns payoffs into fitness, and updates the population.

use crate::{
    Drift, Fitness, Population, UpdateRule,
    checkpoint::{CheckpointError, RunCheckpoint, Saved},
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use socium_core::{
    AgentSpec, Controller, DimId, Game, MetricId, ParamKind, Sim, SimConfig, SimError, SocialGraph,
    StepError, derive_seed,
};
use socium_scenario::{
    Scenario,
    schema::{FitnessGames, FitnessSpec, RuleSpec},
};
use std::collections::HashMap;

/// Why a scenario cannot be evolved.
#[derive(Debug, thiserror::Error)]
pub enum EvolveError {
    /// The scenario has no `[evolution]` table.
    #[error(
        "{file}: no [evolution] table: say how the strategies reproduce (see docs/scenarios.md)"
    )]
    NoEvolution {
        /// The scenario file.
        file: String,
    },
    /// Evolving needs every agent scripted or random.
    #[error("{file}: external agents cannot evolve: give every group a strategy")]
    External {
        /// The scenario file.
        file: String,
    },
    /// A Sim could not be built.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A step failed (a policy gave a non-finite output, say).
    #[error("generation {generation}: {error}")]
    Step {
        /// The generation.
        generation: usize,
        /// Why.
        error: StepError,
    },
    /// A checkpoint was refused or could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The run stopped, as asked, at a checkpointed generation ([`RunCheckpoint::pausing_at`]).
    #[error("run {run} paused after generation {generation}: resume it from its checkpoint")]
    Paused {
        /// The run.
        run: u64,
        /// Generations played and saved.
        generation: usize,
    },
    /// A pause was asked at a generation the run's checkpoint has already played.
    #[error(
        "run {run} is checkpointed after generation {played}: a pause after generation {pause} \
         is behind it (ask for a later one, or none to finish)"
    )]
    PauseBehind {
        /// The run.
        run: u64,
        /// The pause asked for.
        pause: usize,
        /// Generations the checkpoint holds.
        played: usize,
    },
}

/// The types and history of one run of a scenario's `[evolution]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioRun {
    /// The label of each type (agent group), in order.
    pub labels: Vec<String>,
    /// What each entry of `Generation::parameters` is: `mean[label.param]`, or
    /// `mode[label.param]` for a bit table (whose mean would be no table at all).
    pub parameters: Vec<String>,
    /// One record per generation.
    pub generations: Vec<Generation>,
}

/// Run `run` of the scenario's `[evolution]`: each agent group (by label) is a type starting
/// with its count; the run is seeded `derive_seed(seed, run)`, so it is fixed by (scenario,
/// run, seed) whatever else runs beside it.
///
/// `progress` is called after every generation played; with a checkpoint, the run resumes from
/// it (see [`evolve`]) and saves itself after every generation.
pub fn run_scenario(
    scenario: &Scenario,
    run: u64,
    seed: u64,
    checkpoint: Option<&RunCheckpoint>,
    progress: &(dyn Fn() + Sync),
) -> Result<ScenarioRun, EvolveError> {
    let file = scenario.file.display().to_string();
    let spec = scenario
        .evolution
        .as_ref()
        .ok_or_else(|| EvolveError::NoEvolution { file: file.clone() })?;
    if scenario
        .config
        .agents
        .iter()
        .any(|a| a.controller == Controller::External)
    {
        return Err(EvolveError::External { file });
    }
    let (types, counts) = types_and_counts(&scenario.config.agents);
    let n = scenario.config.agents.len();
    let updates = |u: socium_core::bounded::Count| u.get() as usize;
    let reproduction = match spec.rule {
        RuleSpec::Proportional => Reproduction::Proportional,
        RuleSpec::Truncation { survivors } => Reproduction::Truncation {
            survivors: survivors.get(),
        },
        RuleSpec::MoranBirthDeath { updates: u } => Reproduction::Updates {
            rule: UpdateRule::BirthDeath,
            updates: updates(u),
        },
        RuleSpec::MoranDeathBirth { updates: u } => Reproduction::Updates {
            rule: UpdateRule::DeathBirth,
            updates: updates(u),
        },
        RuleSpec::Fermi { beta, updates: u } => Reproduction::Updates {
            rule: UpdateRule::Fermi { beta: beta.get() },
            updates: updates(u),
        },
    };
    let fitness = match spec.fitness {
        FitnessSpec::Linear { w } => Fitness::Linear { w: w.get() },
        FitnessSpec::Exponential { w } => Fitness::Exponential { w: w.get() },
    };
    let evolution = Evolution {
        reproduction,
        fitness,
        generations: spec.generations.get() as usize,
        episodes: spec.episodes.get() as usize,
        memoize: spec.memoize,
        last_game: match spec.fitness_games.as_ref().map(|g| *g.get_ref()) {
            Some(FitnessGames::Last) => scenario.game.game_steps(),
            Some(FitnessGames::All) | None => None,
        },
    };
    // Each type's drifting parameters: those of its strategy that `[evolution] drift` names.
    let mut parameters = Vec::new();
    let (founders, drift): (Vec<Vec<f64>>, Vec<Vec<Drift>>) = types
        .iter()
        .map(|t| match &t.controller {
            Controller::Scripted(choice) => {
                let drift: Vec<Drift> = (choice.info.params.iter().enumerate())
                    .filter_map(|(i, p)| {
                        let sd = spec.drift.iter().find(|(k, _)| k.get_ref() == p.name)?.1;
                        let statistic = match p.kind {
                            ParamKind::Bits(_) => "mode",
                            _ => "mean",
                        };
                        parameters.push(format!("{statistic}[{}.{}]", t.label, p.name));
                        Some(Drift {
                            param: i,
                            sd: sd.get(),
                            min: p.min,
                            max: p.max,
                            kind: p.kind,
                        })
                    })
                    .collect();
                // Only a drifting lineage's variants carry parameters (`Variant::params`): the
                // others play their group's, which a `[[timeline]]` change may set.
                let founder = if drift.is_empty() {
                    Vec::new()
                } else {
                    choice.params.clone()
                };
                (founder, drift)
            }
            _ => (Vec::new(), Vec::new()),
        })
        .unzip();
    let population =
        Population::from_counts(&counts, spec.mutation.get()).with_drift(founders, drift);
    debug_assert_eq!(population.types.len(), n);
    // The scenario, then each `[[timeline]]` change by generation (same groups, by the
    // scenario's checks), from its generation on.
    let changed: Vec<(usize, &Scenario, Vec<AgentSpec>)> = (scenario.timeline.iter())
        .filter_map(|c| {
            let g = c.when.generation()?;
            Some((
                g as usize,
                &*c.scenario,
                types_and_counts(&c.scenario.config.agents).0,
            ))
        })
        .collect();
    let mut phases = vec![Phase {
        from: 0,
        game: &*scenario.game,
        config: &scenario.config,
        types: &types,
    }];
    phases.extend(changed.iter().map(|(from, s, types)| Phase {
        from: *from,
        game: &*s.game,
        config: &s.config,
        types,
    }));
    let generations = evolve(
        &phases,
        population,
        &evolution,
        derive_seed(seed, run),
        checkpoint,
        progress,
    )?;
    Ok(ScenarioRun {
        labels: types.into_iter().map(|t| t.label.to_string()).collect(),
        parameters,
        generations,
    })
}

/// The types of `agents` (the first agent of each label, in order) and how many agents each has.
fn types_and_counts(agents: &[AgentSpec]) -> (Vec<AgentSpec>, Vec<usize>) {
    let mut types: Vec<AgentSpec> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for agent in agents {
        match types.iter().position(|t| t.label == agent.label) {
            Some(t) => counts[t] += 1,
            None => {
                types.push(agent.clone());
                counts.push(1);
            }
        }
    }
    (types, counts)
}

/// What the generations from `from` on play: the game, its settings and each type's spec. A run
/// has one phase from generation 0, and one more for each `[[timeline]]` change by generation.
#[derive(Clone, Copy)]
pub struct Phase<'a> {
    /// Its first generation.
    pub from: usize,
    /// The game and its settings.
    pub game: &'a dyn Game,
    /// The graph, rewards and the rest; its agents are replaced by the population's.
    pub config: &'a SimConfig,
    /// Type `t` plays as `types[t]` (with its variant's parameters, where they drift).
    pub types: &'a [AgentSpec],
}

impl<'a> Phase<'a> {
    /// The one phase of a run without a timeline.
    pub fn only(game: &'a dyn Game, config: &'a SimConfig, types: &'a [AgentSpec]) -> [Self; 1] {
        [Phase {
            from: 0,
            game,
            config,
            types,
        }]
    }
}

/// How the population changes after each generation's episode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reproduction {
    /// `updates` elementary updates of the rule per generation (N for one Moran generation).
    Updates {
        /// The rule.
        rule: UpdateRule,
        /// Elementary updates per generation.
        updates: usize,
    },
    /// The whole next generation is drawn with probability proportional to fitness (Nowak &
    /// Sigmund 1998: "reproduction proportional to payoff"), each offspring mutating with the
    /// population's mutation probability.
    Proportional,
    /// Truncation selection with cultural transmission (Vallinder & Hughes 2024): the fittest
    /// `survivors` share keep their types; every other individual takes the type of a uniformly
    /// random survivor (with mutation).
    Truncation {
        /// Share of the population that survives, in (0, 1].
        survivors: f64,
    },
}

/// The settings of an evolutionary run.
#[derive(Clone, Debug, PartialEq)]
pub struct Evolution {
    /// How the population changes.
    pub reproduction: Reproduction,
    /// Payoff to fitness.
    pub fitness: Fitness,
    /// Generations to play.
    pub generations: usize,
    /// Episodes each generation plays before reproducing (payoffs summed over them).
    pub episodes: usize,
    /// Whether to play each distinct population once where the game says its outcome does not
    /// depend on the seed ([`Rules::seed_independent`](socium_core::Rules::seed_independent)) and the graph is not drawn at random.
    pub memoize: bool,
    /// `Some(steps)`: fitness counts only the payoffs of each episode's last game of `steps`
    /// steps ([`Rules::game_steps`](socium_core::Rules::game_steps)), as the cultural donor
    /// game's notebook does; `None`: the whole episode's.
    pub last_game: Option<u32>,
}

/// What a generation's episodes gave, summed (each sum in ascending order of its terms, so the
/// order the episodes were played in cannot change a bit of it).
#[derive(Clone, Debug)]
struct Outcome {
    payoffs: Vec<f64>,
    /// What selection counts: the payoffs, or with [`Evolution::last_game`] those of the last
    /// games alone.
    scores: Vec<f64>,
    /// Summed reputation change, for games that have a `reputation` dimension.
    reputation: Option<f64>,
    /// The first metric summed over the episodes that recorded it, and their number.
    cooperation: (f64, usize),
}

/// Populations remembered by a run at most; past it, new ones are played but not remembered
/// (drifting parameters make nearly every population new).
const MEMO_CAPACITY: usize = 4096;

/// A population: each individual's type and its variant's parameters, as bits.
type PopulationKey = Vec<(usize, Vec<u64>)>;

/// The outcomes of the populations a run has played, up to a capacity.
struct Memo {
    outcomes: HashMap<PopulationKey, Outcome>,
    capacity: usize,
}

impl Memo {
    fn new(capacity: usize) -> Self {
        Memo {
            outcomes: HashMap::new(),
            capacity,
        }
    }

    fn get(&self, key: &PopulationKey) -> Option<&Outcome> {
        self.outcomes.get(key)
    }

    /// Keeps `outcome` for `key`, unless the memo is full.
    fn remember(&mut self, key: PopulationKey, outcome: &Outcome) {
        if self.outcomes.len() < self.capacity {
            self.outcomes.insert(key, outcome.clone());
        }
    }
}

/// The Sim a generation played on, kept for the next: a generation that plays the same population
/// in the same phase (every generation once a type has fixated) resets it with its own seed
/// instead of building a World and its schedule anew. A seeded reset puts a Sim exactly where a
/// fresh one starts, whatever it played before (`tests/conformance.rs`), so the outcome is the
/// same bit for bit.
struct Played {
    /// The phase it was built for.
    phase: usize,
    /// The population it was built for.
    key: PopulationKey,
    /// Its env, as the last generation left it.
    sim: Sim,
}

/// A Sim of `game` seeded for generation `g`, with `agents`.
fn generation_sim(
    game: &dyn Game,
    base: &SimConfig,
    agents: Vec<AgentSpec>,
    seed: u64,
    g: usize,
) -> Result<Sim, SimError> {
    let config = SimConfig {
        agents,
        seed: derive_seed(seed, g as u64),
        // Selection reads returns only: no transcript, no per-act records.
        transcript: false,
        records: false,
        ..base.clone()
    };
    Sim::new(game, config)
}

/// Plays generation `g`'s episodes on `sim` (seeded for `g`, just reset), and returns their
/// outcome and the graph they were played on (when it is not complete).
fn play(
    sim: &mut Sim,
    g: usize,
    episodes: usize,
    last_game: Option<u32>,
) -> Result<(Outcome, Option<SocialGraph>), EvolveError> {
    let n = sim.agent_count();
    let actions = vec![0.0; n * sim.spaces().action.flat_dim()];
    let dims = sim.env().reward_dimensions().len();
    let reputation = sim
        .env()
        .reward_dimensions()
        .iter()
        .position(|d| d.name == "reputation");
    // Per agent, its payoff in each episode; each episode's reputation change and metric.
    let mut payoffs = vec![Vec::with_capacity(episodes); n];
    let mut scores = vec![Vec::with_capacity(episodes); n];
    // Each agent's payoff since the start of the game being played.
    let mut this_game = vec![0.0; n];
    let (mut reputations, mut cooperation) = (Vec::new(), Vec::new());
    let payoff = |raw: &[f64], a: usize| raw[a * dims + DimId(0).0 as usize];
    for episode in 0..episodes {
        if episode > 0 {
            sim.reset(None);
        }
        let mut step = 0;
        while !sim.is_done() {
            if last_game.is_some_and(|steps| step % steps == 0) {
                this_game.fill(0.0);
            }
            sim.step(&actions).map_err(|error| EvolveError::Step {
                generation: g,
                error,
            })?;
            if last_game.is_some() {
                let raw = sim.env().raw_rewards();
                for (a, p) in this_game.iter_mut().enumerate() {
                    *p += payoff(raw, a);
                }
            }
            step += 1;
        }
        let raw = sim.env().episode_raw_rewards();
        for (a, (p, s)) in payoffs.iter_mut().zip(&mut scores).enumerate() {
            p.push(payoff(raw, a));
            s.push(match last_game {
                Some(_) => this_game[a],
                None => payoff(raw, a),
            });
        }
        if let Some(d) = reputation {
            reputations.push((0..n).map(|a| raw[a * dims + d]).sum::<f64>());
        }
        cooperation.extend(sim.env().metrics().mean(MetricId(0)));
    }
    let outcome = Outcome {
        payoffs: payoffs.iter_mut().map(|p| sum_ascending(p)).collect(),
        scores: scores.iter_mut().map(|s| sum_ascending(s)).collect(),
        reputation: reputation.map(|_| sum_ascending(&mut reputations)),
        cooperation: (sum_ascending(&mut cooperation), cooperation.len()),
    };
    let graph = sim.env().graph();
    Ok((outcome, (!graph.is_complete()).then(|| graph.clone())))
}

/// The sum of `terms`, added in ascending order (which it leaves them in).
fn sum_ascending(terms: &mut [f64]) -> f64 {
    terms.sort_by(f64::total_cmp);
    terms.iter().sum()
}

/// One generation of a run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Generation {
    /// How many individuals had each type while playing.
    pub counts: Vec<usize>,
    /// Mean payoff per individual in the generation's episode.
    pub mean_payoff: f64,
    /// The game's first metric (cooperation rate for the donor games), mean over the
    /// generation's episodes that recorded it.
    pub cooperation: Option<f64>,
    /// Mean reputation change per individual (the game's `reputation` reward dimension, raw),
    /// for games that have one.
    #[serde(default)]
    pub reputation: Option<f64>,
    /// Each drifting parameter among its type's living members while playing — the mean, or
    /// for a bit table the most common table — (`None` for an extinct type), in the order of
    /// `ScenarioRun::parameters`.
    #[serde(default)]
    pub parameters: Vec<Option<f64>>,
}

/// Plays `evolution.generations` generations from `population`, generation `g` in the last of
/// `phases` (ordered by `from`, the first from 0) that has begun, whose type `t` is set up as
/// its `types[t]`; generation `g` plays an episode seeded `derive_seed(seed, g)`, and the updates
/// draw from their own stream seeded by `seed`. Payoff is the game's first reward dimension.
/// `progress` is called after every generation played. With a checkpoint, the run starts from
/// the saved position if there is one (the generations before it are not played again, and
/// not counted: [`RunCheckpoint::generation`] says how many) and saves itself after every
/// generation.
pub fn evolve(
    phases: &[Phase<'_>],
    mut population: Population,
    evolution: &Evolution,
    seed: u64,
    checkpoint: Option<&RunCheckpoint>,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<Generation>, EvolveError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(7);
    let n = population.types.len();
    let mut history = Vec::with_capacity(evolution.generations);
    let mut start = 0;
    if let Some(saved) = checkpoint.map(RunCheckpoint::load).transpose()?.flatten() {
        if let Some((checkpoint, pause)) = checkpoint.zip(checkpoint.and_then(|c| c.pause_at()))
            && pause <= saved.generation
        {
            return Err(EvolveError::PauseBehind {
                run: checkpoint.run(),
                pause,
                played: saved.generation,
            });
        }
        start = saved.generation;
        population.types = saved.types;
        population.variants = saved.variants;
        rng = saved.rng;
        history = saved.history;
    }
    let mut fitness = vec![0.0; n];
    // Each distinct population's outcome, where it does not depend on the seed; and the graph of
    // the last generation played (the same in every generation when it is not drawn at random).
    let mut memo = Memo::new(MEMO_CAPACITY);
    let mut graph: Option<SocialGraph> = None;
    let mut phase_played = None;
    let mut played: Option<Played> = None;
    for g in start..evolution.generations {
        let at = phases
            .iter()
            .rposition(|p| p.from <= g)
            .expect("a phase from 0");
        let Phase {
            game,
            config: base,
            types,
            ..
        } = phases[at];
        // A new phase plays the populations it meets anew.
        if phase_played.replace(at).is_some_and(|p| p != at) {
            memo = Memo::new(MEMO_CAPACITY);
        }
        // An individual plays its type's strategy in this phase with its variant's drifting
        // parameters, while the strategy is the one they drift in (made only where a check or a
        // new Sim needs them: a played generation on the last one's Sim does not).
        let agents = || -> Vec<AgentSpec> {
            (population.types.iter())
                .map(|&v| {
                    let variant = &population.variants[v];
                    let mut spec = types[variant.lineage].clone();
                    let founder = phases[0].types[variant.lineage].controller.name();
                    if let Controller::Scripted(choice) = &mut spec.controller
                        && !variant.params.is_empty()
                        && choice.info.name == founder
                    {
                        for d in &population.drift[variant.lineage] {
                            choice.params[d.param] = variant.params[d.param];
                        }
                    }
                    spec
                })
                .collect()
        };
        let memoize = evolution.memoize
            && !base.graph.is_random()
            && game.seed_independent(&agents(), evolution.episodes);
        let key: PopulationKey = (population.types.iter())
            .map(|&v| {
                let variant = &population.variants[v];
                let bits = variant.params.iter().map(|p| p.to_bits()).collect();
                (variant.lineage, bits)
            })
            .collect();
        let outcome = match memo.get(&key).filter(|_| memoize) {
            Some(outcome) => outcome.clone(),
            None => {
                let sim = match played.as_mut() {
                    Some(p) if p.phase == at && p.key == key => {
                        p.sim.reset(Some(derive_seed(seed, g as u64)));
                        &mut p.sim
                    }
                    _ => {
                        let sim = generation_sim(game, base, agents(), seed, g)?;
                        let key = key.clone();
                        &mut played
                            .insert(Played {
                                phase: at,
                                key,
                                sim,
                            })
                            .sim
                    }
                };
                let (outcome, played_on) = play(sim, g, evolution.episodes, evolution.last_game)?;
                graph = played_on;
                if memoize {
                    memo.remember(key, &outcome);
                }
                outcome
            }
        };
        let (cooperation, recorded) = outcome.cooperation;
        history.push(Generation {
            counts: population.counts(),
            mean_payoff: outcome.payoffs.iter().sum::<f64>() / n as f64,
            cooperation: (recorded > 0).then(|| cooperation / recorded as f64),
            reputation: outcome.reputation.map(|r| r / n as f64),
            parameters: population.typical_drifting_params(),
        });
        // Proportional and Moran rules draw with probability proportional to fitness, which must
        // not be negative (docs/scenarios.md: "negative fitness counts as 0"); truncation ranks
        // and keeps the sign (a net loser ranks below an individual at 0); Fermi compares
        // payoffs, as Traulsen et al. (2006) do (a payoff of −3 against −1 is a difference of 2).
        let scores = &outcome.scores;
        match evolution.reproduction {
            Reproduction::Truncation { .. } => (fitness.iter_mut().zip(scores))
                .for_each(|(f, &p)| *f = evolution.fitness.order_key(p)),
            Reproduction::Updates {
                rule: UpdateRule::Fermi { .. },
                ..
            } => fitness.copy_from_slice(scores),
            _ => evolution.fitness.relative(scores, &mut fitness),
        }
        match evolution.reproduction {
            Reproduction::Updates { rule, updates } => {
                for _ in 0..updates {
                    population.update(rule, &fitness, graph.as_ref(), &mut rng);
                }
            }
            Reproduction::Proportional => population.reproduce_proportionally(&fitness, &mut rng),
            Reproduction::Truncation { survivors } => {
                population.truncate(&fitness, survivors, &mut rng);
            }
        }
        population.compact();
        if let Some(checkpoint) = checkpoint {
            // The history is handed over and back to save without copying it.
            let mut saved = Saved {
                generation: g + 1,
                types: population.types.clone(),
                variants: population.variants.clone(),
                rng,
                history: std::mem::take(&mut history),
            };
            checkpoint.save(&saved)?;
            history = std::mem::take(&mut saved.history);
            rng = saved.rng;
            if checkpoint.pause_at() == Some(g + 1) && g + 1 < evolution.generations {
                progress();
                return Err(EvolveError::Paused {
                    run: checkpoint.run(),
                    generation: g + 1,
                });
            }
        }
        progress();
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_stops_remembering_at_its_capacity() {
        let outcome = |p: f64| Outcome {
            payoffs: vec![p],
            scores: vec![p],
            reputation: None,
            cooperation: (0.0, 0),
        };
        let key = |t: usize| vec![(t, Vec::new())];
        let mut memo = Memo::new(2);
        for t in 0..3 {
            memo.remember(key(t), &outcome(t as f64));
        }
        assert_eq!(memo.get(&key(1)).map(|o| o.payoffs[0]), Some(1.0));
        assert!(memo.get(&key(2)).is_none(), "past the capacity");
        // A full memo changes nothing, even for a population it holds.
        memo.remember(key(0), &outcome(9.0));
        assert_eq!(memo.get(&key(0)).map(|o| o.payoffs[0]), Some(0.0));
    }
}
