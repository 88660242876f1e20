//! Every reward entry names an utterance of its step, and the per-dimension vector adds up, with
//! the scenario's weights and transforms, to the scalar reward.

use socium::core::{Sim, Transform};
use socium::scenario::Scenario;
use std::path::Path;

fn sim(toml: &str) -> Sim {
    Scenario::parse(toml, Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .sim()
        .unwrap()
}

fn transform(t: Transform, x: f64, window: &[f64]) -> f64 {
    match t {
        Transform::Identity => x,
        Transform::Sigmoid { scale } => 2.0 / (1.0 + (-x / scale.get()).exp()) - 1.0,
        Transform::MinMax { .. } => {
            let lo = window.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = window.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if hi > lo { (x - lo) / (hi - lo) } else { 0.0 }
        }
    }
}

fn check_attribution_and_sums(mut sim: Sim, steps: usize) {
    let n = sim.agent_count();
    let dims = sim.env().reward_dimensions().to_vec();
    let d = dims.len();
    let actions = vec![0.0; n * sim.spaces().action.flat_dim()];
    let mut history: Vec<Vec<f64>> = vec![Vec::new(); d];
    let mut entries_seen = 0;
    for _ in 0..steps {
        if sim.env().is_done() {
            sim.reset(None);
            history.iter_mut().for_each(Vec::clear);
        }
        sim.step(&actions).unwrap();
        let mut raw = vec![0.0; n * d];
        for e in sim.env().reward_entries() {
            assert!(
                sim.env().utterances().iter().any(|u| u.id == e.utterance),
                "entry {e:?} names no utterance of its step"
            );
            raw[e.agent.index() * d + e.dimension.0 as usize] += e.value;
            entries_seen += 1;
        }
        for k in 0..d {
            history[k].extend((0..n).map(|a| raw[a * d + k]));
            if let Transform::MinMax { window } = dims[k].transform {
                let keep = window.get() as usize * n;
                let len = history[k].len();
                history[k].drain(..len.saturating_sub(keep));
            }
        }
        for a in 0..n {
            let mut total = 0.0;
            for (k, dim) in dims.iter().enumerate() {
                let c = sim.env().reward_components()[a * d + k] as f64;
                let expected = transform(dim.transform, raw[a * d + k], &history[k]);
                assert!(
                    (c - expected).abs() < 1e-4 * (1.0 + expected.abs()),
                    "{}: {c} vs {expected}",
                    dim.name
                );
                total += dim.weight * c;
            }
            let r = sim.env().rewards()[a] as f64;
            assert!(
                (r - total).abs() < 1e-4 * (1.0 + total.abs()),
                "agent {a}: {r} vs {total}"
            );
        }
    }
    assert!(entries_seen > 0);
}

#[test]
fn rewards_are_attributed_and_add_up_in_every_game() {
    let weights = "[rewards.payoff]\nweight = 0.7\ntransform = { sigmoid = { scale = 4.0 } }\n\
                   [rewards.reputation]\nweight = 0.3\ntransform = { min_max = { window = 3 } }\n";
    check_attribution_and_sums(
        sim(&format!(
            "[scenario]\nname = \"c\"\n[game.donor_cultural]\npunishment = true\nrefusal = true\n\
             [[agents]]\ncount = 4\nstrategy = \"reciprocal\"\n[[agents]]\ncount = 2\n\
             strategy = \"punisher\"\n[[agents]]\ncount = 2\nstrategy = \"refuser\"\n\
             [[agents]]\ncount = 2\ncontroller = \"random\"\n{weights}"
        )),
        60,
    );
    check_attribution_and_sums(
        sim(&format!(
            "[scenario]\nname = \"i\"\n[game.image_scoring]\nobservation = 0.3\n\
             [[agents]]\ncount = 20\nstrategy = \"discriminator\"\n[[agents]]\ncount = 5\n\
             controller = \"random\"\n{weights}"
        )),
        25,
    );
    check_attribution_and_sums(
        sim(&format!(
            "[scenario]\nname = \"n\"\n[game.norms]\nrounds = 10\nassessment = \"private\"\n\
             observation = 0.5\nassessment_error = 0.1\nexecution_error = 0.1\n\
             [[agents]]\ncount = 20\nstrategy = \"apologetic_discriminator\"\n{weights}"
        )),
        25,
    );
    check_attribution_and_sums(
        sim(
            "[scenario]\nname = \"r\"\n[game.repeated]\nturns = 5\nnoise = 0.1\n\
             [[agents]]\nstrategy = \"gtft\"\n[[agents]]\nstrategy = \"wsls\"\n\
             [[agents]]\ncontroller = \"random\"\n\
             [rewards.payoff]\nweight = 2.0\ntransform = { min_max = { window = 2 } }\n",
        ),
        30,
    );
}
