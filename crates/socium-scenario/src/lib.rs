//! Scenario files: the TOML schema, validation with file/line/column errors, building Sims, and
//! running them to tables and output files.
//!
//! ```no_run
//! let scenario = socium_scenario::Scenario::load("scenarios/ipd_tournament.toml".as_ref())?;
//! let mut sim = scenario.sim()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod attribution;
mod error;
mod output;
mod overrides;
mod run;
pub mod schema;

pub use attribution::{Attribution, AttributionSummary, Method as AttributionMethod};
pub use error::{Located, ScenarioError};
pub use output::{
    ATTRIBUTION, CHECKPOINTS, COOPERATION_PLOT, EVOLVE_FILES, FREQUENCIES_PLOT, GENERATIONS, GRAPH,
    METRICS, PAGE, PREFERENCES, RUN_FILES, SUMMARY, TRANSCRIPT, commit, holds_checkpoints,
    remove_own_partial_files, remove_partial_files, temp_file_in,
};
pub use overrides::Override;
pub use run::{EpisodeRecord, GroupSummary, Layout, RunError, RunSummary, play, run};
/// The game registry: every game with its default settings (for `socium list`), and every
/// game's name.
pub use socium_games::{NAMES as GAME_NAMES, games};

use schema::{AgentGroup, ControllerKind, ScenarioFile};
use socium_core::{
    AgentSpec, Controller, DimId, DimensionSpec, Game, GraphSpec, ParamError, ParamInfo, ParamKind,
    PolicyController, PotentialId, Selection, Sim, SimConfig, SimError, Spaces, TieRules,
    ValueRules, parse_edge_list,
};
use socium_llm::{Judge, LlmPolicy};
use socium_policy::OnnxPolicy;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};
use toml::Spanned;

/// Most agents a scenario may have.
pub const MAX_AGENTS: usize = 1_000_000;

/// A validated scenario: a game and everything needed to build its Sims.
#[derive(Clone)]
pub struct Scenario {
    /// The file it came from.
    pub file: PathBuf,
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The game.
    pub game: Arc<dyn Game>,
    /// Agents, graph, rewards, seed, step limit.
    pub config: SimConfig,
    /// Episodes `socium run` plays.
    pub episodes: u64,
    /// How `socium evolve` evolves the groups' strategies, if the scenario says.
    pub evolution: Option<schema::EvolutionSpec>,
    /// The language model that scores every agent after each episode of `socium run`, if any.
    pub judge: Option<Arc<Judge>>,
    /// HERON's preferences between the agents of each episode, if `socium run` writes them.
    pub heron: Option<Heron>,
    /// How `socium run` spreads each agent's episode score over its utterances, if it does.
    pub attribution: Option<Attribution>,
    /// Whether `socium run` measures the social graph after every episode and writes its final
    /// state (`[output] graph`).
    pub graph_output: bool,
    /// The scenario's `[[timeline]]`: changes from given episodes on, in order.
    pub timeline: Vec<Change>,
    /// The files beside it that set up its agents and graph: ONNX policies, an edge list.
    inputs: Vec<PathBuf>,
}

/// When a `[[timeline]]` change applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// From this episode of `socium run` on.
    Episode(u64),
    /// From this step of this episode of `socium run` on (the steps played before it).
    Step {
        /// The episode.
        episode: u64,
        /// The step.
        step: u32,
    },
    /// From this generation of `socium evolve` on (a scenario with `[evolution]`).
    Generation(u64),
}

impl When {
    /// The episode, for a change of `socium run`.
    pub fn episode(self) -> Option<u64> {
        match self {
            When::Episode(episode) | When::Step { episode, .. } => Some(episode),
            When::Generation(_) => None,
        }
    }

    /// The step, for a change part-way through an episode.
    pub fn step(self) -> Option<u32> {
        match self {
            When::Step { step, .. } => Some(step),
            When::Episode(_) | When::Generation(_) => None,
        }
    }

    /// The generation, for a change of `socium evolve`.
    pub fn generation(self) -> Option<u64> {
        match self {
            When::Generation(g) => Some(g),
            When::Episode(_) | When::Step { .. } => None,
        }
    }
}

/// A `[[timeline]]` entry, resolved: from its episode (or its step) on `socium run` plays
/// `scenario` (the file with every change up to this one applied), or from its generation on
/// `socium evolve` does.
#[derive(Clone, Debug)]
pub struct Change {
    /// When it applies.
    pub when: When,
    /// Where the entry is in the file: line and column (1-based).
    pub line_column: (usize, usize),
    /// What it sets, as `key=value` (for the transcript).
    pub set: String,
    /// The scenario from then on.
    pub scenario: Box<Scenario>,
}

