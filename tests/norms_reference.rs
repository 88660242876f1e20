//! The flat-array reference of the norms game (`benches/norms_reference.rs`, the roofline bench's
//! baseline) plays exactly as Socium: the same per-step rewards, bit for bit, and the same acting
//! agents as a `VecEnv` of the same scenario, across autoresets. A mismatch means the reference is
//! not faithful to Socium's rules or draw order.

#[path = "../benches/norms_reference.rs"]
mod norms_reference;

use norms_reference::{NormsReference, NormsRules, Rule};
use socium::core::VecEnv;
use socium::scenario::Scenario;
use std::path::Path;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/leading_eight.toml");

/// leading_eight.toml with `edit` applied to its TOML document.
fn variant(edit: impl FnOnce(&mut toml::Table)) -> String {
    let text = std::fs::read_to_string(FILE).unwrap();
    let mut doc: toml::Table = toml::from_str(&text).unwrap();
    edit(&mut doc);
    toml::to_string(&doc).unwrap()
}

/// Sets `value` at `key` (dotted, tables created as needed) in `doc`.
fn set(doc: &mut toml::Table, key: &str, value: impl Into<toml::Value>) {
    let (path, last) = key.rsplit_once('.').map_or(("", key), |(p, l)| (p, l));
    let mut table = doc;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        table = table
            .entry(part)
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .unwrap();
    }
    table.insert(last.to_owned(), value.into());
}

/// Steps a VecEnv of the scenario `text` and the reference side by side for `steps` steps over
/// `envs` envs, comparing rewards bit for bit and acting agents at every step; returns how many
/// autoresets env 0 went through.
fn agree(text: &str, envs: usize, steps: usize) -> usize {
    let s = Scenario::parse(text, Path::new(FILE)).unwrap_or_else(|e| panic!("{e}"));
    let rules = NormsRules::from_scenario(text, &s.config).unwrap();
    let episode = rules.rounds.min(rules.max_steps.unwrap_or(u32::MAX)) as usize;
    let seeds = VecEnv::seeds(s.config.seed, envs);
    let mut env = VecEnv::new(&*s.game, &s.config, &seeds).unwrap();
    let agents = s.config.agents.len();
    let actions = vec![0.0; envs * agents * s.game.action_space(agents).flat_dim()];
    let mut reference = NormsReference::new(rules, &seeds);
    assert_eq!(reference.num_envs(), envs);
    env.reset(Some(&seeds)).unwrap();
    reference.reset(&seeds);
    assert!(reference.acting().eq(env.outputs().acting.iter().copied()));
    let (mut resets, mut helped) = (0, 0);
    for step in 1..=steps {
        let before = env.outputs().acting.iter().filter(|&&a| a).count() as u64;
        env.step(&actions).unwrap();
        let buf = env.outputs();
        let decisions = reference.step();
        assert_eq!(decisions, before, "step {step}: decisions");
        for (i, (r, v)) in reference.rewards().iter().zip(&buf.rewards).enumerate() {
            assert_eq!(
                r.to_bits(),
                v.to_bits(),
                "step {step}, env {}, agent {}: reference {r}, Socium {v}",
                i / agents,
                i % agents
            );
        }
        let acting: Vec<bool> = reference.acting().collect();
        assert_eq!(acting, buf.acting, "step {step}: acting agents");
        // Env 0 resets at the step after each episode's last; nobody acts in between.
        if buf.acting[..agents].iter().all(|&a| !a) {
            assert_eq!(
                step % (episode + 1),
                episode,
                "step {step}: an episode ended"
            );
            resets += 1;
        }
        helped += buf.rewards.iter().filter(|&&r| r > 0.0).count();
    }
    assert!(helped > 0, "somebody was helped");
    resets
}

#[test]
fn leading_eight_agrees_bit_for_bit_across_two_autoresets() {
    let text = std::fs::read_to_string(FILE).unwrap();
    let rules =
        NormsRules::from_scenario(&text, &Scenario::load(FILE.as_ref()).unwrap().config).unwrap();
    assert_eq!(rules.assessment_error, 0.02);
    assert_eq!(
        rules
            .agents
            .iter()
            .filter(|&&r| r == Rule::Always(false))
            .count(),
        10
    );
    assert_eq!(agree(&text, 4, 250), 2);
}

#[test]
fn without_assessment_error_agrees() {
    let text = variant(|doc| set(doc, "game.norms.assessment_error", 0.0));
    assert!(agree(&text, 4, 250) >= 2);
}

#[test]
fn with_execution_error_agrees() {
    let text = variant(|doc| set(doc, "game.norms.execution_error", 0.05));
    assert!(agree(&text, 4, 250) >= 2);
}

/// Every other branch the reference mirrors: a complete graph, every scripted strategy, another
/// norm, both errors, a weighted reputation dimension and a step limit before the last round.
#[test]
fn complete_graph_all_strategies_weights_and_step_limit_agree() {
    let text = variant(|doc| {
        doc.remove("graph");
        set(doc, "game.norms.norm", "l1");
        set(doc, "game.norms.execution_error", 0.1);
        set(doc, "game.norms.benefit", 0.7);
        set(doc, "game.norms.cost", 0.3);
        set(doc, "scenario.max_steps", 37);
        set(doc, "rewards.reputation.weight", 0.25);
        let group = |strategy: &str, count: i64| {
            let mut t = toml::Table::new();
            t.insert("strategy".into(), strategy.into());
            t.insert("count".into(), count.into());
            toml::Value::Table(t)
        };
        doc.insert(
            "agents".into(),
            toml::Value::Array(vec![
                group("discriminator", 20),
                group("apologetic_discriminator", 10),
                group("allc", 3),
                group("alld", 7),
            ]),
        );
    });
    assert!(agree(&text, 3, 160) >= 3);
}
