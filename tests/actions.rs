//! Actions from outside: each bad action is refused with its own error naming the agent, and the
//! Sim is unchanged after a refusal.

use socium::core::{
    AgentId, Sim, StepError, VecBuffers, VecEnv, VecStepError, space::ActionProblem,
};
use socium::scenario::Scenario;
use std::path::Path;

fn sim(toml: &str) -> Sim {
    Scenario::parse(toml, Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .sim()
        .unwrap()
}

fn snapshot(sim: &Sim) -> (Vec<f32>, Vec<u8>, Vec<bool>, u32, Vec<f64>) {
    (
        sim.env().observations().to_vec(),
        sim.env().action_masks().to_vec(),
        sim.env().acting().to_vec(),
        sim.env().clock().step(),
        sim.env().episode_returns().to_vec(),
    )
}

#[test]
fn bad_actions_are_refused_and_change_nothing() {
    // Agent 1 is external in a repeated game: actions are Discrete(2).
    let mut sim = sim("[scenario]\nname = \"x\"\n[game.repeated]\nturns = 3\n\
                       [[agents]]\nstrategy = \"tft\"\n[[agents]]\ncontroller = \"external\"\n");
    assert_eq!(sim.external_agents(), &[AgentId(1)]);
    let before = snapshot(&sim);
    let cases: [(&[f32], StepError); 4] = [
        (
            &[0.0],
            StepError::WrongShape {
                expected: 2,
                agents: 2,
                per_agent: 1,
                found: 1,
            },
        ),
        (
            &[0.0, 2.0],
            StepError::BadAction {
                agent: AgentId(1),
                problem: ActionProblem::OutOfRange {
                    index: 0,
                    value: 2.0,
                    low: 0.0,
                    high: 1.0,
                },
            },
        ),
        (
            &[0.0, 0.5],
            StepError::BadAction {
                agent: AgentId(1),
                problem: ActionProblem::NotInteger {
                    index: 0,
                    value: 0.5,
                },
            },
        ),
        (
            &[0.0, f32::NAN],
            StepError::BadAction {
                agent: AgentId(1),
                problem: ActionProblem::NotFinite {
                    index: 0,
                    value: f32::NAN,
                },
            },
        ),
    ];
    for (actions, expected) in cases {
        let err = sim.step(actions).unwrap_err();
        // NaN != NaN: compare the messages, which carry every field.
        assert_eq!(err.to_string(), expected.to_string());
        assert_eq!(snapshot(&sim), before);
    }
    assert_eq!(
        sim.step(&[0.0, 2.0]).unwrap_err().to_string(),
        "agent 1: entry 0 is 2, expected a value in [0, 1]"
    );
    // The scripted agent's row is ignored, whatever it holds.
    sim.step(&[f32::NAN, 1.0]).unwrap();
    assert_eq!(
        sim.env()
            .utterances()
            .iter()
            .find(|u| u.speaker == AgentId(1))
            .unwrap()
            .act
            .kind,
        "cooperate"
    );
    sim.step(&[0.0, 0.0]).unwrap();
    sim.step(&[0.0, 0.0]).unwrap();
    assert!(sim.env().is_done());
    assert_eq!(sim.step(&[0.0, 0.0]).unwrap_err(), StepError::EpisodeOver);
}

#[test]
fn masked_and_idle_agents() {
    // The cultural donor game with punishment: Tuple(Discrete(2), Box(1)); recipients are idle
    // and their mask rows forbid everything, so their rows are ignored.
    let mut sim = sim(
        "[scenario]\nname = \"x\"\n[game.donor_cultural]\npunishment = true\n\
                       [[agents]]\ncount = 2\ncontroller = \"external\"\n",
    );
    let acting = sim.env().acting().to_vec();
    assert_eq!(acting.iter().filter(|&&a| a).count(), 1, "one donor of two");
    let donor = acting.iter().position(|&a| a).unwrap();
    let idle = 1 - donor;
    assert_eq!(&sim.env().action_masks()[idle * 2..idle * 2 + 2], &[0, 0]);
    assert_eq!(&sim.env().action_masks()[donor * 2..donor * 2 + 2], &[1, 1]);
    let mut actions = vec![0.0; 4];
    actions[idle * 2] = 9.0; // ignored
    actions[donor * 2 + 1] = 1.5;
    let err = sim.step(&actions).unwrap_err();
    assert!(
        matches!(err, StepError::BadAction { agent, problem: ActionProblem::OutOfRange { index: 1, .. } } if agent.index() == donor)
    );
    actions[donor * 2] = 1.0; // punish
    actions[donor * 2 + 1] = 0.8;
    sim.step(&actions).unwrap();
    assert_eq!(sim.env().utterances()[0].act.kind, "punish");
    assert!((sim.env().utterances()[0].act.value - 8.0).abs() < 1e-6);
    let payoff: Vec<f64> = sim.env().reward_entries().iter().map(|e| e.value).collect();
    // Donor pays 8; the recipient would lose 2 × 8 = 16 but holds 10, and resources never go
    // below 0: the payoff entries, then the image.
    assert!((payoff[0] + 8.0).abs() < 1e-6, "{payoff:?}");
    assert_eq!(payoff[1], -10.0);
}

/// With `matches = "at_once"` an action is a move per partner and an observation a block per
/// partner, the other agents in id order; each move goes to its own match.
#[test]
fn at_once_an_action_is_a_move_per_partner_in_id_order() {
    use socium::core::Space;
    use socium::games::donor::repeated::obs::{DIM, OWN_LAST, PARTNER_LAST};
    let mut sim = sim("[scenario]\nname = \"x\"\n[game.repeated]\nturns = 2\n\
                       matches = \"at_once\"\n[[agents]]\nstrategy = \"allc\"\n\
                       [[agents]]\ncontroller = \"external\"\n[[agents]]\nstrategy = \"tft\"\n");
    assert_eq!(
        sim.spaces().action,
        Space::MultiDiscrete { nvec: vec![2, 2] }
    );
    assert_eq!(sim.spaces().observation.flat_dim(), 2 * DIM);
    let moves = |sim: &Sim| -> Vec<(u32, u32, &'static str)> {
        sim.env()
            .utterances()
            .iter()
            .map(|u| (u.speaker.0, u.act.target.unwrap().0, u.act.kind))
            .collect()
    };
    // Agent 1's row is entries 2..4: a 2 is no move.
    let err = sim.step(&[0.0, 0.0, 1.0, 2.0, 0.0, 0.0]).unwrap_err();
    assert!(
        matches!(
            err,
            StepError::BadAction {
                agent: AgentId(1),
                ..
            }
        ),
        "{err}"
    );
    // Agent 1 cooperates with agent 0 and defects against agent 2.
    sim.step(&[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]).unwrap();
    assert_eq!(
        moves(&sim),
        [
            (0, 1, "cooperate"),
            (1, 0, "cooperate"),
            (0, 2, "cooperate"),
            (2, 0, "cooperate"),
            (1, 2, "defect"),
            (2, 1, "cooperate"),
        ]
    );
    let row = &sim.env().observations()[2 * DIM..4 * DIM];
    assert_eq!(
        (row[OWN_LAST], row[PARTNER_LAST]),
        (1.0, 1.0),
        "against agent 0"
    );
    assert_eq!(
        (row[DIM + OWN_LAST], row[DIM + PARTNER_LAST]),
        (0.0, 1.0),
        "against agent 2"
    );
    // Tit for tat answers the defection in its match with agent 1, and only there.
    sim.step(&[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]).unwrap();
    assert!(moves(&sim).contains(&(2, 1, "defect")));
    assert!(moves(&sim).contains(&(2, 0, "cooperate")));
    assert!(sim.env().is_done(), "two turns a match");
    // Agent 1 scored R, R against agent 0, and T, then S, against agent 2.
    assert_eq!(sim.env().episode_returns()[1], 3.0 + 3.0 + 5.0 + 0.0);
}

/// At once with random match lengths, matches end at different steps: an ended match allows only
/// the move 0 (and plays no more), and an agent is done only when all its matches have ended.
#[test]
fn at_once_an_ended_match_allows_only_0_until_the_agent_is_done() {
    let mut seen_open_and_closed = false;
    for seed in 0..20 {
        let mut sim = sim(&format!(
            "[scenario]\nname = \"x\"\nseed = {seed}\n[game.repeated]\nturns = 50\n\
             continuation = 0.7\nmatches = \"at_once\"\n[[agents]]\nstrategy = \"allc\"\n\
             [[agents]]\ncontroller = \"external\"\n[[agents]]\nstrategy = \"alld\"\n"
        ));
        while !sim.env().is_done() {
            let mask = &sim.env().action_masks()[4..8]; // agent 1: two matches of two choices
            let open = [mask[1] == 1, mask[3] == 1];
            assert!(
                sim.env().acting()[1] == (open[0] || open[1]),
                "done once both ended"
            );
            if open[0] != open[1] {
                seen_open_and_closed = true;
                let closed = if open[0] { 1 } else { 0 };
                let mut actions = vec![0.0; 6];
                actions[2 + closed] = 1.0;
                let err = sim.step(&actions).unwrap_err();
                assert!(
                    matches!(
                        err,
                        StepError::BadAction {
                            agent: AgentId(1),
                            problem: ActionProblem::Masked { .. }
                        }
                    ),
                    "{err}"
                );
            }
            sim.step(&[0.0; 6]).unwrap();
            // Agent 1 moves in its open matches only.
            let spoke = sim
                .env()
                .utterances()
                .iter()
                .filter(|u| u.speaker == AgentId(1));
            assert_eq!(spoke.count(), open.iter().filter(|&&o| o).count());
        }
    }
    assert!(
        seen_open_and_closed,
        "some seed ends one of agent 1's matches first"
    );
}

/// A Sim skips a seeded reset with the seed it was just reset with (nothing has changed since);
/// after a step, the same reset is a real one, and another seed always is.
#[test]
fn a_seeded_reset_puts_the_sim_back_however_often_it_is_asked() {
    let text = "[scenario]\nname = \"x\"\nseed = 4\n[game.donor_cultural]\n\
                [[agents]]\ncontroller = \"external\"\n[[agents]]\nstrategy = \"reciprocal\"\ncount = 3\n";
    let fresh = snapshot(&sim(text));
    let mut s = sim(text);
    s.reset(Some(4));
    assert_eq!(snapshot(&s), fresh, "a reset with the build's seed");
    s.step(&[0.5; 4]).unwrap();
    assert_eq!(s.env().clock().step(), 1);
    s.reset(Some(4));
    assert_eq!(snapshot(&s), fresh, "the same seed after a step");
    s.reset(Some(5));
    let other = snapshot(&s);
    assert_ne!(other.0, fresh.0, "another seed pairs the donors anew");
    s.reset(Some(4));
    assert_eq!(snapshot(&s), fresh, "back to the first seed");
    // A renumbered episode is a change: the seeded reset after it restarts the count at 0.
    s.renumber_episode(7);
    s.reset(Some(4));
    assert_eq!(s.env().clock().episode(), 0, "after a renumbering");
}

/// A VecEnv checks each external agent's action against the acting flags and masks its env gave
/// at the last step, in every env and across autoresets: in the cultural donor game roles
/// alternate each round, so a check against an older step would refuse the learner's ignored row
/// while it waits (out of range) or let its bad row through while it gives; a bad row is refused
/// by the env that got it, with no env moved.
#[test]
fn a_vec_env_checks_every_env_against_its_latest_masks() {
    let s = Scenario::parse(
        "[scenario]\nname = \"x\"\n[game.donor_cultural]\npunishment = true\nrounds = 5\n\
         [[agents]]\ncontroller = \"external\"\n[[agents]]\nstrategy = \"alld\"\ncount = 3\n",
        Path::new("test.toml"),
    )
    .unwrap();
    let (envs, agents) = (8, 4);
    let mut env = VecEnv::new(&*s.game, &s.config, &VecEnv::seeds(3, envs)).unwrap();
    env.reset(None).unwrap();
    // The learner (agent 0) punishes with half its resources while it gives, and sends an out
    // of range row while it waits; `bad` gives out of range in env `bad` too.
    let rows = |buf: &VecBuffers, bad: Option<usize>| -> Vec<f32> {
        let mut actions = vec![0.0; envs * agents * 2];
        for e in 0..envs {
            let acting = buf.acting[e * agents] && bad != Some(e);
            actions[e * agents * 2..][..2].copy_from_slice(if acting {
                &[1.0, 0.5]
            } else {
                &[9.0, 9.0]
            });
        }
        actions
    };
    let mut ended = 0;
    for _ in 0..60 {
        env.step(&rows(env.outputs(), None)).unwrap();
        ended += (0..envs)
            .filter(|&e| env.outputs().terminated[e * agents])
            .count();
    }
    assert!(
        ended >= 3 * envs,
        "{ended} episodes ended: too few to cross autoresets"
    );
    let e = (5..envs)
        .find(|&e| env.outputs().acting[e * agents])
        .expect("the learner gives in one of envs 5-7");
    let before = env.outputs().clone();
    let clocks: Vec<u32> = (0..envs).map(|i| env.env(i).clock().step()).collect();
    let err = env.step(&rows(env.outputs(), Some(e))).unwrap_err();
    assert!(
        matches!(err, VecStepError::Env { env, error: StepError::BadAction { agent: AgentId(0), problem: ActionProblem::OutOfRange { .. } } } if env == e),
        "{err:?}"
    );
    assert_eq!(*env.outputs(), before);
    assert!((0..envs).all(|i| env.env(i).clock().step() == clocks[i]));
}