impl Change {
    /// The error of a run that could not make this change where it stands in `file`.
    pub fn error(&self, file: &Path, message: String) -> run::RunError {
        let when = match self.when {
            When::Episode(e) => format!("episode {e}"),
            When::Step { episode, step } => format!("episode {episode}, step {step}"),
            When::Generation(g) => format!("generation {g}"),
        };
        let (line, column) = self.line_column;
        run::RunError::Timeline {
            file: file.to_owned(),
            line,
            column,
            when,
            message,
        }
    }
}

/// The most agents of a complete graph whose ties may form and break (`[ties]`): every change
/// rebuilds the graph's ties.
pub const MAX_COMPLETE_TIES_AGENTS: usize = 2000;

/// The most ties `[output] graph` writes: a complete graph of 4,473 agents.
pub const MAX_GRAPH_OUTPUT_TIES: usize = 10_000_000;

/// `[scalar.heron]`, resolved: the dimensions (indices, most important first) and their margins.
#[derive(Clone, Debug, PartialEq)]
pub struct Heron {
    /// Dimension indices, most important first.
    pub order: Vec<usize>,
    /// Each one's margin.
    pub margins: Vec<f64>,
    /// What is compared.
    pub between: schema::HeronPairs,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("file", &self.file)
            .field("name", &self.name)
            .field("game", &self.game.name())
            .field("config", &self.config)
            .field("episodes", &self.episodes)
            .finish()
    }
}

/// Why the `game` table of a scenario toml refused does not name exactly one game, if that is
/// what is wrong: serde's message for it ("wanted exactly 1 element") names neither the rule nor
/// the tables.
fn game_tables_error(source: &str, file: &Path) -> Option<ScenarioError> {
    #[derive(serde::Deserialize)]
    struct Tables {
        game: Option<Spanned<toml::Table>>,
    }
    let game = toml::from_str::<Tables>(source).ok()?.game?;
    let names: Vec<String> = game
        .get_ref()
        .keys()
        .map(|k| format!("[game.{k}]"))
        .collect();
    let message = match names.len() {
        1 => return None,
        0 => format!(
            "expected one game table [game.<name>], found none; the games: {}",
            socium_games::NAMES.join(", ")
        ),
        n => format!("expected one game table, found {n}: {}", names.join(", ")),
    };
    // Named `game` itself: the table's span begins at its first `[game.<name>]` header.
    let (line, column) = error::line_column(source, game.span().start);
    Some(ScenarioError::At(Located {
        file: file.to_owned(),
        line,
        column,
        key: "game".into(),
        message,
    }))
}

impl Scenario {
    /// `Some(p)` when [`play`](crate::play) may play only the first `p` episodes and repeat their records:
    /// the game says every episode `e + p` plays as `e` ([`socium_core::Rules::period`]) and
    /// nothing needs every episode played. A transcript, a judge and an attribution read each
    /// episode's steps; values and ties carry over from one episode to the next, so episode `e +
    /// p` no longer starts where `e` did; a timeline changes the game part-way.
    pub fn repeats_every(&self) -> Option<u64> {
        let every_episode_played = self.config.transcript
            || self.judge.is_some()
            || self.attribution.is_some()
            || self.config.values.is_some()
            || self.config.ties.is_some()
            || !self.timeline.is_empty();
        match every_episode_played {
            true => None,
            false => self.game.period(&self.config.agents),
        }
    }

    /// Reads and validates a scenario file.
    pub fn load(file: &Path) -> Result<Scenario, ScenarioError> {
        let source = std::fs::read_to_string(file).map_err(|error| ScenarioError::Read {
            file: file.to_owned(),
            error,
        })?;
        Scenario::parse(&source, file)
    }

