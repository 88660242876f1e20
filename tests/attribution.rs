//! Episode-to-utterance attribution in `socium run` (`[attribution]`, Sotopia-RL): on every game
//! whose rewards are written per utterance, each method's values of an agent's utterances sum to
//! the agent's episode score (to 1e-9), which is checked against the transcript's reward entries;
//! `exact` is the ledger's own attribution; `uniform` gives equal shares; an ONNX weight model
//! gives shares in its weights' proportions; bad settings are refused with their key; the output
//! is the same whatever the thread count.

use serde_json::Value;
use socium::core::TranscriptLine;
use socium::scenario::{Override, Scenario, run};
use std::collections::BTreeMap;
use std::path::Path;

/// Per (episode, agent, dimension): a sum.
type Sums = BTreeMap<(u64, u64, String), f64>;

/// The bundled scenario `name` with `[attribution]` set by `settings` (`key=value` overrides of
/// the `attribution` table) and few episodes.
fn scenario(name: &str, episodes: u32, settings: &[&str]) -> Scenario {
    let mut set: Vec<Override> = vec![format!("scenario.episodes={episodes}").parse().unwrap()];
    set.extend(
        settings
            .iter()
            .map(|s| format!("attribution.{s}").parse().unwrap()),
    );
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    Scenario::load_with_overrides(&file, &set).unwrap()
}

/// Runs `s` and returns `attribution.jsonl`'s lines and the transcript's per-agent totals.
fn attributed(s: &Scenario) -> (Vec<Value>, Sums) {
    let dir = tempfile::tempdir().unwrap();
    run(s, dir.path(), |_| {}).unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    let lines = (read("attribution.jsonl").lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut totals = Sums::new();
    for line in read("transcript.jsonl").lines() {
        let line: TranscriptLine = serde_json::from_str(line).unwrap();
        for r in line.rewards() {
            let key = (
                line.episode(),
                u64::from(r.agent.0),
                r.dimension.to_string(),
            );
            *totals.entry(key).or_default() += r.value;
        }
    }
    (lines, totals)
}

/// Per (episode, agent, dimension), the sum of the lines' `field` values.
fn sums(lines: &[Value], field: &str) -> Sums {
    let mut out = Sums::new();
    for l in lines {
        let (e, a) = (l["episode"].as_u64().unwrap(), l["agent"].as_u64().unwrap());
        for (dim, v) in l[field].as_object().unwrap() {
            *out.entry((e, a, dim.clone())).or_default() += v.as_f64().unwrap();
        }
    }
    out
}

/// Every agent that spoke: its attributed and exact values sum to its transcript total.
fn assert_sums_to_scores(game: &str, lines: &[Value], totals: &Sums) {
    let (given, exact) = (sums(lines, "attributed"), sums(lines, "exact"));
    assert!(!given.is_empty(), "{game}: nothing attributed");
    for (key, value) in &given {
        let total = totals.get(key).copied().unwrap_or(0.0);
        assert!(
            (value - total).abs() < 1e-9,
            "{game} {key:?}: {value} vs {total}"
        );
        assert!(
            (exact[key] - total).abs() < 1e-9,
            "{game} {key:?}: exact {} vs {total}",
            exact[key]
        );
    }
}

#[test]
fn every_method_sums_to_each_agents_episode_score_on_every_game() {
    let games = [
        ("donor_cultural_evolution", 3),
        ("image_scoring", 3),
        ("among_us", 4),
        ("mafia", 6),
        ("negotiation", 12),
    ];
    for (game, episodes) in games {
        for method in ["\"uniform\"", "\"exact\""] {
            let s = scenario(game, episodes, &[&format!("method={method}")]);
            let (lines, totals) = attributed(&s);
            assert_sums_to_scores(game, &lines, &totals);
        }
    }
    let s = scenario(
        "negotiation",
        12,
        &["method={ onnx = { model = \"../assets/policies/negotiation_weights.onnx\" } }"],
    );
    let (lines, totals) = attributed(&s);
    assert_sums_to_scores("negotiation (onnx)", &lines, &totals);
}

#[test]
fn exact_is_the_ledgers_attribution_and_uniform_gives_equal_shares() {
    // In the donor game a donor's reputation changes only through its own acts: each utterance's
    // exact value is the entry the transcript gives it.
    let s = scenario("donor_cultural_evolution", 2, &["method=\"exact\""]);
    let dir = tempfile::tempdir().unwrap();
    run(&s, dir.path(), |_| {}).unwrap();
    let transcript = std::fs::read_to_string(dir.path().join("transcript.jsonl")).unwrap();
    let mut entries = BTreeMap::<(u64, u64), f64>::new();
    for line in transcript.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let Some(id) = v["id"].as_u64() else { continue };
        for r in v["rewards"].as_array().unwrap() {
            if r["dimension"] == "reputation" && r["agent"] == v["speaker"] {
                *entries
                    .entry((v["episode"].as_u64().unwrap(), id))
                    .or_default() += r["value"].as_f64().unwrap();
            }
        }
    }
    let attribution = std::fs::read_to_string(dir.path().join("attribution.jsonl")).unwrap();
    let mut checked = 0;
    for line in attribution.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let key = (
            v["episode"].as_u64().unwrap(),
            v["utterance"].as_u64().unwrap(),
        );
        let exact = v["exact"]["reputation"].as_f64().unwrap();
        assert_eq!(exact, entries.get(&key).copied().unwrap_or(0.0), "{key:?}");
        assert_eq!(v["attributed"]["reputation"], v["exact"]["reputation"]);
        checked += usize::from(exact != 0.0);
    }
    assert!(
        checked > 50,
        "only {checked} utterances changed a reputation"
    );

    let s = scenario(
        "negotiation",
        6,
        &["method=\"uniform\"", "dimensions=[\"goal\"]"],
    );
    let (lines, _) = attributed(&s);
    let mut shares = BTreeMap::<(u64, u64), Vec<f64>>::new();
    for l in &lines {
        assert_eq!(l["attributed"].as_object().unwrap().len(), 1, "goal only");
        let key = (l["episode"].as_u64().unwrap(), l["agent"].as_u64().unwrap());
        shares
            .entry(key)
            .or_default()
            .push(l["attributed"]["goal"].as_f64().unwrap());
    }
    for (key, s) in shares {
        assert!(s.iter().all(|x| (x - s[0]).abs() < 1e-12), "{key:?}: {s:?}");
    }
}

