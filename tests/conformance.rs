//! Conformance: what every game must do, checked for every game of the registry
//! (`socium::games::NAMES`) and every strategy it declares — no list of games here.
//!
//! - its bundled scenarios (`scenarios/*.toml` with a `[game.<name>]` table) validate, and one of
//!   them, its learner scenario, has an external agent (the Python suite runs PettingZoo's
//!   `parallel_api_test` on it);
//! - each strategy plays (every agent but one of that strategy, the last one random) on the
//!   learner scenario's settings and agent count, with a weight and transform on every reward
//!   dimension; where the game's `check` refuses the strategy, its message names the setting
//!   that allows it as `` `key = value` ``, and the setup takes it;
//! - every reward entry names an utterance of its step or of an earlier step of the episode (a
//!   `settles` line), and the scalar reward is the weighted sum of the transformed
//!   per-dimension sums;
//! - an agent idle at the coming step has its row of the action masks all 0;
//! - a seeded run writes byte-identical outputs twice, and other outputs with another seed;
//! - a VecEnv gives the same buffers on 1 and 2 threads, and as its Sims stepped one by one;
//! - an env that keeps no records (`SimConfig::records`) plays and rewards exactly as one that
//!   does, and stores no utterance or entry unless the kernel reads them itself.

mod common;

use socium::core::{Controller, Reference, Sim, SimConfig, Transform, UtteranceId};
use socium::games::{GameSpec, NAMES, games};
use socium::scenario::Scenario;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Steps of each episode of a strategy's setup (`max_steps`).
const EPISODE_STEPS: i64 = 60;
/// Steps stepped in the attribution and VecEnv checks: episodes end by the rules (a game
/// shorter than `EPISODE_STEPS`) or by truncation, and the next ones start.
const STEPS: usize = 150;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every bundled scenario: (file, text).
fn bundled() -> Vec<(PathBuf, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .collect()
}

/// The bundled scenarios of game `name`: those with a `[game.<name>]` table.
fn bundled_of(name: &str) -> Vec<(PathBuf, String)> {
    let table = format!("[game.{name}]");
    bundled()
        .into_iter()
        .filter(|(_, text)| text.lines().any(|l| l.trim() == table))
        .collect()
}

/// The learner scenario of game `name`: its first bundled scenario with an external agent.
fn learner(name: &str) -> (PathBuf, String, Scenario) {
    bundled_of(name)
        .into_iter()
        .map(|(file, text)| {
            let s = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
            (file, text, s)
        })
        .find(|(_, _, s)| (s.config.agents.iter()).any(|a| a.controller == Controller::External))
        .unwrap_or_else(|| {
            panic!(
                "game `{name}` has no learner scenario: add scenarios/{name}_learner.toml with a \
                 `controller = \"external\"` agent"
            )
        })
}

/// A strategy's setup: a scenario of game `name` and the strategy it exercises.
struct Setup {
    name: String,
    scenario: Scenario,
}

/// The settings that a refusal names as `` `key = value` ``.
fn named_settings(refusal: &str) -> Vec<(String, toml::Value)> {
    refusal
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| {
            let (key, value) = quoted.split_once(" = ")?;
            let key = key.trim();
            let valid = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            let value = toml::from_str::<toml::Table>(&format!("v = {value}")).ok()?["v"].clone();
            valid.then(|| (key.to_owned(), value))
        })
        .collect()
}

/// Weights and transforms, by dimension index: every kind of transform (as many as the game has
/// dimensions), and weights other than 1 and the defaults.
fn reward_table(k: usize) -> toml::Value {
    let table = match k % 8 {
        0 => "weight = 0.7\ntransform = { sigmoid = { scale = 4.0 } }",
        1 => "weight = 0.3\ntransform = { min_max = { window = 3 } }",
        2 => "weight = -1.5\ntransform = { clip = { low = -1, high = 0.5 } }",
        3 => "transform = \"rank\"",
        4 => "transform = { log_sigmoid = { reference = { mean = { window = 2 } } } }",
        5 => "transform = { par = { reference = { percentile = { p = 0.75, window = 2 } } } }",
        6 => "transform = { zscore = { window = 3 } }",
        _ => "weight = 0.25",
    };
    toml::Value::Table(toml::from_str(table).unwrap())
}