    /// Validates scenario text; `file` names it in errors and anchors relative paths.
    pub fn parse(source: &str, file: &Path) -> Result<Scenario, ScenarioError> {
        let at = |span: std::ops::Range<usize>, message: String| {
            ScenarioError::at(file, source, span, message)
        };
        let parsed: ScenarioFile = toml::from_str(source).map_err(|e| match e.span() {
            _ if let Some(error) = game_tables_error(source, file) => error,
            Some(span) if !span.is_empty() || span.start > 0 => {
                at(span, error::in_plain_words(e.message()))
            }
            // No position (a missing top-level table): no key to name.
            _ => ScenarioError::At(Located {
                file: file.to_owned(),
                line: 1,
                column: 1,
                key: String::new(),
                message: error::in_plain_words(e.message()),
            }),
        })?;
        // TOML's integers are 64-bit signed. The toml crate reads a larger one into a `u64`
        // field, but not into the table `--set` edits: refuse it where it is written.
        if let Err(e) = toml::from_str::<toml::Table>(source) {
            let span = e.span().unwrap_or(0..0);
            let message = format!("{}: TOML's integers are at most {}", e.message(), i64::MAX);
            return Err(at(span, message));
        }
        let game_span = parsed.game.span();
        let game = parsed.game.into_inner().into_game();

        let agents_span = parsed.agents.span();
        // Checked before anything is sized by the number of agents (the games' spaces are).
        let mut total: usize = 0;
        for group in parsed.agents.get_ref() {
            let count = group.get_ref().count.as_ref();
            total += count.map_or(1, |c| c.get_ref().get() as usize);
            if total > MAX_AGENTS {
                let span = count.map_or(group.span(), |c| c.span());
                let message = format!("{total} agents in all: expected at most {MAX_AGENTS}");
                return Err(at(span, message));
            }
        }
        // A policy is checked against the game's spaces, which the game sizes by the number of
        // agents (Among Us's grow as its cube): let the game refuse the number first, for
        // stand-ins whose controllers do not matter (the agents are checked again below).
        let models = |g: &AgentGroup| {
            g.policy.is_some()
                || matches!(
                    g.controller.as_ref().map(Spanned::get_ref),
                    Some(ControllerKind::Llm(_))
                )
        };
        if (parsed.agents.get_ref().iter()).any(|g| models(g.get_ref())) {
            let stand_in = AgentSpec {
                controller: Controller::External,
                label: "".into(),
                social: Default::default(),
            };
            let stand_ins = vec![stand_in; total];
            game.check(&stand_ins)
                .map_err(|m| at(game_span.clone(), m))?;
        }
        let dir = file.parent().unwrap_or(Path::new(""));
        let mut policies = Policies {
            dir,
            runtime: parsed.scenario.onnxruntime.as_ref().map(|r| dir.join(r)),
            game: &game,
            agents: total,
            spaces: None,
            loaded: Vec::new(),
        };
        let mut agents = Vec::new();
        for group in parsed.agents.into_inner() {
            let span = group.span();
            let group = group.into_inner();
            let count = group
                .count
                .as_ref()
                .map_or(1, |c| c.get_ref().get() as usize);
            let spec = agent_spec(&*game, group, span.clone(), &mut policies, &at)?;
            // Tables group agents by label: one label must mean one setup.
            let clash = agents
                .iter()
                .any(|a: &AgentSpec| a.label == spec.label && a.controller != spec.controller);
            if clash {
                return Err(at(
                    span,
                    format!(
                        "label `{}` already names agents set up differently",
                        spec.label
                    ),
                ));
            }
            agents.extend(std::iter::repeat_n(spec, count));
        }
        if agents.is_empty() {
            return Err(at(
                agents_span,
                "expected at least one `[[agents]]` group".into(),
            ));
        }

        let mut graph = GraphSpec::Complete;
        let mut inputs = Vec::new();
        if let Some(spec) = parsed.graph {
            let span = spec.span();
            graph = spec.into_inner();
            graph.check(agents.len()).map_err(|m| at(span.clone(), m))?;
            if let GraphSpec::EdgeList { path, edges } = &mut graph {
                let edge_file = file.parent().unwrap_or(Path::new("")).join(&*path);
                let text = std::fs::read_to_string(&edge_file).map_err(|e| {
                    at(
                        span.clone(),
                        format!("cannot read edge list `{}`: {e}", edge_file.display()),
                    )
                })?;
                *edges = parse_edge_list(&text, agents.len()).map_err(|e| {
                    at(
                        span.clone(),
                        format!("{}:{}: {}", edge_file.display(), e.line, e.message),
                    )
                })?;
                inputs.push(edge_file);
            }
        }

        let mut rewards: Vec<DimensionSpec> = game
            .reward_dimensions()
            .iter()
            .map(DimensionSpec::default_for)
            .collect();
        for (name, table) in parsed.rewards {
            let Some(dim) = rewards.iter_mut().find(|d| d.name == name.get_ref()) else {
                let known: Vec<_> = game.reward_dimensions().iter().map(|d| d.name).collect();
                return Err(at(
                    name.span(),
                    format!(
                        "game `{}` has no reward dimension `{}`; it has {}",
                        game.name(),
                        name.get_ref(),
                        known.join(", ")
                    ),
                ));
            };
            if let Some(w) = table.weight {
                dim.weight = w.get();
            }
            if let Some(t) = table.transform {
                let labels: Vec<&str> = agents.iter().map(|a| &*a.label).collect();
                t.get_ref().check(&labels).map_err(|m| at(t.span(), m))?;
                dim.transform = t.into_inner();
            }
        }

        game.check(&agents).map_err(|m| at(game_span, m))?;
        if let Some(evolution) = &parsed.evolution {
            if let Some(games) = &evolution.fitness_games
                && *games.get_ref() == schema::FitnessGames::Last
                && game.game_steps().is_none()
            {
                return Err(at(
                    games.span(),
                    format!(
                        "`last` counts the last game of an episode, but an episode of `{}` is \
                         one game: remove the key (or use `all`)",
                        game.name()
                    ),
                ));
            }
            for (name, step) in &evolution.drift {
                let declared: Vec<&ParamInfo> = (agents.iter())
                    .filter_map(|a| match &a.controller {
                        Controller::Scripted(c) => {
                            c.info.params.iter().find(|p| p.name == name.get_ref())
                        }
                        _ => None,
                    })
                    .collect();
                if declared.is_empty() {
                    return Err(at(
                        name.span(),
                        format!(
                            "no strategy in play has a parameter `{}` to drift",
                            name.get_ref()
                        ),
                    ));
                }
                let bits = declared
                    .iter()
                    .any(|p| matches!(p.kind, ParamKind::Bits(_)));
                if bits && step.get() > 1.0 {
                    return Err(at(
                        name.span(),
                        format!(
                            "`{}` is a bit table, whose drift is the probability that each bit \
                             flips: expected a value in [0, 1], found {}",
                            name.get_ref(),
                            step.get()
                        ),
                    ));
                }
            }
        }
        let judge = match parsed.judge {
            Some(config) => {
                let span = config.span();
                Some(Arc::new(
                    Judge::new(config.into_inner(), dir).map_err(|e| at(span, e))?,
                ))
            }
            None => None,
        };
        let mut shaping = Vec::new();
        for (name, spec) in parsed.shaping {
            let declared = game.potentials();
            let Some(p) = declared.iter().position(|p| p.name == name.get_ref()) else {
                let names: Vec<&str> = declared.iter().map(|p| p.name).collect();
                let has = match names.is_empty() {
                    true => "none".to_owned(),
                    false => names.join(", "),
                };
                let message = format!(
                    "game `{}` has no potential `{}`; it has {has}",
                    game.name(),
                    name.get_ref()
                );
                return Err(at(name.span(), message));
            };
            shaping.push((PotentialId(p as u16), spec));
        }
        let heron = match parsed.scalar.heron {
            Some(spec) => {
                let span = spec.span();
                let spec = spec.into_inner();
                let names: Vec<&str> = game.reward_dimensions().iter().map(|d| d.name).collect();
                let mut order = Vec::new();
                for name in &spec.order {
                    let Some(k) = names.iter().position(|n| n == name) else {
                        let message = format!(
                            "`order`: game `{}` has no reward dimension `{name}`; it has {}",
                            game.name(),
                            names.join(", ")
                        );
                        return Err(at(span, message));
                    };
                    if order.contains(&k) {
                        return Err(at(span, format!("`order` names `{name}` twice")));
                    }
                    order.push(k);
                }
                if spec.margins.len() != order.len() {
                    let message = format!(
                        "`margins`: expected one per dimension of `order` ({}), found {}",
                        order.len(),
                        spec.margins.len()
                    );
                    return Err(at(span, message));
                }
                let margins = spec.margins.iter().map(|m| m.get()).collect();
                Some(Heron {
                    order,
                    margins,
                    between: spec.between,
                })
            }
            None => None,
        };
        let attribution = match parsed.attribution {
            Some(spec) => Some(Attribution::resolve(
                spec,
                &*game,
                agents.len(),
                dir,
                policies.runtime.as_deref(),
                &at,
            )?),
            None => None,
        };
        let reads_words = judge.is_some()
            || matches!(
                attribution.as_ref().map(|a| &a.method),
                Some(attribution::Method::Llm(_))
            );
        let ties = match parsed.ties {
            Some(spec) => {
                let span = spec.span();
                let spec = spec.into_inner();
                let names: Vec<&str> = game.reward_dimensions().iter().map(|d| d.name).collect();
                let dimension = match &spec.dimension {
                    None => 0,
                    Some(name) => {
                        names
                            .iter()
                            .position(|n| n == name.get_ref())
                            .ok_or_else(|| {
                                let message = format!(
                                    "game `{}` has no reward dimension `{}`; it has {}",
                                    game.name(),
                                    name.get_ref(),
                                    names.join(", ")
                                );
                                at(name.span(), message)
                            })?
                    }
                };
                let n = agents.len();
                if matches!(graph, GraphSpec::Complete) && n > MAX_COMPLETE_TIES_AGENTS {
                    let message = format!(
                        "ties that form and break on a complete graph of {n} agents: each change \
                         rebuilds all {} ties; draw a sparser graph, or use at most \
                         {MAX_COMPLETE_TIES_AGENTS} agents",
                        n * (n - 1) / 2
                    );
                    return Err(at(span, message));
                }
                if let Some(h) = spec.homophily.as_ref().filter(|_| parsed.values.is_none()) {
                    let message = "ties formed by homophily join agents of similar values: give \
                                   the agents values with a `[values]` table"
                        .to_owned();
                    return Err(at(h.span(), message));
                }
                Some(TieRules {
                    dimension: DimId(dimension as u16),
                    weaken: spec.weaken.map_or(0.0, |w| w.get()),
                    strengthen: spec.strengthen.map_or(0.0, |w| w.get()),
                    cut_below: spec.cut_below.map_or(0.0, |c| c.get()),
                    closure: spec.closure.map_or(0.0, |p| p.get()),
                    budget: spec.budget.map(|b| b.get() as usize),
                    homophily: spec.homophily.map_or(0.0, |p| p.get_ref().get()),
                    similar_within: spec.similar_within.map_or(0.1, |d| d.get()),
                    reciprocity: spec.reciprocity.map_or(0.0, |p| p.get()),
                })
            }
            None => None,
        };
        let graph_output = match parsed.output.graph {
            Some(flag) if *flag.get_ref() => {
                let n = agents.len();
                let ties = match &graph {
                    GraphSpec::Complete => n * n.saturating_sub(1) / 2,
                    _ => 0,
                };
                if ties > MAX_GRAPH_OUTPUT_TIES {
                    let message = format!(
                        "a complete graph of {n} agents has {ties} ties: `graph.edges` would hold \
                         more than {MAX_GRAPH_OUTPUT_TIES} lines (draw a sparser graph, or leave \
                         `graph` off)"
                    );
                    return Err(at(flag.span(), message));
                }
                true
            }
            _ => false,
        };
        let meta = parsed.scenario;
        let episodes = meta
            .episodes
            .map_or_else(|| game.default_episodes(agents.len()), |e| e.get() as u64);
        let labels: Vec<&str> = agents.iter().map(|a| &*a.label).collect();
        // What keeps per-agent records across episodes, so that a timeline may not change the
        // number of agents.
        let per_agent = [
            (judge.is_some(), "a `[judge]`"),
            (attribution.is_some(), "an `[attribution]`"),
            (heron.is_some(), "`[scalar.heron]`"),
            (parsed.evolution.is_some(), "`[evolution]`"),
        ]
        .into_iter()
        .find_map(|(kept, what)| kept.then_some(what));
        let generations = (parsed.evolution.as_ref()).map(|e| e.generations.get() as u64);
        let timeline = resolve_timeline(
            source,
            file,
            parsed.timeline,
            (&*game, &labels, episodes, meta.max_steps.map(|m| m.get())),
            (generations, per_agent),
            &at,
        )?;
        let config = SimConfig {
            agents,
            graph,
            rewards,
            combine: parsed.scalar.combine,
            shaping,
            ties,
            values: parsed.values.map(|v| ValueRules {
                confidence: v.confidence.get(),
                rate: v.rate.get(),
            }),
            max_steps: meta.max_steps.map(|m| m.get()),
            seed: meta.seed,
            transcript: parsed.output.transcript,
            // The judge and a language model's attribution read the episode's words.
            text: reads_words,
            // Kept for whoever steps the scenario's Sims and reads them; `socium run` keeps them
            // only for its own readers (`Scenario::reads_records`).
            records: true,
        };
        let loaded = policies.loaded.into_iter().map(|(path, _)| path);
        let inputs = loaded.chain(inputs).collect();
        Ok(Scenario {
            file: file.to_owned(),
            name: meta.name,
            description: meta.description,
            game,
            config,
            episodes,
            evolution: parsed.evolution,
            judge,
            heron,
            attribution,
            graph_output,
            timeline,
            inputs,
        })
    }

