//! A game that moves one of the kernel's components out of its env stops the process. Those
//! components hold the env's windows into the rows the caller reads (`buffers.rs`), and a window
//! written on another thread while the rows are read would race with the reader; so after every
//! run of game code the kernel counts them, and aborts where one is missing, even when the game
//! panicked. Each case runs the ignored test `leaky_game` in a child process.
#![cfg(unix)]

mod common;

use bevy_ecs::prelude::*;
use common::Toy;
use socium_core::{GameBuilder, Observations, Phase, Space, TurnOrder};
use std::{
    os::unix::process::ExitStatusExt,
    process::Command,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

/// Which leak the child's game commits.
const HOW: &str = "SOCIUM_LEAKY_GAME";

/// Where a leaking game keeps what it took, out of its World.
static TAKEN: Mutex<Vec<Observations>> = Mutex::new(Vec::new());
static WORLDS: Mutex<Vec<World>> = Mutex::new(Vec::new());

fn env_of_observations(world: &mut World) -> Entity {
    let mut envs = world.query_filtered::<Entity, With<Observations>>();
    envs.iter(world).next().expect("an env")
}

/// Takes env 0's observations and keeps them.
fn take_observations(world: &mut World) {
    let env = env_of_observations(world);
    let taken = world.entity_mut(env).take::<Observations>().expect("taken");
    TAKEN.lock().unwrap().push(taken);
}

/// Takes the observations and puts them back on another entity of the same World.
fn move_observations(world: &mut World) {
    let env = env_of_observations(world);
    let taken = world.entity_mut(env).take::<Observations>().expect("taken");
    world.spawn(taken);
}

/// Takes the whole World, then panics.
fn take_world(world: &mut World) {
    WORLDS.lock().unwrap().push(std::mem::take(world));
    panic!("the World is gone");
}

fn panics(_: &mut World) {
    panic!("an ordinary bug");
}

#[test]
#[ignore = "run in a child process by the tests of this file"]
fn leaky_game() {
    let system = match std::env::var(HOW).as_deref() {
        Ok("take") => take_observations,
        Ok("move") => move_observations,
        Ok("world") => take_world,
        Ok("panic") => panics,
        other => panic!("{HOW} is {other:?}"),
    };
    // One game: its `build` is a plain fn, so the system comes through a static.
    static SYSTEM: Mutex<Option<fn(&mut World)>> = Mutex::new(None);
    *SYSTEM.lock().unwrap() = Some(system);
    // The block's first run (its reset) finds every window home, so the second, the step's,
    // is checked where the kernel looks first.
    fn on_the_second_run(world: &mut World) {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        if RUNS.fetch_add(1, Ordering::Relaxed) == 1 {
            SYSTEM.lock().unwrap().expect("set above")(world);
        }
    }
    fn build(game: &mut GameBuilder) {
        game.add_systems(Phase::Resolve, on_the_second_run);
    }
    let toy = Toy {
        action: Space::Discrete { n: 2 },
        order: TurnOrder::Simultaneous,
        build,
    };
    let mut sim = common::sim(toy, 2);
    sim.step(&[0.0, 1.0]).expect("a legal step");
}

/// Runs `leaky_game` with `how`: its exit status and its standard error.
fn child(how: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["leaky_game", "--exact", "--ignored", "--nocapture"])
        .env(HOW, how)
        .output()
        .expect("the child runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SIGABRT: i32 = 6;

#[test]
fn a_game_that_keeps_a_kernel_component_stops_the_process() {
    let (status, stderr) = child("take");
    assert_eq!(status.signal(), Some(SIGABRT), "{stderr}");
    assert!(
        stderr.contains("a game moved the kernel's `Observations` component out of its env: a block of 1 envs holds 0"),
        "{stderr}"
    );
}

#[test]
fn a_game_that_takes_the_world_stops_the_process_though_it_panicked() {
    let (status, stderr) = child("world");
    assert_eq!(status.signal(), Some(SIGABRT), "{stderr}");
    assert!(stderr.contains("the World is gone"), "{stderr}");
    assert!(stderr.contains("holds 0"), "{stderr}");
}

#[test]
fn a_component_moved_within_the_world_or_a_panic_does_not_stop_the_process() {
    let (status, stderr) = child("move");
    assert!(status.success(), "{stderr}");
    let (status, stderr) = child("panic");
    assert_eq!(status.signal(), None, "{stderr}");
    assert_eq!(status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("an ordinary bug"), "{stderr}");
    assert!(!stderr.contains("moved the kernel's"), "{stderr}");
}