#[test]
fn an_onnx_model_weighs_utterances_by_what_the_speaker_saw() {
    let s = scenario(
        "negotiation",
        8,
        &[
            "method={ onnx = { model = \"../assets/policies/negotiation_weights.onnx\" } }",
            "dimensions=[\"believability\"]",
        ],
    );
    let (lines, _) = attributed(&s);
    // The model is relu(obs · w + 0.1) (assets/policies/make_policies.py): within an agent's
    // episode, shares are in proportion to it; utterances seen in different situations differ.
    let mut by_agent = BTreeMap::<(u64, u64), Vec<(Vec<f64>, f64)>>::new();
    for l in &lines {
        let key = (l["episode"].as_u64().unwrap(), l["agent"].as_u64().unwrap());
        let obs = (l["observation"].as_array().unwrap().iter())
            .map(|x| x.as_f64().unwrap())
            .collect();
        let share = l["attributed"]["believability"].as_f64().unwrap();
        by_agent.entry(key).or_default().push((obs, share));
    }
    let unequal = by_agent
        .values()
        .filter(|u| u.len() > 1 && u.iter().any(|(_, s)| (s - u[0].1).abs() > 1e-6))
        .count();
    assert!(unequal > 0, "the model's weights never differed");
    // Equal observations get equal shares.
    for u in by_agent.values() {
        for (a, b) in u.iter().zip(u.iter().skip(1)) {
            if a.0 == b.0 {
                assert!((a.1 - b.1).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn bad_attribution_settings_are_refused_with_their_key() {
    let base = "[scenario]\nname = \"s\"\n[game.negotiation]\n[[agents]]\nstrategy = \"fair\"\n\
                count = 2\n[attribution]\n";
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/s.toml");
    let refused = |settings: &str| {
        Scenario::parse(&format!("{base}{settings}"), &dir)
            .unwrap_err()
            .to_string()
    };
    let cases = [
        (
            "method = \"uniform\"\ndimensions = [\"charm\"]",
            "no reward dimension `charm`",
        ),
        (
            "method = \"uniform\"\ndimensions = [\"goal\", \"goal\"]",
            "names `goal` twice",
        ),
        (
            "method = \"uniform\"\ndimensions = []",
            "expected at least one",
        ),
        ("method = \"fair\"", "unknown variant `fair`"),
        ("dimensions = [\"goal\"]", "missing field `method`"),
        (
            "method = { onnx = { model = \"../assets/policies/invalid/weights_of_three.onnx\" } }",
            "expected shape [batch, 1] or [batch, 7]",
        ),
        (
            "method = { onnx = { model = \"missing.onnx\" } }",
            "cannot read the model",
        ),
        (
            // A policy is not a weight model.
            "method = { onnx = { model = \"../assets/policies/negotiation_linear.onnx\" } }",
            "found [batch, 149]",
        ),
    ];
    for (settings, expected) in cases {
        let message = refused(settings);
        assert!(message.contains(expected), "{settings}: {message}");
        assert!(
            message.starts_with(&format!("{}:", dir.display())),
            "{message}"
        );
    }
}

#[test]
fn attribution_is_the_same_whatever_the_thread_count() {
    let s = scenario(
        "negotiation",
        6,
        &["method={ onnx = { model = \"../assets/policies/negotiation_weights.onnx\" } }"],
    );
    let output = |threads: usize| {
        let dir = tempfile::tempdir().unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| run(&s, dir.path(), |_| {}).unwrap());
        ["attribution.jsonl", "summary.json"].map(|f| std::fs::read(dir.path().join(f)).unwrap())
    };
    assert!(output(1) == output(2));
}