    /// Every file beside the scenario that sets up its agents and graph, its timeline's changes'
    /// too (ONNX policies, edge lists), each once: what a run depends on besides the file itself.
    pub fn inputs(&self) -> Vec<&Path> {
        let mut all: Vec<&Path> = Vec::new();
        let changed = self.timeline.iter().flat_map(|c| c.scenario.inputs());
        for path in self.inputs.iter().map(PathBuf::as_path).chain(changed) {
            if !all.contains(&path) {
                all.push(path);
            }
        }
        all
    }

    /// A Sim of this scenario, reset with its seed.
    pub fn sim(&self) -> Result<Sim, SimError> {
        Sim::new(&*self.game, self.config.clone())
    }

    /// Whether a run of this scenario reads each step's utterances and reward entries: for its
    /// transcript, its judge or its attribution. Where none does, `socium run` steps a Sim that
    /// keeps none ([`SimConfig::records`]).
    pub fn reads_records(&self) -> bool {
        self.config.transcript || self.judge.is_some() || self.attribution.is_some()
    }
}

/// Resolves `[[timeline]]` `entries` of the scenario `source` whose `game` plays with agents
/// labelled `labels` for `episodes` episodes of at most `max_steps` steps (or, with
/// `[evolution]`, `generations` generations; `per_agent` names what keeps the number of agents
/// fixed, if anything): each entry's scenario is the file (without its timeline) with every
/// change up to it applied, checked like the file; a change at a step is also tried on a Sim of
/// the scenario before it ([`Sim::retune`]).
fn resolve_timeline(
    source: &str,
    file: &Path,
    entries: Vec<Spanned<schema::TimelineEntry>>,
    (game, labels, episodes, max_steps): (&dyn Game, &[&str], u64, Option<u32>),
    (generations, per_agent): (Option<u64>, Option<&str>),
    at: &impl Fn(std::ops::Range<usize>, String) -> ScenarioError,
) -> Result<Vec<Change>, ScenarioError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let (unit, limit) = match generations {
        Some(g) => ("generation", g),
        None => ("episode", episodes),
    };
    let agents = labels.len();
    let mut doc: toml::Table = toml::from_str(source).expect("the file parsed");
    doc.remove("timeline");
    let base = toml::to_string(&doc).expect("a TOML table serialises");
    let has_values = doc.contains_key("values");
    let (mut applied, mut changes, mut last) = (Vec::new(), Vec::<Change>::new(), (0, 0));
    for entry in entries {
        let span = entry.span();
        let entry = entry.into_inner();
        let from = match (generations, &entry.episode, &entry.generation) {
            (None, Some(e), None) | (Some(_), None, Some(e)) => e,
            (None, _, Some(g)) => {
                let message = "a change by generation is `socium evolve`'s, in a \
                               scenario with `[evolution]`; `socium run` changes from an \
                               `episode`"
                    .to_owned();
                return Err(at(g.span(), message));
            }
            (Some(_), Some(e), _) => {
                let message = "a scenario with `[evolution]` changes from a \
                               `generation` (`socium evolve` plays generations)"
                    .to_owned();
                return Err(at(e.span(), message));
            }
            (_, None, None) => return Err(at(span, format!("missing field `{unit}`"))),
        };
        let (value, value_span) = (*from.get_ref(), from.span());
        let step = match (&entry.step, generations) {
            (None, _) => None,
            (Some(s), Some(_)) => {
                let message = "a change by generation applies between generations";
                return Err(at(s.span(), message.to_owned()));
            }
            (Some(s), None) if *s.get_ref() == 0 => {
                let message = "step 0 is the episode's start: leave `step` out";
                return Err(at(s.span(), message.to_owned()));
            }
            (Some(s), None) if max_steps.is_some_and(|m| *s.get_ref() >= m) => {
                let message = format!(
                    "step {} is past the episode: `max_steps` is {}",
                    s.get_ref(),
                    max_steps.unwrap_or_default()
                );
                return Err(at(s.span(), message));
            }
            (Some(s), None) => Some(*s.get_ref()),
        };
        let time = (value, step.unwrap_or(0));
        if time <= last {
            let article = if unit == "episode" { "an" } else { "a" };
            let previous = match last {
                (e, 0) => e.to_string(),
                (e, s) => format!("{e}, step {s}"),
            };
            let message = format!(
                "{unit} {value}: a change applies from {article} {unit} after 0 (or a step of \
                 one) and after the previous change's ({previous})"
            );
            return Err(at(value_span, message));
        }
        if value >= limit {
            let message = format!(
                "{unit} {value} is past the run: it plays {limit} {unit}{} (0 to {})",
                if limit == 1 { "" } else { "s" },
                limit - 1
            );
            return Err(at(value_span, message));
        }
        last = time;
        let at_step = |key: &str| {
            let (group, rest) = key.split_once(']').unwrap_or_default();
            let agent = group.starts_with("agents[")
                && (rest == ".strategy" || rest == ".params" || rest.starts_with(".params."));
            key.starts_with("game.") || agent
        };
        let mut set = Vec::new();
        for (key, value) in entry.set {
            let change = Override::new(&key, value.clone()).map_err(|m| at(span.clone(), m))?;
            // Checked by the full key: `max_steps` is `scenario.max_steps`.
            let full = change.full_key(game.name());
            let within = |table: &str| {
                full == table || full.strip_prefix(table).is_some_and(|r| r.starts_with('.'))
            };
            if within("scenario") || within("evolution") {
                let message =
                    format!("`{key}`: the run's seed, length and evolution do not change part-way");
                return Err(at(span, message));
            }
            // The outputs, their columns and their readers are set at the start.
            if ["output", "judge", "attribution", "scalar.heron"]
                .into_iter()
                .any(within)
            {
                let message = format!(
                    "`{key}`: the run's outputs (and the judge, attribution and preferences \
                     that write them) do not change part-way"
                );
                return Err(at(span, message));
            }
            if within("values") && !has_values {
                let message = format!(
                    "`{key}`: a change may retune `[values]`, not add it (the outputs' value \
                     columns are the run's): give the file a `[values]` table"
                );
                return Err(at(span, message));
            }
            if step.is_some() && !at_step(&full) {
                let message = format!(
                    "`{key}`: part-way through an episode a change may set the game's settings \
                     and a group's `strategy` and `params`; this key changes at an episode's \
                     start (leave `step` out)"
                );
                return Err(at(span, message));
            }
            set.push(format!("{key}={value}"));
            applied.push(change);
        }
        // The scenario the change is made to, for a change at a step (which keeps the Sim).
        let parsed;
        let before = match (step, changes.last()) {
            (None, _) => None,
            (Some(_), Some(c)) => Some(&*c.scenario),
            (Some(_), None) => {
                let before = &applied[..applied.len() - set.len()];
                parsed = Scenario::parse_with_overrides(&base, file, before)?;
                Some(&parsed)
            }
        };
        if let (Some(before), Some(s)) = (before, &entry.step)
            && let Some(steps) =
                (before.game.episode_steps()).filter(|&n| u64::from(*s.get_ref()) >= n)
        {
            let message = format!(
                "step {} is past the episode: an episode of `{}` here plays {steps} \
                 steps (0 to {})",
                s.get_ref(),
                before.game.name(),
                steps - 1
            );
            return Err(at(s.span(), message));
        }
        let scenario = Scenario::parse_with_overrides(&base, file, &applied).map_err(|e| {
            let message = match e {
                ScenarioError::Override { message, .. } => message,
                other => other.to_string(),
            };
            at(
                span.clone(),
                format!("the change at {unit} {value}: {message}"),
            )
        })?;
        if let Some(what) = per_agent.filter(|_| scenario.config.agents.len() != agents) {
            let message = format!(
                "the change at {unit} {value} makes {} agents of {agents}: {what} keeps a \
                 record per agent, so the number of agents stays",
                scenario.config.agents.len()
            );
            return Err(at(span, message));
        }
        let changed: Vec<&str> = (scenario.config.agents.iter()).map(|a| &*a.label).collect();
        if generations.is_some() && changed != labels {
            let message = format!(
                "the change at generation {value} relabels the agents: an evolving population \
                 keeps its types (a change may give a group another strategy or parameters)"
            );
            return Err(at(span, message));
        }
        if scenario.game.name() != game.name() {
            let message = format!(
                "the change at {unit} {value} plays `{}`: a timeline changes a game's \
                 settings, not the game (`{}`)",
                scenario.game.name(),
                game.name()
            );
            return Err(at(span, message));
        }
        if let (Some(before), Some(step)) = (before, step) {
            let refused = |e: String| {
                at(
                    span.clone(),
                    format!("the change at episode {value}, step {step}: {e}"),
                )
            };
            (before.sim().map_err(|e| refused(e.to_string()))?)
                .retune(&*scenario.game, &scenario.config.agents)
                .map_err(|e| refused(e.to_string()))?;
        }
        changes.push(Change {
            when: match (generations, step) {
                (Some(_), _) => When::Generation(value),
                (None, Some(step)) => When::Step {
                    episode: value,
                    step,
                },
                (None, None) => When::Episode(value),
            },
            line_column: error::line_column(source, span.start),
            set: set.join(", "),
            scenario: Box::new(scenario),
        });
    }
    Ok(changes)
}

