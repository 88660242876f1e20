//! A text an external agent sends (`Sim::set_text`, `VecEnv::set_text`) is read by the step that
//! follows, in its env only, and by no later step; `clear_texts` drops it before that step.

mod common;

use bevy_ecs::prelude::*;
use common::Toy;
use socium_core::{
    AgentId, AgentSpec, Controller, GameBuilder, Named, Phase, Sim, SimConfig, Social, Space,
    Stepping, Texts, TurnOrder, VecEnv,
};

/// What each env's agent 0 said at the last step, as its `Resolve` read it.
#[derive(Component, Debug, Default)]
struct Heard(Option<String>);

fn hearing(game: &mut GameBuilder) {
    game.env_component(Heard::default)
        .add_systems(Phase::Resolve, hear);
}

fn hear(mut envs: Query<(&Texts, &mut Heard), Stepping>) {
    for (texts, heard) in &mut envs {
        heard.into_inner().0 = texts.get(AgentId(0)).map(str::to_owned);
    }
}

fn toy() -> Toy {
    Toy {
        action: Space::Tuple(vec![
            Space::uniform_box(1, 0.0, 1.0),
            Space::Text { max_chars: 10 },
        ]),
        order: TurnOrder::Simultaneous,
        build: hearing,
    }
}

fn heard(sim: &Sim) -> Option<&str> {
    sim.env().get::<Heard>().unwrap().0.as_deref()
}

#[test]
fn a_sims_text_lasts_one_step() {
    let mut sim = common::sim(toy(), 2);
    let actions = [0.5, 0.5];
    sim.set_text(AgentId(0), "hello").unwrap();
    sim.step(&actions).unwrap();
    assert_eq!(heard(&sim), Some("hello"));
    sim.step(&actions).unwrap();
    assert_eq!(heard(&sim), None, "a text is dropped after its step");
    sim.set_text(AgentId(0), "again").unwrap();
    sim.clear_texts();
    sim.step(&actions).unwrap();
    assert_eq!(heard(&sim), None, "a cleared text is never read");
}

#[test]
fn a_vec_envs_text_reaches_its_env_for_one_step() {
    let game = Named::new("toy", toy());
    let agents = (0..2)
        .map(|_| AgentSpec {
            controller: Controller::External,
            label: "external".into(),
            social: Social::default(),
        })
        .collect();
    let config = SimConfig::new(&game, agents, 1);
    let mut envs = VecEnv::new(&game, &config, &VecEnv::seeds(1, 3)).unwrap();
    envs.reset(None).unwrap();
    let actions = vec![0.5; 3 * 2];
    let heard = |envs: &VecEnv| -> Vec<Option<String>> {
        (0..3)
            .map(|i| envs.env(i).get::<Heard>().unwrap().0.clone())
            .collect()
    };
    envs.set_text(1, AgentId(0), "hello").unwrap();
    envs.step(&actions).unwrap();
    assert_eq!(heard(&envs), [None, Some("hello".to_owned()), None]);
    envs.step(&actions).unwrap();
    assert_eq!(heard(&envs), [None, None, None]);
    envs.set_text(2, AgentId(0), "again").unwrap();
    envs.clear_texts();
    envs.step(&actions).unwrap();
    assert_eq!(heard(&envs), [None, None, None]);
}