/// One setup per strategy of every registered game, on the settings and agent count of the
/// game's learner scenario.
fn setups() -> Vec<Setup> {
    let mut out = Vec::new();
    for game in games() {
        let name = game.name();
        let (file, text, learner) = learner(name);
        let agents = learner.config.agents.len() as i64;
        assert!(agents >= 2, "{}: fewer than 2 agents", file.display());
        let base: toml::Table = toml::from_str(&text).unwrap();
        assert!(
            !game.strategies().is_empty(),
            "game `{name}` has no strategies"
        );
        for strategy in game.strategies() {
            let mut doc = base.clone();
            doc.remove("evolution");
            let meta = doc["scenario"].as_table_mut().unwrap();
            meta.insert("max_steps".into(), EPISODE_STEPS.into());
            meta.insert("episodes".into(), 2.into());
            let agent_table = |t: &str| toml::Value::Table(toml::from_str(t).unwrap());
            doc.insert(
                "agents".into(),
                toml::Value::Array(vec![
                    agent_table(&format!(
                        "count = {}\nstrategy = \"{}\"",
                        agents - 1,
                        strategy.name
                    )),
                    agent_table("controller = \"random\"\nlabel = \"random controller\""),
                ]),
            );
            let rewards = (game.reward_dimensions().iter().enumerate())
                .map(|(k, d)| (d.name.to_owned(), reward_table(k)))
                .collect();
            doc.insert("rewards".into(), toml::Value::Table(rewards));
            doc.insert("output".into(), agent_table("transcript = true"));
            let setup = format!("{name}, {}", strategy.name);
            let path = PathBuf::from(format!("{name}_{}.toml", strategy.name));
            let parse = |doc: &toml::Table| {
                Scenario::parse(&toml::to_string(doc).unwrap(), &path).map_err(|e| match e {
                    socium::scenario::ScenarioError::At(at) => at.message,
                    e => e.to_string(),
                })
            };
            let scenario = match parse(&doc) {
                Ok(s) => s,
                Err(refusal) => {
                    // The game refuses the strategy under these settings: take the settings its
                    // message names.
                    let settings = named_settings(&refusal);
                    assert!(
                        !settings.is_empty(),
                        "{setup}: refused (\"{refusal}\"), naming no `key = value` setting that \
                         allows it"
                    );
                    let table = doc["game"][name].as_table().cloned().unwrap_or_default();
                    let mut table = table;
                    table.extend(settings);
                    doc["game"]
                        .as_table_mut()
                        .unwrap()
                        .insert(name.to_owned(), toml::Value::Table(table));
                    parse(&doc).unwrap_or_else(|e| {
                        panic!("{setup}: refused with the settings its refusal names: {e}")
                    })
                }
            };
            assert_eq!(scenario.game.name(), name);
            out.push(Setup {
                name: setup,
                scenario,
            });
        }
    }
    out
}

#[test]
fn the_registry_names_each_game_by_its_table() {
    let names: Vec<&str> = games().iter().map(|g| g.name()).collect();
    assert_eq!(names, NAMES);
    for spec in GameSpec::defaults() {
        let name = spec.name();
        assert_eq!(spec.into_game().name(), name);
        let text = format!(
            "[scenario]\nname = \"x\"\n[game.{name}]\n[[agents]]\ncontroller = \"random\"\ncount = 10\n"
        );
        let s = Scenario::parse(&text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.game.name(), name);
    }
}

