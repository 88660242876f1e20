//! An idle agent may do nothing, whatever made it idle: its row of the action masks is all 0
//! after every reset and step. The kernel forbids the rows of agents idle by the turn order or
//! done as it starts the turn, and, in a game that chooses who acts (`TurnOrder::Chosen`), those
//! the game idles in `Observe`; a game that does not choose may not idle anyone.

mod common;

use bevy_ecs::prelude::*;
use common::Toy;
use socium_core::{AgentId, Done, GameBuilder, Phase, Resetting, Sim, Space, Turn, TurnOrder};

/// A game of three choices in which agent 0's episode ends at every reset; with `chooses`, the
/// game also idles agent 1 at every step (its turn order is then `Chosen`), and with `cheats`,
/// it idles agent 1 without saying that it chooses.
fn sim(chooses: bool, cheats: bool) -> Sim {
    fn ends(game: &mut GameBuilder) {
        game.add_systems(Phase::Reset, end_agent_0);
    }
    fn ends_and_idles(game: &mut GameBuilder) {
        game.add_systems(Phase::Reset, end_agent_0)
            .add_systems(Phase::Observe, idle_agent_1);
    }
    let toy = Toy {
        action: Space::Discrete { n: 3 },
        order: match chooses {
            true => TurnOrder::Chosen,
            false => TurnOrder::Simultaneous,
        },
        build: if chooses || cheats {
            ends_and_idles
        } else {
            ends
        },
    };
    common::sim(toy, 3)
}

fn end_agent_0(mut envs: Query<&mut Done, Resetting>) {
    for mut done in &mut envs {
        done.terminate(AgentId(0));
    }
}

fn idle_agent_1(mut envs: Query<&mut Turn>) {
    for mut turn in &mut envs {
        turn.set_acting(AgentId(1), false);
    }
}

/// The rows of the action masks, an agent's three entries each.
fn masks(sim: &Sim) -> Vec<Vec<u8>> {
    sim.env()
        .action_masks()
        .chunks_exact(3)
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn an_agent_done_or_idled_by_the_game_may_do_nothing() {
    for chooses in [false, true] {
        let mut sim = sim(chooses, false);
        let want = match chooses {
            false => vec![vec![0; 3], vec![1; 3], vec![1; 3]],
            true => vec![vec![0; 3], vec![0; 3], vec![1; 3]],
        };
        let acting = vec![false, !chooses, true];
        for step in 0..3 {
            assert_eq!(
                sim.env().acting(),
                acting,
                "chooses: {chooses}, step {step}"
            );
            assert_eq!(masks(&sim), want, "chooses: {chooses}, step {step}");
            sim.step(&[0.0, 0.0, 1.0]).expect("agent 2's act is legal");
        }
    }
}

#[test]
#[should_panic(expected = "declares `TurnOrder::Chosen`")]
fn a_game_that_idles_agents_without_choosing_turns_is_stopped() {
    sim(false, true);
}
