//! A step refused because one policy failed moves nothing, whichever policy fails: the policies
//! before it in the step have not drawn from the envs' streams, so a retried step plays as if the
//! failure had never happened. A policy's note for a row its batch lacks is refused the same way.

mod common;

use common::Toy;
use socium_core::{
    AgentSpec, Controller, GameBuilder, Named, Note, Policy, PolicyBatch, PolicyController,
    PolicyError, Selection, Sim, SimConfig, Social, Space, TurnOrder, VecEnv,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Writes equal logits for every choice (a sampler then draws uniformly from its env's stream),
/// or fails while `fail` is set.
struct Flat {
    name: &'static str,
    fail: Arc<AtomicBool>,
}

impl Policy for Flat {
    fn name(&self) -> &str {
        self.name
    }

    fn extras(&self) -> &[(String, usize)] {
        &[]
    }

    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), PolicyError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("the server timed out".into());
        }
        batch.head.fill(0.0);
        Ok(())
    }
}

/// Four agents choosing among 8 acts: 0 and 1 sample from one policy, 2 and 3 take the argmax of
/// another, which fails while `fail` is set.
fn config(game: &Named<Toy>, fail: &Arc<AtomicBool>) -> SimConfig {
    let policy = |name, fail: &Arc<AtomicBool>, selection| {
        let policy: Arc<dyn Policy> = Arc::new(Flat {
            name,
            fail: fail.clone(),
        });
        move || AgentSpec {
            controller: Controller::Policy(PolicyController {
                policy: policy.clone(),
                selection,
            }),
            label: name.into(),
            social: Social::default(),
        }
    };
    let sampler = policy("sampler", &Arc::new(AtomicBool::new(false)), {
        Selection::Sample { temperature: 1.0 }
    });
    let failing = policy("failing", fail, Selection::Argmax);
    let agents = vec![sampler(), sampler(), failing(), failing()];
    SimConfig::new(game, agents, 3)
}

fn game() -> Named<Toy> {
    Named::new(
        "toy",
        Toy {
            action: Space::Discrete { n: 8 },
            order: TurnOrder::Simultaneous,
            build: |_: &mut GameBuilder| {},
        },
    )
}

#[test]
fn a_step_refused_by_a_later_policy_draws_nothing_for_an_earlier_one() {
    let game = game();
    let (never, sometimes) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let mut clean = Sim::new(&game, config(&game, &never)).unwrap();
    let mut retried = Sim::new(&game, config(&game, &sometimes)).unwrap();
    let mut clean_vec = VecEnv::new(&game, &config(&game, &never), &[5, 6, 7]).unwrap();
    let mut retried_vec = VecEnv::new(&game, &config(&game, &sometimes), &[5, 6, 7]).unwrap();
    let mut moves = Vec::new();
    for step in 0..30 {
        if step % 3 == 1 {
            sometimes.store(true, Ordering::SeqCst);
            let err = retried.step(&[0.0; 4]).unwrap_err();
            assert!(err.to_string().contains("the server timed out"), "{err}");
            assert!(retried_vec.step(&[0.0; 12]).is_err());
            sometimes.store(false, Ordering::SeqCst);
        }
        clean.step(&[0.0; 4]).unwrap();
        retried.step(&[0.0; 4]).unwrap();
        assert_eq!(
            retried.env().actions(),
            clean.env().actions(),
            "step {step}"
        );
        clean_vec.step(&[0.0; 12]).unwrap();
        retried_vec.step(&[0.0; 12]).unwrap();
        assert_eq!(retried_vec.outputs(), clean_vec.outputs(), "step {step}");
        moves.extend_from_slice(&clean.env().actions()[..2]);
    }
    // The samplers do sample: without the draws there would be nothing to disturb.
    assert!(moves.iter().any(|&m| m != moves[0]), "{moves:?}");
}

/// Two agents on `policy`, by argmax.
fn two_on(game: &Named<Toy>, policy: Arc<dyn Policy>) -> SimConfig {
    let agent = || AgentSpec {
        controller: Controller::Policy(PolicyController {
            policy: policy.clone(),
            selection: Selection::Argmax,
        }),
        label: policy.name().into(),
        social: Social::default(),
    };
    SimConfig::new(game, vec![agent(), agent()], 3)
}

/// Writes equal logits, and a fault for the row past its batch.
struct Stray;

impl Policy for Stray {
    fn name(&self) -> &str {
        "stray"
    }

    fn extras(&self) -> &[(String, usize)] {
        &[]
    }

    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), PolicyError> {
        batch.head.fill(0.0);
        batch
            .notes
            .push((batch.rows, Note::Fault("off by one".into())));
        Ok(())
    }
}

#[test]
fn a_note_past_the_batch_is_refused() {
    let game = game();
    let config = two_on(&game, Arc::new(Stray));
    let mut sim = Sim::new(&game, config.clone()).unwrap();
    let err = sim.step(&[0.0; 2]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy `stray` failed: it wrote a note for row 2 of a batch of 2 rows"
    );
    assert_eq!(
        sim.env().clock().step(),
        0,
        "the refused step moved nothing"
    );
    let mut vec_env = VecEnv::new(&game, &config, &[5, 6]).unwrap();
    let err = vec_env.step(&[0.0; 4]).unwrap_err();
    assert!(
        err.to_string().contains("row 4 of a batch of 4 rows"),
        "{err}"
    );
}

/// Fails its last row's decision.
struct LastRowFails;

impl Policy for LastRowFails {
    fn name(&self) -> &str {
        "last"
    }

    fn extras(&self) -> &[(String, usize)] {
        &[]
    }

    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), PolicyError> {
        Err(PolicyError::at_row(batch.rows - 1, "no answer"))
    }
}

#[test]
fn a_failed_row_names_its_env_and_agent() {
    let game = game();
    let config = two_on(&game, Arc::new(LastRowFails));
    let mut vec_env = VecEnv::new(&game, &config, &[5, 6, 7]).unwrap();
    let err = vec_env.step(&[0.0; 6]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "env 2: policy `last` failed: agent 1: no answer"
    );
}
