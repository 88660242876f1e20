//! A game's system that defers work (`Commands`) has it applied by the end of every run of its
//! schedule, even as the last system of the run: the kernel leaves the executor's final
//! application of deferred buffers on in each schedule (reset, step) where a system has any
//! (`Schedules::initialize`), and off, to save its cost, where none has.

use bevy_ecs::prelude::*;
use socium_core::{
    AgentSpec, Clock, Controller, DimensionInfo, GameBuilder, MetricInfo, Named, Phase, Resetting,
    Rules, Sim, SimConfig, Social, Space, StrategyInfo,
};

/// The step an env's `mark` system last saw, inserted through `Commands`.
#[derive(Component, Debug, PartialEq)]
struct Marked(u32);

/// The episode an env's `mark_reset` system last saw, inserted through `Commands`.
#[derive(Component, Debug, PartialEq)]
struct MarkedReset(u64);

/// A game of nothing but a system that marks each env in `Observe`, and one that marks each env
/// reset in `Reset`. Its actions have no masks,
/// so no kernel system runs after `Observe` (`forbid_idle_actions` runs only where there are
/// masks), and no sync point follows `mark` within the run.
struct Marking;

static DIMENSIONS: [DimensionInfo; 1] = [DimensionInfo {
    name: "nothing",
    summary: "always 0",
    default_weight: 1.0,
}];

impl Rules for Marking {
    fn observation_space(&self, _agents: usize) -> Space {
        Space::uniform_box(1, 0.0, 1.0)
    }

    fn action_space(&self, _agents: usize) -> Space {
        Space::uniform_box(1, 0.0, 1.0)
    }

    fn reward_dimensions(&self) -> &'static [DimensionInfo] {
        &DIMENSIONS
    }

    fn strategies(&self) -> &'static [StrategyInfo] {
        &[]
    }

    fn metrics(&self) -> &'static [MetricInfo] {
        &[]
    }

    fn build(&self, game: &mut GameBuilder) {
        game.add_systems(Phase::Observe, mark)
            .add_systems(Phase::Reset, mark_reset);
    }
}

fn mark(mut commands: Commands, envs: Query<(Entity, &Clock)>) {
    for (env, clock) in &envs {
        commands.entity(env).insert(Marked(clock.step()));
    }
}

fn mark_reset(mut commands: Commands, envs: Query<(Entity, &Clock), Resetting>) {
    for (env, clock) in &envs {
        commands.entity(env).insert(MarkedReset(clock.episode()));
    }
}

#[test]
fn a_command_of_the_last_system_is_applied_within_the_run() {
    assert_eq!(
        Space::uniform_box(1, 0.0, 1.0).mask_dim(),
        0,
        "no masks, no kernel system after Observe"
    );
    let game = Named::new("marking", Marking);
    let agents = (0..2)
        .map(|_| AgentSpec {
            controller: Controller::External,
            label: "external".into(),
            social: Social::default(),
        })
        .collect();
    let mut sim = Sim::new(&game, SimConfig::new(&game, agents, 1)).expect("the game builds");
    assert_eq!(
        sim.env().get::<Marked>(),
        Some(&Marked(0)),
        "after the reset"
    );
    sim.step(&[0.5, 0.5]).expect("actions fit");
    assert_eq!(sim.env().get::<Marked>(), Some(&Marked(1)), "after a step");
    assert_eq!(sim.env().get::<MarkedReset>(), Some(&MarkedReset(0)));
    sim.reset(None);
    assert_eq!(
        sim.env().get::<MarkedReset>(),
        Some(&MarkedReset(1)),
        "after a reset continuing the streams"
    );
}
