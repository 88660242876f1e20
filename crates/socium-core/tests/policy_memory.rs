//! A policy that remembers (`Policy::remembers`) reads, at every pass, what it last kept for each
//! row's agent in that row's env through `Note::Remember` since the env's last reset: the memory
//! follows its env and agent across the blocks of a VecEnv, whatever rows the envs stage, and a
//! reset empties it, by hand or at an episode's end.

mod common;

use common::Toy;
use socium_core::{
    AgentId, AgentSpec, Controller, GameBuilder, Named, Note, Policy, PolicyBatch,
    PolicyController, PolicyError, Selection, Sim, SimConfig, Social, Space, TurnOrder, VecEnv,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Remembers, for every row, the marks of its env, agent and passes so far (each pass adds its
/// own), and refuses the pass when a row's memory is not what it kept last for that env and
/// agent since `kept` was last emptied: by the test,
/// or every `episode` passes (the envs' episodes end together, and the steps that reset them
/// stage no row, so they make no pass).
#[derive(Default)]
struct Diary {
    kept: Mutex<HashMap<(usize, AgentId), String>>,
    passes: AtomicUsize,
    /// Passes an episode (0: episodes end only when the test resets).
    episode: usize,
}

impl Policy for Diary {
    fn name(&self) -> &str {
        "diary"
    }

    fn extras(&self) -> &[(String, usize)] {
        &[]
    }

    fn remembers(&self) -> bool {
        true
    }

    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), PolicyError> {
        let pass = self.passes.fetch_add(1, Ordering::SeqCst);
        let mut kept = self.kept.lock().unwrap();
        if self.episode > 0 && pass.is_multiple_of(self.episode) {
            kept.clear();
        }
        for (e, rows) in batch.offsets.windows(2).enumerate() {
            for r in rows[0]..rows[1] {
                let (a, _) = batch.members[r];
                let entry = kept.entry((e, a)).or_default();
                if batch.memory[r] != entry.as_str() {
                    let memory = batch.memory[r];
                    return Err(format!("env {e}, {a}: memory {memory:?}, kept {entry:?}").into());
                }
                entry.push_str(&format!("{e}.{}.{pass};", a.0));
                batch.notes.push((r, Note::Remember(entry.clone())));
            }
        }
        batch.head.fill(0.0);
        Ok(())
    }
}

fn game(order: TurnOrder) -> Named<Toy> {
    Named::new(
        "toy",
        Toy {
            action: Space::Discrete { n: 2 },
            order,
            build: |_: &mut GameBuilder| {},
        },
    )
}

/// Three agents played by `diary`.
fn config(game: &Named<Toy>, diary: &Arc<Diary>) -> SimConfig {
    let policy: Arc<dyn Policy> = diary.clone();
    let agent = || AgentSpec {
        controller: Controller::Policy(PolicyController {
            policy: policy.clone(),
            selection: Selection::Argmax,
        }),
        label: "diary".into(),
        social: Social::default(),
    };
    SimConfig::new(game, vec![agent(), agent(), agent()], 3)
}

#[test]
fn memory_follows_its_env_and_agent_and_a_reset_empties_it() {
    let game = game(TurnOrder::Simultaneous);
    let (diary, alone) = (Arc::new(Diary::default()), Arc::new(Diary::default()));
    // At least two blocks a thread: the rows of later blocks' envs come after earlier ones'.
    let envs = 64;
    let seeds = VecEnv::seeds(1, envs);
    let mut vec = VecEnv::new(&game, &config(&game, &diary), &seeds).unwrap();
    let mut sim = Sim::new(&game, config(&game, &alone)).unwrap();
    for round in 0..2 {
        for step in 0..4 {
            vec.step(&vec![0.0; envs * 3])
                .unwrap_or_else(|e| panic!("{round}.{step}: {e}"));
            sim.step(&[0.0; 3])
                .unwrap_or_else(|e| panic!("{round}.{step}: {e}"));
        }
        let memory = sim.env().policy_extras().memory(AgentId(2)).to_owned();
        assert_eq!(memory.matches(';').count(), 4, "{memory}");
        vec.reset(None).unwrap();
        sim.reset(None);
        diary.kept.lock().unwrap().clear();
        alone.kept.lock().unwrap().clear();
        assert_eq!(sim.env().policy_extras().memory(AgentId(2)), "");
    }
}

/// One agent acts a step (round robin), episodes end after 4 steps and the VecEnv resets them
/// itself: each agent's memory holds its own turns of the episode, and none of the last.
#[test]
fn memory_keeps_each_agents_turns_and_an_episodes_end_empties_it() {
    let game = game(TurnOrder::RoundRobin);
    let diary = Arc::new(Diary {
        episode: 4,
        ..Diary::default()
    });
    let envs = 64;
    let mut config = config(&game, &diary);
    config.max_steps = Some(4);
    let mut vec = VecEnv::new(&game, &config, &VecEnv::seeds(2, envs)).unwrap();
    // Three episodes, and the steps that reset them.
    for step in 0..14 {
        vec.step(&vec![0.0; envs * 3])
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    assert_eq!(diary.passes.load(Ordering::SeqCst), 12);
    // Agent 0 acted at the episode's first and last steps, 1 and 2 once each.
    let marks = |a: u32| {
        vec.env(9)
            .policy_extras()
            .memory(AgentId(a))
            .matches(';')
            .count()
    };
    assert_eq!((marks(0), marks(1), marks(2)), (2, 1, 1));
}