#[test]
fn every_bundled_scenario_validates_and_every_game_has_a_learner_scenario() {
    let mut seen = BTreeSet::new();
    for name in NAMES {
        let files = bundled_of(name);
        assert!(!files.is_empty(), "game `{name}` has no bundled scenario");
        for (file, _) in files {
            let s = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.game.name(), *name, "{}", file.display());
            seen.insert(file);
        }
        learner(name);
    }
    let all: BTreeSet<PathBuf> = bundled().into_iter().map(|(f, _)| f).collect();
    assert_eq!(seen, all, "a bundled scenario names no registered game");
}

/// The steps a transform looks back over, if it does.
fn window_of(t: &Transform) -> Option<usize> {
    match t {
        Transform::MinMax { window } | Transform::Zscore { window } => Some(window.get() as usize),
        Transform::LogSigmoid { reference } | Transform::Par { reference } => match reference {
            Reference::Mean { window } | Reference::Percentile { window, .. } => {
                Some(window.get() as usize)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Agent `a`'s component of a dimension: `column` holds every agent's raw value this step and
/// whether it acted, `window` the raw values of the dimension (all agents) over the transform's
/// window, this step included. Written from docs/rewards.md, apart from the kernel's code.
fn transform(t: &Transform, a: usize, column: &[(f64, bool)], window: &[f64]) -> f64 {
    let x = column[a].0;
    let n = window.len() as f64;
    let mean = window.iter().sum::<f64>() / n.max(1.0);
    let reference = |r: &Reference| match r {
        Reference::Constant(c) => c.get(),
        Reference::Mean { .. } => mean,
        Reference::Percentile { p, .. } => {
            let mut sorted = window.to_vec();
            sorted.sort_by(f64::total_cmp);
            let h = (sorted.len() - 1) as f64 * p.get();
            let (lo, hi) = (sorted[h.floor() as usize], sorted[h.ceil() as usize]);
            lo + (h - h.floor()) * (hi - lo)
        }
        Reference::Group(_) => unreachable!("no conformance setup names a group"),
    };
    let sigma = |z: f64| 1.0 / (1.0 + (-z).exp());
    match t {
        Transform::Identity => x,
        Transform::Sigmoid { scale } => 2.0 / (1.0 + (-x / scale.get()).exp()) - 1.0,
        Transform::MinMax { .. } => {
            let lo = window.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = window.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if hi > lo { (x - lo) / (hi - lo) } else { 0.0 }
        }
        Transform::LogSigmoid { reference: r } => sigma(x - reference(r)).ln(),
        Transform::Par { reference: r } => sigma(x - reference(r)),
        Transform::Zscore { .. } => {
            let var = window.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(1.0);
            if var.sqrt() > 1e-12 {
                (x - mean) / var.sqrt()
            } else {
                0.0
            }
        }
        Transform::Clip { low, high } => x.clamp(low.get(), high.get()),
        Transform::Rank => {
            let actors: Vec<f64> = column.iter().filter(|c| c.1).map(|c| c.0).collect();
            let (below, equal) = (
                actors.iter().filter(|&&v| v < x).count() as f64,
                actors.iter().filter(|&&v| v == x).count() as f64,
            );
            match (column[a].1, actors.len()) {
                (false, _) => 0.0,
                (true, 1) => 0.5,
                (true, m) => (below + (equal - 1.0) / 2.0) / (m - 1) as f64,
            }
        }
    }
}

/// Checks that every agent idle at the coming step has its row of the action masks all 0, however
/// it became idle (the turn order, its end, the game's choice).
fn idle_agents_may_do_nothing(name: &str, sim: &Sim) {
    let dim = sim.spaces().action.mask_dim();
    if dim == 0 {
        return;
    }
    let env = sim.env();
    let rows = env.action_masks().chunks_exact(dim);
    for (a, (&acting, row)) in env.acting().iter().zip(rows).enumerate() {
        assert!(
            acting || row.iter().all(|&m| m == 0),
            "{name}: agent {a} is idle, and its action mask allows {row:?}"
        );
    }
}

/// Checks that every agent that acted at the step just played, scripted players included (whose
/// acts nothing else checks), played an action its mask (`masks`, from before the step) allows.
fn played_only_what_their_masks_allow(name: &str, sim: &Sim, acting: &[bool], masks: &[u8]) {
    let space = &sim.spaces().action;
    let (width, mask_dim) = (space.flat_dim(), space.mask_dim());
    let played = sim.env().actions().chunks_exact(width);
    for (a, row) in played.enumerate().filter(|&(a, _)| acting[a]) {
        let mask = &masks[a * mask_dim..(a + 1) * mask_dim];
        if let Err(problem) = space.check(row, mask) {
            panic!("{name}: agent {a} played {row:?}: {problem}");
        }
    }
}

/// Checks that no agent whose game has ended acts at the coming step (a game that chooses who
/// acts had chosen the next phase's actors on the step that ended the episode).
fn the_done_are_idle(name: &str, sim: &Sim) {
    let env = sim.env();
    let done = env
        .terminated()
        .iter()
        .zip(env.truncated())
        .map(|(t, u)| t | u);
    for (a, (ended, &acting)) in done.zip(env.acting()).enumerate() {
        assert!(!(ended && acting), "{name}: agent {a} acts after its end");
    }
}

/// Steps `sim` `steps` times (resetting when an episode ends) and checks every step's
/// attribution and sums, and that idle agents may do nothing; returns the number of reward
/// entries seen.
fn check_attribution_and_sums(
    name: &str,
    mut sim: Sim,
    steps: usize,
    ranges: &[Option<(f64, f64)>],
) -> usize {
    let n = sim.agent_count();
    let dims = sim.env().reward_dimensions().to_vec();
    let d = dims.len();
    // Each agent's raw totals of the episode, `[agents × dims]`, checked against the ranges the
    // game declares as each episode ends.
    let mut totals = vec![0.0; n * d];
    assert_eq!(ranges.len(), d, "{name}: a range for each dimension");
    let actions = vec![0.0; n * sim.spaces().action.flat_dim()];
    let mut history: Vec<Vec<f64>> = vec![Vec::new(); d];
    let mut earlier: BTreeSet<UtteranceId> = BTreeSet::new();
    let mut entries_seen = 0;
    for _ in 0..steps {
        // The Sim's own answer, from its flat done flags, is its env's.
        assert_eq!(sim.is_done(), sim.env().is_done(), "{name}: Sim::is_done");
        if sim.env().is_done() {
            sim.reset(None);
            totals.fill(0.0);
            history.iter_mut().for_each(Vec::clear);
            earlier.clear();
        }
        // Who acts at this step (the rank transform ranks them), and what they may do.
        let acting = sim.env().acting().to_vec();
        let masks = sim.env().action_masks().to_vec();
        idle_agents_may_do_nothing(name, &sim);
        sim.step(&actions).unwrap();
        played_only_what_their_masks_allow(name, &sim, &acting, &masks);
        the_done_are_idle(name, &sim);
        let made: BTreeSet<UtteranceId> = sim.env().utterances().iter().map(|u| u.id).collect();
        let mut raw = vec![0.0; n * d];
        for e in sim.env().reward_entries() {
            assert!(
                made.contains(&e.utterance) || earlier.contains(&e.utterance),
                "{name}: entry {e:?} names no utterance of its step or of an earlier one"
            );
            raw[e.agent.index() * d + e.dimension.0 as usize] += e.value;
            entries_seen += 1;
        }
        // The transcript lines: one per utterance of the step, and a `settles` line per earlier
        // utterance named, together holding every entry.
        let lines = sim.env().transcript_lines();
        let (mut made_lines, mut entries_on_lines) = (0, 0);
        for line in &lines {
            entries_on_lines += line.rewards().len();
            match line {
                socium::core::TranscriptLine::Made { .. } => made_lines += 1,
                socium::core::TranscriptLine::Fault { .. }
                | socium::core::TranscriptLine::Change { .. } => {}
                socium::core::TranscriptLine::Roles { .. } => {
                    panic!("{name}: a step's lines hold the roles, hidden from trainers")
                }
                socium::core::TranscriptLine::Settles { settles, .. } => assert!(
                    earlier.contains(settles),
                    "{name}: a line settles {settles:?}, no earlier utterance of the episode"
                ),
            }
        }
        assert_eq!(made_lines, made.len(), "{name}: an utterance has no line");
        assert_eq!(
            entries_on_lines,
            sim.env().reward_entries().len(),
            "{name}: the transcript lines lose or add entries"
        );
        earlier.extend(made);
        totals.iter_mut().zip(&raw).for_each(|(t, r)| *t += r);
        if sim.env().is_done() {
            for (k, range) in ranges.iter().enumerate() {
                let Some((low, high)) = *range else { continue };
                for a in 0..n {
                    let total = totals[a * d + k];
                    assert!(
                        (low - 1e-9..=high + 1e-9).contains(&total),
                        "{name}: agent {a}'s episode total of {} is {total}, outside its declared \
                         range {low}..{high}",
                        dims[k].name
                    );
                }
            }
        }

        for k in 0..d {
            history[k].extend((0..n).map(|a| raw[a * d + k]));
            if let Some(window) = window_of(&dims[k].transform) {
                let keep = window * n;
                let len = history[k].len();
                history[k].drain(..len.saturating_sub(keep));
            }
        }
        for a in 0..n {
            let mut total = 0.0;
            for (k, dim) in dims.iter().enumerate() {
                let c = sim.env().reward_components()[a * d + k] as f64;
                let column: Vec<(f64, bool)> =
                    (0..n).map(|b| (raw[b * d + k], acting[b])).collect();
                let expected = transform(&dim.transform, a, &column, &history[k]);
                assert!(
                    (c - expected).abs() < 1e-4 * (1.0 + expected.abs()),
                    "{name}: agent {a}, {}: component {c}, expected {expected}",
                    dim.name
                );
                total += dim.weight * c;
            }
            let r = sim.env().rewards()[a] as f64;
            assert!(
                (r - total).abs() < 1e-4 * (1.0 + total.abs()),
                "{name}: agent {a}: reward {r}, expected the weighted sum {total}"
            );
        }
    }
    entries_seen
}

#[test]
fn rewards_are_attributed_and_add_up_for_every_strategy() {
    let mut entries = std::collections::BTreeMap::<&str, usize>::new();
    for setup in setups() {
        let sim = setup.scenario.sim().unwrap();
        let ranges: Vec<_> = (setup.scenario.game.reward_dimensions().iter())
            .map(|d| d.range)
            .collect();
        let seen = check_attribution_and_sums(&setup.name, sim, STEPS, &ranges);
        *entries.entry(setup.scenario.game.name()).or_default() += seen;
    }
    for name in NAMES {
        assert!(entries[name] > 0, "game `{name}`: no reward entry at all");
    }
}

/// The files a run of `s` writes, by name.
fn outputs(s: &Scenario) -> std::collections::BTreeMap<String, Vec<u8>> {
    common::run_outputs(s).unwrap()
}

#[test]
fn seeded_runs_repeat_byte_for_byte_for_every_strategy() {
    for Setup { name, mut scenario } in setups() {
        let first = outputs(&scenario);
        let names: Vec<&str> = first.keys().map(String::as_str).collect();
        assert_eq!(names, ["metrics.csv", "summary.json", "transcript.jsonl"]);
        assert!(first.values().all(|bytes| !bytes.is_empty()), "{name}");
        assert!(first == outputs(&scenario), "{name}: a second run differs");
        // The random agent draws from the seeded streams.
        scenario.config.seed += 1;
        assert!(
            first["transcript.jsonl"] != outputs(&scenario)["transcript.jsonl"],
            "{name}: another seed gives the same transcript"
        );
    }
}

#[test]
fn vec_envs_equal_their_sims_on_one_or_two_threads_for_every_strategy() {
    for Setup { name, scenario } in setups() {
        let trace = common::vec_env_equals_sequential_stepping(
            &name,
            &scenario,
            &scenario.config,
            4,
            STEPS,
        );
        let ended = |b: &socium::core::VecBuffers| {
            b.terminated.iter().zip(&b.truncated).any(|(&t, &u)| t || u)
        };
        assert!(trace.iter().any(ended), "{name}: no episode ended");
    }
}

/// A seeded reset puts an env back exactly where a freshly built one starts, whatever it played
/// before. A game system of `Decide`..`Record` that forgot its `Stepping` filter would also run on
/// an env being reset — in a Sim and a VecEnv alike, so comparing the two cannot see it — acting
/// on the last episode's observations and actions, drawing from the new episode's streams, and
/// leaving utterances or ledger entries behind.
#[test]
fn a_seeded_reset_after_play_starts_like_a_fresh_env_for_every_strategy() {
    for Setup { name, scenario } in setups() {
        let mut fresh = scenario.sim().unwrap();
        let mut played = scenario.sim().unwrap();
        let actions = vec![0.0; fresh.agent_count() * fresh.spaces().action.flat_dim()];
        for _ in 0..3 {
            if played.env().is_done() {
                break;
            }
            played.step(&actions).unwrap();
        }
        played.reset(Some(scenario.config.seed));
        let reset = played.env();
        assert!(
            reset.utterances().is_empty() && reset.reward_entries().is_empty(),
            "{name}: a reset left utterances or reward entries"
        );
        for step in 0..6 {
            let (a, b) = (fresh.env(), played.env());
            assert!(
                a.observations() == b.observations()
                    && a.action_masks() == b.action_masks()
                    && a.acting() == b.acting()
                    && a.rewards() == b.rewards(),
                "{name}: step {step} after a seeded reset differs from a fresh env's"
            );
            if a.is_done() {
                break;
            }
            fresh.step(&actions).unwrap();
            played.step(&actions).unwrap();
        }
    }
}

/// Records are for readers: without them an env plays the same steps and gives the same rewards,
/// raw sums and utterance counts, and keeps nothing per act, unless it has values or ties, whose
/// kernel systems read the records.
#[test]
fn an_env_without_records_plays_and_rewards_alike_for_every_strategy() {
    for Setup { name, scenario } in setups() {
        let sim = |records: bool| {
            let config = SimConfig {
                transcript: false,
                records,
                ..scenario.config.clone()
            };
            Sim::new(&*scenario.game, config).unwrap()
        };
        let (mut kept, mut unkept) = (sim(true), sim(false));
        let read_by_kernel = scenario.config.values.is_some() || scenario.config.ties.is_some();
        assert_eq!(unkept.env().keeps_records(), read_by_kernel, "{name}");
        let actions = vec![0.0; kept.agent_count() * kept.spaces().action.flat_dim()];
        let mut said = 0;
        for step in 0..STEPS {
            if kept.env().is_done() {
                kept.reset(None);
                unkept.reset(None);
            }
            kept.step(&actions).unwrap();
            unkept.step(&actions).unwrap();
            let (a, b) = (kept.env(), unkept.env());
            assert!(
                a.observations() == b.observations()
                    && a.action_masks() == b.action_masks()
                    && a.acting() == b.acting()
                    && a.rewards() == b.rewards()
                    && a.reward_components() == b.reward_components()
                    && a.raw_rewards() == b.raw_rewards()
                    && a.terminated() == b.terminated()
                    && a.truncated() == b.truncated(),
                "{name}: step {step} without records differs"
            );
            assert_eq!(a.utterance_count(), a.utterances().len() as u64, "{name}");
            assert_eq!(a.utterance_count(), b.utterance_count(), "{name}");
            said += b.utterance_count();
            if !read_by_kernel {
                assert!(
                    b.utterances().is_empty() && b.reward_entries().is_empty(),
                    "{name}: step {step}: an env without records kept some"
                );
            }
        }
        assert!(said > 0, "{name}: no utterance in {STEPS} steps");
    }
}
