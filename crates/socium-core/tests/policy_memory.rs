//! A policy that remembers (`Policy::remembers`) reads, at every pass, what it kept for each row's
//! agent in that row's env through `Note::Remember` since the env's last reset: the memory
//! follows its env and agent across the blocks of a VecEnv, and a reset empties it.

mod common;

use common::Toy;
use socium_core::{
    AgentId, AgentSpec, Controller, GameBuilder, Named, Note, Policy, PolicyBatch,
    PolicyController, Selection, Sim, SimConfig, Social, Space, TurnOrder, VecEnv,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Remembers a mark of its env, agent and pass for every row, and refuses the pass when a row's
/// memory is not what it kept for that env and agent since `kept` was last emptied.
#[derive(Default)]
struct Diary {
    kept: Mutex<HashMap<(usize, AgentId), String>>,
    passes: AtomicUsize,
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

    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), String> {
        let pass = self.passes.fetch_add(1, Ordering::SeqCst);
        let mut kept = self.kept.lock().unwrap();
        for (e, rows) in batch.offsets.windows(2).enumerate() {
            for r in rows[0]..rows[1] {
                let (a, _) = batch.members[r];
                let entry = kept.entry((e, a)).or_default();
                if batch.memory[r] != entry.as_str() {
                    let memory = batch.memory[r];
                    return Err(format!("env {e}, {a}: memory {memory:?}, kept {entry:?}"));
                }
                let mark = format!("{e}.{}.{pass};", a.0);
                entry.push_str(&mark);
                batch.notes.push((r, Note::Remember(mark)));
            }
        }
        batch.head.fill(0.0);
        Ok(())
    }
}

fn game() -> Named<Toy> {
    Named::new(
        "toy",
        Toy {
            action: Space::Discrete { n: 2 },
            order: TurnOrder::Simultaneous,
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
    let game = game();
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
