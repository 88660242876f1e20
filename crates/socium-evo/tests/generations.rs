//! A generation plays its episodes and sums their payoffs; a pool of ONNX policies evolves like
//! the strategies it encodes.

use socium_evo::run_scenario;
use socium_scenario::Scenario;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// benches/moran_tft_alld.toml (5 TFT, 5 ALLD, 50 turns, 9 episodes a generation) with its tit
/// for tat written as `tft`.
fn moran(tft: &str, generations: u32) -> Scenario {
    let file = root().join("benches/moran_tft_alld.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("strategy = \"tft\"", tft)
        .replace(
            "generations = 1000",
            &format!("generations = {generations}"),
        );
    Scenario::parse(&text, &file).unwrap()
}

#[test]
fn a_generation_of_nine_episodes_plays_every_pair_once() {
    // Per 50-turn match (T = 5, R = 3, P = 1, S = 0): TFT–TFT 150 each; TFT–ALLD 49 and 54
    // (the defector wins the first turn, then both defect); ALLD–ALLD 50 each. Over every pair,
    // a TFT scores 4·150 + 5·49 = 845 and an ALLD 5·54 + 4·50 = 470: 657.5 on average.
    let run = run_scenario(&moran("strategy = \"tft\"", 3), 0, 7, None, &|| ()).unwrap();
    assert_eq!(run.generations[0].counts, vec![5, 5]);
    assert_eq!(run.generations[0].mean_payoff, 657.5);
    // One birth–death update a generation: a type gains or loses at most one individual.
    for pair in run.generations.windows(2) {
        assert!(pair[0].counts[0].abs_diff(pair[1].counts[0]) <= 1);
    }
    assert_eq!(
        run.generations[0].reputation, None,
        "repeated games have no reputation"
    );
}

#[test]
fn a_pool_of_onnx_policies_evolves_exactly_like_the_strategies_they_encode() {
    // assets/policies/tft_linear.onnx is tit for tat as one linear layer: the evolving
    // population, generation by generation, is the same as with the scripted strategy.
    let onnx = moran("policy = \"../assets/policies/tft_linear.onnx\"", 60);
    let scripted = moran("strategy = \"tft\"", 60);
    for run in 0..3 {
        let a = run_scenario(&onnx, run, 11, None, &|| ()).unwrap();
        let b = run_scenario(&scripted, run, 11, None, &|| ()).unwrap();
        assert_eq!(a.labels, vec!["tft_linear.onnx", "alld"]);
        assert_eq!(a.generations, b.generations, "run {run}");
    }
}