/// The ONNX policies of one scenario: each file loaded once, checked against the game's spaces.
struct Policies<'a> {
    /// The scenario file's directory, which relative paths start from.
    dir: &'a Path,
    /// The scenario's `onnxruntime`, if it gives one.
    runtime: Option<PathBuf>,
    game: &'a Arc<dyn Game>,
    /// The number of agents, which the spaces depend on.
    agents: usize,
    /// The game's spaces, built at the first policy.
    spaces: Option<Spaces>,
    loaded: Vec<(PathBuf, Arc<OnnxPolicy>)>,
}

impl Policies<'_> {
    fn load(&mut self, file: &str) -> Result<Arc<OnnxPolicy>, socium_policy::LoadError> {
        let path = self.dir.join(file);
        if let Some((_, policy)) = self.loaded.iter().find(|(p, _)| *p == path) {
            return Ok(policy.clone());
        }
        let (game, agents) = (&**self.game, self.agents);
        let spaces = self.spaces.get_or_insert_with(|| Spaces {
            observation: game.observation_space(agents),
            action: game.action_space(agents),
        });
        let policy = Arc::new(OnnxPolicy::load(&path, spaces, self.runtime.as_deref())?);
        self.loaded.push((path, policy.clone()));
        Ok(policy)
    }
}

