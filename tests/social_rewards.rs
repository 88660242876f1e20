//! Social preferences from a scenario (`[[agents]] social`): θ = 0 is the selfish run byte for
//! byte; utilitarian agents on a complete graph all earn the mean reward; a bad angle is refused
//! with its key.

use socium::scenario::{Scenario, run};
use std::path::Path;

fn donor(social: &str) -> Scenario {
    let text = format!(
        "[scenario]\nname = \"s\"\nseed = 3\nepisodes = 3\n[game.donor_cultural]\nrounds = 6\n\
         [[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n{social}\n\
         [[agents]]\nstrategy = \"alld\"\ncount = 2\n{social}\n"
    );
    Scenario::parse(&text, Path::new("s.toml")).unwrap()
}

fn outputs(s: &Scenario) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    run(s, dir.path(), |_| {}).unwrap();
    ["transcript.jsonl", "metrics.csv", "summary.json"]
        .iter()
        .map(|f| std::fs::read(dir.path().join(f)).unwrap())
        .collect()
}

#[test]
fn an_svo_of_zero_degrees_is_the_selfish_run() {
    assert!(outputs(&donor("")) == outputs(&donor("social = { svo = { angle = 0 } }")));
}

#[test]
fn utilitarian_agents_share_one_return_and_raw_rewards_stay_their_own() {
    let selfish = donor("");
    let shared = donor("social = \"utilitarian\"");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        run(&selfish, &dir.path().join("a"), |_| {}).unwrap(),
        run(&shared, &dir.path().join("b"), |_| {}).unwrap(),
    );
    // Every agent's return is the mean of all: the two groups' mean returns are equal ...
    let (r0, r1) = (b.groups[0].mean_return, b.groups[1].mean_return);
    assert!((r0 - r1).abs() < 1e-9, "{r0} vs {r1}");
    // ... and equal to the selfish run's mean over all agents (4 reciprocators, 2 defectors).
    let mean = (4.0 * a.groups[0].mean_return + 2.0 * a.groups[1].mean_return) / 6.0;
    assert!((r0 - mean).abs() < 1e-6, "{r0} vs {mean}");
    // The raw rewards (the truth) are each agent's own.
    assert_eq!(a.groups[0].mean_rewards, b.groups[0].mean_rewards);
    assert_ne!(a.groups[0].mean_return, b.groups[0].mean_return);
}

#[test]
fn an_angle_out_of_range_is_refused_with_its_key() {
    let text = "[scenario]\nname = \"s\"\n[game.repeated]\n[[agents]]\nstrategy = \"tft\"\n\
                count = 2\nsocial = { svo = { angle = 200 } }\n";
    let err = Scenario::parse(text, Path::new("s.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("agents[0].social.svo.angle")
            && err.contains("expected an angle in degrees in [−180, 180], found 200"),
        "{err}"
    );
}
