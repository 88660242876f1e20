//! A game's system that defers work (`Commands`) has it applied by the end of every run of its
//! schedule, even as the last system of the run: the kernel leaves the executor's final
//! application of deferred buffers on in each schedule (reset, step) where a system has any
//! (`Schedules::initialize`), and off, to save its cost, where none has.

mod common;

use bevy_ecs::prelude::*;
use common::Toy;
use socium_core::{Clock, GameBuilder, Phase, Resetting, Space, TurnOrder};

/// The step an env's `mark` system last saw, inserted through `Commands`.
#[derive(Component, Debug, PartialEq)]
struct Marked(u32);

/// The episode an env's `mark_reset` system last saw, inserted through `Commands`.
#[derive(Component, Debug, PartialEq)]
struct MarkedReset(u64);

/// A game of nothing but a system that marks each env in `Observe`, and one that marks each env
/// reset in `Reset`. Its actions have no masks, so no kernel system runs after `Observe`, and no
/// sync point follows `mark` within the run.
fn marking(game: &mut GameBuilder) {
    game.add_systems(Phase::Observe, mark)
        .add_systems(Phase::Reset, mark_reset);
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
    let mut sim = common::sim(
        Toy {
            action: Space::uniform_box(1, 0.0, 1.0),
            order: TurnOrder::Simultaneous,
            build: marking,
        },
        2,
    );
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
