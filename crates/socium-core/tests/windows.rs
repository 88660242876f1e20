//! A game that moves one of the kernel's components out of its env stops the process. Those
//! components hold the env's windows into the rows the caller reads (`buffers.rs`), and a window
//! written on another thread while the rows are read would race with the reader; so after every
//! run of game code the kernel counts them, and aborts where one is missing, even when the game
//! panicked. Each case runs the ignored test `leaky_game` in a child process.
#![cfg(unix)]

mod common;

use bevy_ecs::{prelude::*, world::WorldId};
use common::Toy;
use socium_core::{GameBuilder, Observations, Phase, Space, TurnOrder};
use std::{
    os::unix::process::ExitStatusExt,
    process::{Command, Stdio},
    sync::{
        Barrier, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
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

/// Two Sims stepped at once, each giving its observations to the other's World.
fn swap_observations(world: &mut World) {
    static GIVEN: Mutex<Vec<(WorldId, Observations)>> = Mutex::new(Vec::new());
    static BOTH: Barrier = Barrier::new(2);
    let env = env_of_observations(world);
    let mine = world.entity_mut(env).take::<Observations>().expect("taken");
    GIVEN.lock().unwrap().push((world.id(), mine));
    BOTH.wait();
    let theirs = {
        let mut given = GIVEN.lock().unwrap();
        let k = given
            .iter()
            .position(|(w, _)| *w != world.id())
            .expect("the other's");
        given.remove(k).1
    };
    world.entity_mut(env).insert(theirs);
}

#[test]
#[ignore = "run in a child process by the tests of this file"]
fn leaky_game() {
    let how = std::env::var(HOW);
    let system = match how.as_deref() {
        Ok("take") => take_observations,
        Ok("move") => move_observations,
        Ok("world") => take_world,
        Ok("panic") => panics,
        Ok("swap") => swap_observations,
        other => panic!("{HOW} is {other:?}"),
    };
    // One game: its `build` is a plain fn, so the system comes through a static. It acts once
    // armed, after the Sims' first runs (their resets) found every window home: a step is then
    // checked where the kernel looks first.
    static SYSTEM: Mutex<Option<fn(&mut World)>> = Mutex::new(None);
    static ARMED: AtomicBool = AtomicBool::new(false);
    *SYSTEM.lock().unwrap() = Some(system);
    fn when_armed(world: &mut World) {
        if ARMED.load(Ordering::SeqCst) {
            let system = SYSTEM.lock().unwrap().expect("set above");
            system(world);
        }
    }
    fn build(game: &mut GameBuilder) {
        game.add_systems(Phase::Resolve, when_armed);
    }
    let toy = || Toy {
        action: Space::Discrete { n: 2 },
        order: TurnOrder::Simultaneous,
        build,
    };
    let sims = [common::sim(toy(), 2), common::sim(toy(), 2)];
    ARMED.store(true, Ordering::SeqCst);
    match how.as_deref() == Ok("swap") {
        true => std::thread::scope(|scope| {
            for mut sim in sims {
                scope.spawn(move || sim.step(&[0.0, 1.0]).expect("a legal step"));
            }
        }),
        false => {
            let [mut sim, _] = sims;
            sim.step(&[0.0, 1.0]).expect("a legal step");
        }
    }
}

/// Runs `leaky_game` with `how`: its exit status and its standard error.
fn child(how: &str) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["leaky_game", "--exact", "--ignored", "--nocapture"])
        .env(HOW, how)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the child runs");
    // A child that hangs (two Sims waiting on each other) fails the test, not the whole run.
    let start = Instant::now();
    while child.try_wait().expect("the child is waited on").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().expect("the child is killed");
            panic!("{how}: the child hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("the child's output");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `leaky_game` with `how`, which must abort the process saying `why`: its standard error.
fn aborts(how: &str, why: &str) -> String {
    const SIGABRT: i32 = 6;
    let (status, stderr) = child(how);
    assert_eq!(status.signal(), Some(SIGABRT), "{how}: {stderr}");
    assert!(stderr.contains(why), "{how}: {stderr}");
    stderr
}

#[test]
fn a_game_that_keeps_a_kernel_component_stops_the_process() {
    aborts(
        "take",
        "a game moved the kernel's `Observations` component out of its env: a block of 1 envs \
         holds 0",
    );
}

#[test]
fn a_game_that_takes_the_world_stops_the_process_though_it_panicked() {
    let stderr = aborts("world", "a game replaced its block's World");
    assert!(stderr.contains("the World is gone"), "{stderr}");
}

#[test]
fn a_game_that_carries_a_kernel_component_into_another_sims_world_stops_the_process() {
    aborts(
        "swap",
        "a game moved the kernel's `Observations` component into another World than its own",
    );
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
