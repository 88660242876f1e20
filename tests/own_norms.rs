//! Individual norms: `own_norm` players judge donors by a norm of their own (a strategy
//! parameter, so it can evolve), under private assessment.

use socium::core::Sim;
use socium::games::donor::indirect::{Norm, obs};
use socium::scenario::Scenario;
use std::path::Path;

fn sim(toml: &str) -> Sim {
    Scenario::parse(toml, Path::new("norms.toml"))
        .unwrap()
        .sim()
        .unwrap()
}

/// Plays the episode to its end, returning the transcript.
fn play(sim: &mut Sim) -> Vec<u8> {
    let zeros = vec![0.0; sim.agent_count()];
    while !sim.env().is_done() {
        sim.step(&zeros).unwrap();
    }
    sim.take_transcript()
}

#[test]
fn the_numbers_of_norms_are_their_tables() {
    assert_eq!(Norm::STERN_JUDGING.bits(), 153);
    for norm in Norm::LEADING_EIGHT
        .into_iter()
        .chain([Norm::SHUNNING, Norm::IMAGE_SCORING])
    {
        assert_eq!(Norm::from_bits(norm.bits()), norm);
    }
}

#[test]
fn own_stern_judging_plays_exactly_like_discriminators_under_stern_judging() {
    // Private assessment with errors and partial observation: every draw is the same, so the
    // two populations give the same transcript byte for byte.
    let game = "[scenario]\nname = \"n\"\nseed = 4\n[game.norms]\nrounds = 30\n\
                norm = \"stern_judging\"\nassessment = \"private\"\nobservation = 0.3\n\
                assessment_error = 0.02\nexecution_error = 0.02\n";
    let own = sim(&format!(
        "{game}[[agents]]\ncount = 20\nstrategy = \"own_norm\"\nparams = {{ norm = 153 }}\n\
         [[agents]]\ncount = 5\nstrategy = \"alld\"\n"
    ));
    let shared = sim(&format!(
        "{game}[[agents]]\ncount = 20\nstrategy = \"discriminator\"\n\
         [[agents]]\ncount = 5\nstrategy = \"alld\"\n"
    ));
    let (mut own, mut shared) = (own, shared);
    let (a, b) = (play(&mut own), play(&mut shared));
    assert!(!a.is_empty());
    assert!(a == b, "the transcripts differ");
    assert_eq!(own.env().episode_returns(), shared.env().episode_returns());
}

#[test]
fn each_observer_judges_by_its_own_norm() {
    // Two players, full observation: one deems every act Good (norm 255), the other every act
    // Bad (norm 0); after one round each sees itself (and the other) accordingly.
    let mut sim = sim(
        "[scenario]\nname = \"n\"\nseed = 1\n[game.norms]\nrounds = 2\nassessment = \"private\"\n\
         [[agents]]\nstrategy = \"own_norm\"\nparams = { norm = 255 }\n\
         [[agents]]\nstrategy = \"own_norm\"\nparams = { norm = 0 }\n",
    );
    sim.step(&[0.0; 2]).unwrap();
    let dim = sim.spaces().observation.flat_dim();
    let own_view = |a: usize| sim.env().observations()[a * dim + obs::OWN_REPUTATION];
    assert_eq!((own_view(0), own_view(1)), (1.0, 0.0));
    // Each donates to the other every round; each sees the other by its own norm.
    let seen = |a: usize| sim.env().observations()[a * dim + obs::RECIPIENT_REPUTATION];
    assert_eq!(sim.env().observations()[dim + obs::DONOR], 1.0);
    assert_eq!((seen(0), seen(1)), (1.0, 0.0));
}

#[test]
fn own_norms_need_private_assessment() {
    let err = Scenario::parse(
        "[scenario]\nname = \"n\"\n[game.norms]\n[[agents]]\nstrategy = \"own_norm\"\ncount = 2\n",
        Path::new("norms.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("strategy `own_norm` judges by its own norm, which needs private assessment"),
        "{err}"
    );
}