fn agent_spec(
    game: &dyn Game,
    group: AgentGroup,
    span: std::ops::Range<usize>,
    policies: &mut Policies<'_>,
    at: &impl Fn(std::ops::Range<usize>, String) -> ScenarioError,
) -> Result<AgentSpec, ScenarioError> {
    let given: Vec<&str> = [
        ("`strategy`", group.strategy.is_some()),
        ("`policy`", group.policy.is_some()),
        ("`controller`", group.controller.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, given)| given.then_some(key))
    .collect();
    match given[..] {
        [_] => {}
        [] => {
            return Err(at(
                span,
                "expected one of `strategy = \"...\"`, `policy = \"file.onnx\"` or \
                 `controller = \"random\" | \"external\"`"
                    .into(),
            ));
        }
        _ => {
            let message = format!(
                "give only one of `strategy`, `policy` or `controller`, not {}",
                given.join(" and ")
            );
            return Err(at(span, message));
        }
    }
    if group.strategy.is_none()
        && let Some((name, _)) = group.params.first_key_value()
    {
        return Err(at(name.span(), "`params` belong to a `strategy`".into()));
    }
    if group.policy.is_none()
        && let Some(t) = &group.temperature
    {
        return Err(at(t.span(), "`temperature` belongs to a `policy`".into()));
    }
    let controller = match (group.strategy, group.controller, group.policy) {
        (_, Some(kind), _) => {
            let span = kind.span();
            match kind.into_inner() {
                ControllerKind::Random => Controller::Random,
                ControllerKind::External => Controller::External,
                ControllerKind::Llm(config) => {
                    let policy = LlmPolicy::new(
                        *config,
                        policies.game.clone(),
                        policies.agents,
                        policies.dir,
                    )
                    .map_err(|e| at(span, e))?;
                    Controller::Policy(PolicyController {
                        policy: Arc::new(policy),
                        selection: Selection::Argmax,
                    })
                }
            }
        }
        (_, _, Some(file)) => {
            let policy = policies
                .load(file.get_ref())
                .map_err(|e| at(file.span(), e.to_string()))?;
            let selection = match group.temperature {
                Some(t) => Selection::Sample {
                    temperature: t.get_ref().get() as f32,
                },
                None => Selection::Argmax,
            };
            Controller::Policy(PolicyController { policy, selection })
        }
        (None, None, None) => unreachable!("exactly one controller was checked above"),
        (Some(name), None, None) => {
            let Some(info) = game.strategies().iter().find(|s| s.name == name.get_ref()) else {
                let known: Vec<_> = game.strategies().iter().map(|s| s.name).collect();
                return Err(at(
                    name.span(),
                    format!(
                        "game `{}` has no strategy `{}`; it has {}",
                        game.name(),
                        name.get_ref(),
                        known.join(", ")
                    ),
                ));
            };
            let params = &group.params;
            let choice = info.choose(
                params
                    .iter()
                    .map(|(k, v)| (k.get_ref().as_str(), *v.get_ref())),
            );
            Controller::Scripted(choice.map_err(|e| {
                // Point at the unknown key, or at the out-of-range value.
                let span = match &e {
                    ParamError::Unknown { name, .. } => params
                        .keys()
                        .find(|k| k.get_ref() == name)
                        .map(Spanned::span),
                    ParamError::OutOfRange { name, .. } => params
                        .iter()
                        .find(|(k, _)| k.get_ref() == name)
                        .map(|(_, v)| v.span()),
                };
                at(span.unwrap_or(name.span()), e.to_string())
            })?)
        }
    };
    // The default label names the parameters given, so that groups of one strategy with
    // different parameters stay apart in tables.
    let label = group.label.unwrap_or_else(|| {
        if let Controller::Policy(p) = &controller {
            return match p.selection {
                Selection::Argmax => p.policy.name().to_owned(),
                Selection::Sample { temperature } => {
                    format!("{}(temperature={temperature})", p.policy.name())
                }
            };
        }
        let given: Vec<String> = group
            .params
            .iter()
            .map(|(k, v)| format!("{}={}", k.get_ref(), v.get_ref()))
            .collect();
        match given.is_empty() {
            true => controller.name().to_owned(),
            false => format!("{}({})", controller.name(), given.join(", ")),
        }
    });
    Ok(AgentSpec {
        controller,
        label: label.into(),
        social: group.social.unwrap_or_default(),
    })
}
