//! Mafia / Werewolf: win odds against an exact dynamic program, and the rules one by one.

use socium::core::{AgentId, Audience, Sim, StepError, TranscriptLine, space::ActionProblem};
use socium::games::deduction::mafia::{INFORMATION, Lynch, Start, WIN, obs};
use socium::scenario::{Scenario, run};
use std::collections::HashMap;
use std::path::Path;

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, Path::new("mafia.toml")).unwrap()
}

/// The rules a dynamic program follows, as the game's settings name them: the phase that opens
/// the game, and how many votes lynch.
#[derive(Clone, Copy)]
struct Variant {
    start: Start,
    lynch: Lynch,
}

/// The chance that a day's vote lynches anyone when each of `living` players votes uniformly for
/// one of the others. With the plurality rule someone is always lynched; with the majority rule
/// player j is lynched when more than half the votes are its, and the votes j gets from the
/// others are Binomial(L − 1, 1/(L − 1)). At most one player can hold a majority, so the chance
/// is L times player j's. Either way the lynched player is uniform among the living, by symmetry.
fn lynch_chance(living: u32, lynch: Lynch) -> f64 {
    if lynch == Lynch::Plurality {
        return 1.0;
    }
    let (trials, p) = (living - 1, 1.0 / f64::from(living - 1));
    let binomial = |k: u32| {
        let choose: f64 = (0..k)
            .map(|i| f64::from(trials - i) / f64::from(i + 1))
            .product();
        choose * p.powi(k as i32) * (1.0 - p).powi((trials - k) as i32)
    };
    let majority: f64 = (0..=trials).filter(|&k| 2 * k > living).map(binomial).sum();
    f64::from(living) * majority
}

/// P(the mafia win) with `town` citizens and `mafia` mafia at the start of the game, when every
/// player votes uniformly among the other living players and the mafia kill a uniformly random
/// citizen every night (Braverman, Etesami & Mossel 2008's random lynching, under `rules`); the
/// town wins with no mafia left, the mafia once they are at least as many as the town.
fn p_mafia_wins(town: u32, mafia: u32, rules: Variant) -> f64 {
    let mut memo = HashMap::new();
    match rules.start {
        Start::Night => night(town, mafia, rules, &mut memo),
        Start::Day => day(town, mafia, rules, &mut memo),
    }
}

/// P(the mafia win) from the start of a day.
fn day(town: u32, mafia: u32, rules: Variant, memo: &mut HashMap<(u32, u32), f64>) -> f64 {
    if mafia == 0 {
        return 0.0;
    }
    if mafia >= town {
        return 1.0;
    }
    if let Some(&p) = memo.get(&(town, mafia)) {
        return p;
    }
    let living = town + mafia;
    let lynched = lynch_chance(living, rules.lynch);
    let share = |k: u32| f64::from(k) / f64::from(living);
    let p = lynched * share(mafia) * night(town, mafia - 1, rules, memo)
        + lynched * share(town) * night(town - 1, mafia, rules, memo)
        + (1.0 - lynched) * night(town, mafia, rules, memo);
    memo.insert((town, mafia), p);
    p
}

/// P(the mafia win) from the start of a night: a citizen dies unless the game is over.
fn night(town: u32, mafia: u32, rules: Variant, memo: &mut HashMap<(u32, u32), f64>) -> f64 {
    match (mafia == 0, mafia >= town) {
        (true, _) => 0.0,
        (_, true) => 1.0,
        _ => day(town - 1, mafia, rules, memo),
    }
}

const BRAVERMAN: Variant = Variant {
    start: Start::Day,
    lynch: Lynch::Plurality,
};

#[test]
fn the_dynamic_program_gives_the_published_value_and_its_night_first_twin() {
    // Braverman et al.'s example: 5 players, 1 mafia, day first.
    let p = p_mafia_wins(4, 1, BRAVERMAN);
    assert!((p - 8.0 / 15.0).abs() < 1e-12, "{p}");
    // Night first, a citizen dies before the first day: 1 mafia among 4 is lynched with 1/4,
    // else the next night leaves 1 against 1.
    let night_first = Variant {
        start: Start::Night,
        ..BRAVERMAN
    };
    let p = p_mafia_wins(4, 1, night_first);
    assert!((p - 3.0 / 4.0).abs() < 1e-12, "{p}");
    // Three voters: a player has a majority when both others vote for it, 1/4 each, 3/4 in all.
    assert!((lynch_chance(3, Lynch::Majority) - 0.75).abs() < 1e-12);
    // Two voters each vote for the other: never a majority.
    assert_eq!(lynch_chance(2, Lynch::Majority), 0.0);
}

#[test]
fn random_lynching_matches_the_dynamic_program() {
    // 99% binomial intervals: |p̂ − p| ≤ 2.576 · sqrt(p(1 − p) / episodes).
    let episodes = 4000;
    let cases = [
        (5, 1, "day", "plurality"),
        (6, 1, "day", "plurality"),
        (7, 2, "day", "plurality"),
        (9, 2, "day", "plurality"),
        (11, 3, "day", "plurality"),
        // Werewolf Arena's opening night and majority exile, apart and together.
        (5, 1, "night", "plurality"),
        (6, 1, "day", "majority"),
        (7, 2, "night", "majority"),
        (8, 2, "night", "majority"),
    ];
    for (n, m, start, lynch) in cases {
        let s = scenario(&format!(
            "[scenario]\nname = \"m\"\nseed = {n}{m}\nepisodes = {episodes}\n\
             [game.mafia]\nmafia = {m}\nstart = \"{start}\"\nlynch = \"{lynch}\"\n\
             [[agents]]\nstrategy = \"random\"\ncount = {n}\n"
        ));
        let dir = tempfile::tempdir().unwrap();
        let summary = run(&s, dir.path(), |_| {}).unwrap();
        let observed = summary.metrics["mafia_win"];
        let rules = Variant {
            start: if start == "night" {
                Start::Night
            } else {
                Start::Day
            },
            lynch: if lynch == "majority" {
                Lynch::Majority
            } else {
                Lynch::Plurality
            },
        };
        let p = p_mafia_wins(n - m, m, rules);
        let tolerance = 2.576 * (p * (1.0 - p) / f64::from(episodes)).sqrt();
        assert!(
            (observed - p).abs() <= tolerance,
            "n = {n}, m = {m}, {start} first, {lynch}: observed {observed}, exact {p} ± {tolerance}"
        );
    }
}

/// Six external players: one mafia, a seer, a doctor, three villagers.
fn six_with_roles() -> (Sim, usize) {
    let s = scenario(
        "[scenario]\nname = \"rules\"\nseed = 4\n[game.mafia]\nmafia = 1\nseer = true\n\
         doctor = true\n[[agents]]\ncontroller = \"external\"\ncount = 6\n",
    );
    let sim = s.sim().unwrap();
    (sim, 6)
}

/// Every player's role from its own observation: 0 villager, 1 mafia, 2 seer, 3 doctor.
fn roles(sim: &Sim, n: usize) -> Vec<usize> {
    let dim = obs::dim(n);
    (0..n)
        .map(|a| {
            let row = &sim.env().observations()[a * dim..(a + 1) * dim];
            (0..4).find(|&r| row[obs::ROLE + r] == 1.0).unwrap()
        })
        .collect()
}

/// Steps with one act per player (`acts[a]`), every player stating a uniform belief.
fn play(sim: &mut Sim, acts: &[f32]) -> Result<(), StepError> {
    sim.step(&rows(acts, None))
}

/// The action rows of `acts`, one per player, each with a uniform belief, but player `a`'s belief
/// `b` where `belief` is `Some((a, b))`.
fn rows(acts: &[f32], belief: Option<(usize, &[f32])>) -> Vec<f32> {
    let n = acts.len();
    let mut rows: Vec<f32> = acts
        .iter()
        .flat_map(|&act| std::iter::once(act).chain(vec![1.0 / n as f32; n]))
        .collect();
    if let Some((a, b)) = belief {
        rows[a * (n + 1) + 1..(a + 1) * (n + 1)].copy_from_slice(b);
    }
    rows
}

fn alive(sim: &Sim, n: usize) -> Vec<bool> {
    let row = &sim.env().observations()[..obs::dim(n)];
    (0..n).map(|j| row[obs::alive(n) + j] == 1.0).collect()
}

#[test]
fn the_doctor_saves_the_mafia_target_and_the_seer_learns_a_role() {
    let (mut sim, n) = six_with_roles();
    let r = roles(&sim, n);
    let role = |x: usize| r.iter().position(|&k| k == x).unwrap();
    let (mafia, seer, doctor) = (role(1), role(2), role(3));
    let villager = role(0);
    // Day 1: everyone abstains, nobody is lynched.
    play(&mut sim, &[0.0; 6]).unwrap();
    assert_eq!(alive(&sim, n), vec![true; 6]);
    // Night 1: only the mafia, the seer and the doctor act.
    let acting: Vec<usize> = (0..n).filter(|&a| sim.env().acting()[a]).collect();
    let mut expected = vec![mafia, seer, doctor];
    expected.sort();
    assert_eq!(acting, expected);
    // The mafia may not kill its own; a villager may not act at night.
    let mut night = [0.0; 6];
    night[mafia] = (1 + mafia) as f32;
    night[seer] = (1 + mafia) as f32;
    night[doctor] = (1 + villager) as f32;
    let err = play(&mut sim, &night).unwrap_err();
    assert!(
        matches!(err, StepError::BadAction { agent, problem: ActionProblem::Masked { .. } } if agent == AgentId(mafia as u32)),
        "{err:?}"
    );
    night[mafia] = (1 + villager) as f32;
    play(&mut sim, &night).unwrap();
    assert_eq!(
        alive(&sim, n),
        vec![true; 6],
        "the doctor saved the villager"
    );
    // The seer now knows the mafia; the others do not.
    let dim = obs::dim(n);
    let known = |a: usize| sim.env().observations()[a * dim + obs::known_mafia(n) + mafia] == 1.0;
    assert!(known(seer) && !known(villager) && !known(doctor));
    // Day 2: a vote for a dead or absent target is refused; the lynch takes the plurality.
    let mut votes = [(1 + mafia) as f32; 6];
    votes[mafia] = (1 + villager) as f32;
    play(&mut sim, &votes).unwrap();
    assert!(!alive(&sim, n)[mafia], "the mafia is lynched");
    assert!(sim.env().is_done(), "no mafia left: the town wins");
    let win: Vec<f32> = (0..n)
        .map(|a| sim.env().reward_components()[a * 3])
        .collect();
    for (a, w) in win.iter().enumerate() {
        assert_eq!(*w, if a == mafia { -1.0 } else { 1.0 }, "agent {a}");
    }
    assert_eq!(
        sim.env()
            .metrics()
            .mean(socium::games::deduction::mafia::MAFIA_WIN),
        Some(0.0)
    );
}

#[test]
fn the_mafia_win_when_they_match_the_town() {
    // 5 players, 1 mafia: the town lynches a villager on day 1 and the mafia kill another at
    // night (3 left), then on day 2 the town lynches a villager again (1 against 1).
    let s = scenario(
        "[scenario]\nname = \"m\"\nseed = 9\n[game.mafia]\n[[agents]]\ncontroller = \"external\"\ncount = 5\n",
    );
    let mut sim = s.sim().unwrap();
    let n = 5;
    let r = roles(&sim, n);
    let mafia = r.iter().position(|&k| k == 1).unwrap();
    let villagers: Vec<usize> = (0..n).filter(|&a| a != mafia).collect();
    let vote_for = |target: usize| {
        let mut v = [(1 + target) as f32; 5];
        v[target] = (1 + if target == villagers[0] {
            villagers[1]
        } else {
            villagers[0]
        }) as f32;
        v
    };
    play(&mut sim, &vote_for(villagers[0])).unwrap();
    let mut night = [0.0; 5];
    night[mafia] = (1 + villagers[1]) as f32;
    play(&mut sim, &night).unwrap();
    assert_eq!(alive(&sim, n).iter().filter(|&&a| a).count(), 3);
    assert!(!sim.env().is_done());
    // A vote for a dead player is refused, with nothing moved.
    let err = play(&mut sim, &vote_for(villagers[0])).unwrap_err();
    assert!(matches!(err, StepError::BadAction { .. }), "{err:?}");
    let mut v = [0.0; 5];
    for &a in &[mafia, villagers[2], villagers[3]] {
        v[a] = (1 + villagers[2]) as f32;
    }
    v[villagers[2]] = (1 + villagers[3]) as f32;
    play(&mut sim, &v).unwrap();
    assert!(sim.env().is_done());
    assert_eq!(
        sim.env()
            .metrics()
            .mean(socium::games::deduction::mafia::MAFIA_WIN),
        Some(1.0)
    );
    // The last utterance but the citizens' private belief statements after it.
    let utterances = sim.env().utterances();
    let last = utterances
        .iter()
        .rev()
        .find(|u| u.act.kind != "believe")
        .unwrap();
    assert_eq!(
        (last.act.kind, last.speaker),
        ("lynched", AgentId(villagers[2] as u32))
    );
    // Every win and loss entry names that reveal.
    assert!(
        sim.env()
            .reward_entries()
            .iter()
            .filter(|e| e.dimension.0 == 0)
            .all(|e| e.utterance == last.id)
    );
}

/// An outside player states a belief with every act: a row that is not a distribution is refused,
/// naming the player and the entries, with nothing moved; a stated belief is kept (the player's
/// observation shows it), and a citizen whose belief in the true mafia moves states it in a
/// private `believe` utterance whose `information` entry is the change in its log.
#[test]
fn an_outside_players_belief_is_checked_kept_and_scored() {
    let (mut sim, n) = six_with_roles();
    let r = roles(&sim, n);
    let mafia = r.iter().position(|&k| k == 1).unwrap();
    let villager = r.iter().position(|&k| k == 0).unwrap();
    let dim = obs::dim(n);
    let belief = |sim: &Sim, a: usize| {
        let at = a * dim + obs::belief(n);
        sim.env().observations()[at..at + n].to_vec()
    };
    // At the deal a citizen's belief is uniform over the others, a mafia member's on its team.
    let mut uniform = vec![0.2; n];
    uniform[villager] = 0.0;
    assert_eq!(belief(&sim, villager), uniform);
    let mut team = vec![0.0; n];
    team[mafia] = 1.0;
    assert_eq!(belief(&sim, mafia), team);
    let before = sim.env().observations().to_vec();
    let refused = |sim: &mut Sim, b: &[f32]| match sim.step(&rows(&[0.0; 6], Some((villager, b)))) {
        Err(StepError::BadAction { agent, problem, .. }) => {
            assert_eq!(agent.index(), villager);
            problem
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(&mut sim, &[0.5; 6]),
        ActionProblem::NotADistribution {
            start: 1,
            end: 7,
            sum: 3.0
        }
    );
    let negative = [-0.25, 0.5, 0.25, 0.25, 0.0, 0.25];
    assert!(
        matches!(
            refused(&mut sim, &negative),
            ActionProblem::OutOfRange { index: 1, .. }
        ),
        "the first entry of the belief"
    );
    let error = sim
        .step(&rows(&[0.0; 6], Some((villager, &[0.1; 6]))))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("agent {villager}"))
            && error.contains("entries 1..7 sum to 0.6")
            && error.contains("expected a probability distribution summing to 1"),
        "{error}"
    );
    assert_eq!(sim.env().observations(), &before[..], "nothing moved");
    // At the vote (everyone abstains) the villager names the mafia member with certainty; the
    // others state a uniform belief over all six.
    sim.step(&rows(&[0.0; 6], Some((villager, &team)))).unwrap();
    assert_eq!(belief(&sim, villager), team);
    let env = sim.env();
    let believe: Vec<_> = env
        .utterances()
        .iter()
        .filter(|u| u.act.kind == "believe")
        .collect();
    let speakers: Vec<usize> = believe.iter().map(|u| u.speaker.index()).collect();
    assert_eq!(
        speakers,
        (0..n).filter(|&a| a != mafia).collect::<Vec<_>>(),
        "every citizen's belief in the truth moved; the mafia's counts for nothing"
    );
    for u in &believe {
        let a = u.speaker.index();
        assert_eq!(
            u.audience,
            Audience::Agent(u.speaker),
            "a private statement"
        );
        let entries: Vec<_> = env
            .reward_entries()
            .iter()
            .filter(|e| e.utterance == u.id)
            .collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].agent, entries[0].dimension),
            (u.speaker, INFORMATION)
        );
        // From 1/5 at the deal to 1 (the villager) or 1/6 (a uniform belief).
        let p: f64 = if a == villager {
            1.0
        } else {
            f64::from(1.0f32 / 6.0)
        };
        assert_eq!(u.act.value, p);
        assert!((entries[0].value - (p.ln() - 0.2f64.ln())).abs() < 1e-12);
    }
}

#[test]
fn an_episode_cut_by_max_steps_has_no_winner_and_counts_in_neither_rate() {
    // Mafia and Among Us, cut short enough that some episodes end and some do not: a cut
    // episode leaves its win metrics empty in metrics.csv, and the summary's rates are the means
    // over the episodes that ended.
    for (file, limit, metric) in [
        ("mafia.toml", 2, "mafia_win"),
        ("among_us.toml", 12, "imposter_win"),
    ] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut s = Scenario::load(&root.join("scenarios").join(file)).unwrap();
        s.config.max_steps = Some(limit);
        s.episodes = 40;
        let dir = tempfile::tempdir().unwrap();
        let summary = run(&s, dir.path(), |_| {}).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        let mut lines = csv.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        let (steps, win) = (
            head.iter().position(|&h| h == "steps").unwrap(),
            head.iter().position(|&h| h == metric).unwrap(),
        );
        let (mut cut, mut ended) = (0, Vec::new());
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            match cells[win] {
                "" => {
                    assert_eq!(cells[steps], limit.to_string(), "{file}: {line}");
                    cut += 1;
                }
                w => ended.push(w.parse::<f64>().unwrap()),
            }
        }
        assert!(
            cut > 0 && !ended.is_empty(),
            "{file}: {cut} cut, {} ended",
            ended.len()
        );
        let rate = ended.iter().sum::<f64>() / ended.len() as f64;
        assert!((summary.metrics[metric] - rate).abs() < 1e-12, "{file}");
    }
}

/// The folder holds one run: a run without a transcript removes an earlier run's, which would
/// otherwise be read (by `socium view`, `replay`) as this run's.
#[test]
fn a_run_without_a_transcript_removes_an_earlier_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut s = Scenario::load(&root.join("scenarios/mafia.toml")).unwrap();
    s.episodes = 2;
    let dir = tempfile::tempdir().unwrap();
    run(&s, dir.path(), |_| {}).unwrap();
    let path = dir.path().join("transcript.jsonl");
    assert!(!std::fs::read(&path).unwrap().is_empty());
    s.config.transcript = false;
    s.config.seed += 1;
    run(&s, dir.path(), |_| {}).unwrap();
    assert!(!path.exists());
    assert!(dir.path().join("summary.json").is_file());
}

#[test]
fn informed_citizens_accuse_and_vote_known_mafia_and_earn_the_vote_reward() {
    // 7 informed players, 2 mafia and a seer, 60 episodes: a citizen who knows a living mafia
    // member (its observation says so) accuses and votes only for known mafia; every citizen's
    // vote for a mafia member, and no other vote, earns +1 `vote` on it.
    use socium::games::deduction::mafia::VOTE;
    let n = 7;
    let mut sim = scenario(
        "[scenario]\nname = \"informed\"\nseed = 9\n[game.mafia]\nmafia = 2\nseer = true\n\
         [[agents]]\nstrategy = \"informed\"\ncount = 7\n",
    )
    .sim()
    .unwrap();
    let dim = obs::dim(n);
    let width = sim.spaces().action.flat_dim();
    let (mut informed_acts, mut rewarded) = (0, 0);
    for _ in 0..60 {
        let role = roles(&sim, n);
        while !sim.env().is_done() {
            let known: Vec<Vec<usize>> = (0..n)
                .map(|a| {
                    let row = &sim.env().observations()[a * dim..(a + 1) * dim];
                    (0..n)
                        .filter(|&j| {
                            row[obs::known_mafia(n) + j] == 1.0 && row[obs::alive(n) + j] == 1.0
                        })
                        .collect()
                })
                .collect();
            sim.step(&vec![0.0; n * width]).unwrap();
            for u in sim.env().utterances() {
                let (a, kind) = (u.speaker.index(), u.act.kind);
                let Some(target) = u.act.target.map(|t| t.index()) else {
                    continue;
                };
                if role[a] != 1 && !known[a].is_empty() && (kind == "accuse" || kind == "vote") {
                    assert!(
                        known[a].contains(&target),
                        "{kind} of {target} by {a}, who knew {:?}",
                        known[a]
                    );
                    informed_acts += 1;
                }
                if kind == "vote" {
                    let paid: f64 = sim
                        .env()
                        .reward_entries()
                        .iter()
                        .filter(|e| e.utterance == u.id && e.dimension == VOTE)
                        .map(|e| {
                            assert_eq!(e.agent, u.speaker);
                            e.value
                        })
                        .sum();
                    let earns = role[a] != 1 && role[target] == 1;
                    assert_eq!(paid, f64::from(u8::from(earns)), "vote of {target} by {a}");
                    rewarded += usize::from(earns);
                }
            }
        }
        sim.reset(None);
    }
    assert!(
        informed_acts > 0 && rewarded > 0,
        "{informed_acts} informed acts, {rewarded} paid votes"
    );
}

/// The dead stay in the episode, idle, until it ends, and are paid their side's result there
/// (as SMAC keeps dead units): a terminated agent gets nothing after its end, so a learner that
/// died had never seen its side win or lose (PettingZoo drops it at once). Over random games of
/// 7 players, 2 mafia: no one is terminated before the end, the dead never act, and every
/// player's episode `win` is ±1 by its side, the dead included.
#[test]
fn the_dead_stay_idle_until_the_end_and_share_their_sides_result() {
    let s = scenario(
        "[scenario]\nname = \"m\"\nseed = 3\n[game.mafia]\nmafia = 2\n\
         [[agents]]\nstrategy = \"random\"\ncount = 7\n",
    );
    let (mut sim, n) = (s.sim().unwrap(), 7);
    let acts = vec![0.0; n * sim.spaces().action.flat_dim()];
    let mut died_before_the_end = 0;
    for seed in 0..40 {
        sim.reset(Some(seed));
        let mafia: Vec<bool> = (0..n)
            .map(|a| sim.env().observations()[a * obs::dim(n) + obs::ROLE + 1] == 1.0)
            .collect();
        let mut dead_at = vec![None; n];
        while !sim.env().is_done() {
            sim.step(&acts).unwrap();
            let (step, env) = (sim.env().clock().step(), sim.env());
            for (a, alive) in alive(&sim, n).into_iter().enumerate() {
                if !alive {
                    dead_at[a].get_or_insert(step);
                    assert!(!env.acting()[a], "seed {seed}: dead agent {a} acts");
                }
            }
            if !env.is_done() {
                assert!(
                    env.terminated().iter().all(|t| !t),
                    "seed {seed}: ended early"
                );
            }
        }
        let end = sim.env().clock().step();
        died_before_the_end += dead_at
            .iter()
            .filter(|d| d.is_some_and(|s| s < end))
            .count();
        let dims = sim.env().reward_dimensions().len();
        let win = |a: usize| sim.env().episode_raw_rewards()[a * dims + WIN.0 as usize];
        let mafia_won = win(mafia.iter().position(|&m| m).unwrap()) > 0.0;
        for (a, &is_mafia) in mafia.iter().enumerate() {
            let expected = if is_mafia == mafia_won { 1.0 } else { -1.0 };
            assert_eq!(win(a), expected, "seed {seed}: agent {a}");
        }
    }
    assert!(
        died_before_the_end > 40,
        "{died_before_the_end} deaths before an end"
    );
}

/// The transcript starts each episode with every player's role, as the player's own observation
/// has it, for readers (`socium replay`, `socium view`); a step's lines, which trainers read,
/// never hold them.
#[test]
fn each_episode_starts_its_transcript_with_the_roles() {
    let s = scenario(
        "[scenario]\nname = \"rules\"\nseed = 4\n[game.mafia]\nmafia = 1\nseer = true\n\
         doctor = true\n[[agents]]\ncontroller = \"external\"\ncount = 6\n\
         [output]\ntranscript = true\n",
    );
    let mut sim = s.sim().unwrap();
    let names = ["villager", "mafia", "seer", "doctor"];
    for episode in 0..3 {
        let dealt: Vec<&str> = roles(&sim, 6).iter().map(|&r| names[r]).collect();
        assert_eq!(sim.env().roles(), dealt, "episode {episode}");
        for _ in 0..2 {
            // Each acting player's first legal act (an idle player's row is all 0).
            let md = sim.spaces().action.mask_dim();
            let masks = sim.env().action_masks();
            let acts: Vec<f32> = (0..6)
                .map(|a| {
                    let row = &masks[a * md..(a + 1) * md];
                    row.iter().position(|&m| m == 1).unwrap_or(0) as f32
                })
                .collect();
            play(&mut sim, &acts).unwrap();
            let lines = sim.env().transcript_lines();
            assert!(
                !lines
                    .iter()
                    .any(|l| matches!(l, TranscriptLine::Roles { .. })),
                "episode {episode}"
            );
        }
        let text = String::from_utf8(sim.take_transcript()).unwrap();
        let lines: Vec<TranscriptLine> = (text.lines())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let roles = TranscriptLine::Roles {
            episode,
            roles: dealt.iter().map(|&r| r.into()).collect(),
        };
        assert_eq!(lines[0], roles, "episode {episode}");
        let later = lines[1..]
            .iter()
            .filter(|l| matches!(l, TranscriptLine::Roles { .. }));
        assert_eq!(later.count(), 0, "one roles line an episode");
        sim.reset(None);
    }
}

/// Werewolf Arena's debate (Bailis, Friedhoff & Chen 2024, arXiv 2407.13943; the tie rule of
/// google/werewolf_arena's `GameMaster.get_next_speaker`): before each of the day's
/// `discussion` turns every living player but the last speaker bids 0..4, privately; the
/// highest bid speaks; a tie goes to a uniformly random tied player, the one the last message
/// named counted twice; after the last turn, the vote. With five equal bids after player 3 named
/// player 1, player 1 takes the floor with probability 2/5 and each other bidder with 1/5 (99%
/// binomial intervals over 3,000 days).
#[test]
fn the_highest_bid_speaks_and_a_tie_favours_the_player_named_last() {
    let n = 5;
    let s = scenario(
        "[scenario]\nname = \"bids\"\nseed = 1\n[game.mafia]\nmafia = 1\ndiscussion = 2\n\
         speaking = \"bidding\"\n[[agents]]\ncontroller = \"external\"\ncount = 5\n",
    );
    let mut sim = s.sim().unwrap();
    let dim = obs::dim(n);
    // The stage, one-hot: discussion, vote, night, bid.
    let stage = |sim: &Sim| (0..4).find(|&k| sim.env().observations()[obs::STAGE + k] == 1.0);
    let named = |sim: &Sim| -> Vec<bool> {
        (0..n)
            .map(|a| sim.env().observations()[a * dim + obs::NAMED] == 1.0)
            .collect()
    };
    let acting = |sim: &Sim| -> Vec<usize> { (0..n).filter(|&a| sim.env().acting()[a]).collect() };
    let days = 3000;
    let mut floor = [0u32; 5];
    for seed in 0..days {
        sim.reset(Some(seed));
        assert_eq!(stage(&sim), Some(3), "the day opens with bids");
        assert_eq!(acting(&sim), [0, 1, 2, 3, 4]);
        // The highest bid wins outright.
        play(&mut sim, &[1.0, 2.0, 0.0, 4.0, 2.0]).unwrap();
        assert_eq!((stage(&sim), acting(&sim)), (Some(0), vec![3]));
        // Bids are heard by their bidders alone.
        let bids: Vec<_> = (sim.env().utterances().iter())
            .filter(|u| u.act.kind == "bid")
            .collect();
        assert_eq!(bids.len(), 5);
        assert!(
            bids.iter()
                .all(|u| u.audience == Audience::Agent(u.speaker))
        );
        // Player 3 accuses player 1 (act 1 + 1), which names it.
        play(&mut sim, &[0.0, 0.0, 0.0, 2.0, 0.0]).unwrap();
        assert_eq!(named(&sim), [false, true, false, false, false]);
        assert_eq!(stage(&sim), Some(3));
        assert_eq!(acting(&sim), [0, 1, 2, 4], "the last speaker does not bid");
        play(&mut sim, &[2.0; 5]).unwrap();
        let [speaker] = acting(&sim)[..] else {
            panic!("one speaker, found {:?}", acting(&sim));
        };
        floor[speaker] += 1;
        play(&mut sim, &[0.0; 5]).unwrap();
        assert_eq!(stage(&sim), Some(1), "two turns, then the vote");
    }
    assert_eq!(floor[3], 0);
    for (a, expected) in [(0, 0.2), (1, 0.4), (2, 0.2), (4, 0.2)] {
        let share = f64::from(floor[a]) / f64::from(days as u32);
        let tolerance = 2.576 * (expected * (1.0 - expected) / f64::from(days as u32)).sqrt();
        assert!(
            (share - expected).abs() <= tolerance,
            "player {a}: {share} of the floors, expected {expected} ± {tolerance}"
        );
    }
}

/// Werewolf Arena's opening night and majority exile (google/werewolf_arena's
/// `GameMaster.run_round`, which begins each round with the night, and `GameMaster.exile`, which
/// exiles the most-voted player only with more than half the living players' votes): the first
/// step is a night where only the mafia act, and a vote lynches nobody without such a majority —
/// 2 votes of 5 and 2 of 4 fall short, 2 of 3 suffice (where the most votes would have lynched
/// the mafia on the first day). The prompt's rules say both.
#[test]
fn a_night_first_game_kills_before_the_first_day_and_a_lynch_needs_a_majority() {
    let n = 6;
    let s = scenario(
        "[scenario]\nname = \"arena\"\nseed = 3\n[game.mafia]\nmafia = 1\nstart = \"night\"\n\
         lynch = \"majority\"\n[[agents]]\ncontroller = \"external\"\ncount = 6\n",
    );
    let mut sim = s.sim().unwrap();
    let stage = |sim: &Sim| (0..4).find(|&k| sim.env().observations()[obs::STAGE + k] == 1.0);
    let acting = |sim: &Sim| -> Vec<usize> { (0..n).filter(|&a| sim.env().acting()[a]).collect() };
    let living = |sim: &Sim| alive(sim, n).iter().filter(|&&a| a).count();
    let r = roles(&sim, n);
    let mafia = r.iter().position(|&k| k == 1).unwrap();
    let town: Vec<usize> = (0..n).filter(|&a| a != mafia).collect();
    assert_eq!(stage(&sim), Some(2), "the game opens by night");
    assert_eq!(sim.env().observations()[obs::DAY], 0.0, "no day has begun");
    assert_eq!(acting(&sim), [mafia]);
    let dim = obs::dim(n);
    let (row, mask) = (&sim.env().observations()[..dim], sim.env().action_masks());
    let rules = s.game.prompt(n, AgentId(0), row, &mask[..1 + 2 * n]).rules;
    assert!(rules.contains("starts by night"), "{rules}");
    assert!(
        rules.contains("more than half the living players"),
        "{rules}"
    );
    let kill = |sim: &mut Sim, victim: usize| {
        let mut acts = [0.0; 6];
        acts[mafia] = (1 + victim) as f32;
        play(sim, &acts).unwrap();
    };
    // Two of the living vote for the mafia; the others abstain.
    let two_votes = |sim: &mut Sim, voters: [usize; 2]| {
        let mut acts = [0.0; 6];
        for v in voters {
            acts[v] = (1 + mafia) as f32;
        }
        play(sim, &acts).unwrap();
    };
    kill(&mut sim, town[0]);
    assert_eq!((living(&sim), stage(&sim)), (5, Some(1)), "day 1's vote");
    assert_eq!(sim.env().observations()[obs::DAY], 1.0 / n as f32);
    two_votes(&mut sim, [town[1], town[2]]);
    assert_eq!(living(&sim), 5, "2 votes of 5 lynch nobody");
    assert_eq!(stage(&sim), Some(2));
    kill(&mut sim, town[1]);
    two_votes(&mut sim, [town[2], town[3]]);
    assert_eq!(living(&sim), 4, "2 votes of 4 lynch nobody");
    kill(&mut sim, town[2]);
    assert!(!sim.env().is_done(), "1 mafia against 2 citizens");
    two_votes(&mut sim, [town[3], town[4]]);
    assert!(!alive(&sim, n)[mafia], "2 votes of 3 lynch the mafia");
    assert!(sim.env().is_done(), "no mafia left: the town wins");
}

/// Braverman et al.'s day with talk (`discussion = 2`, round robin): every living player speaks
/// once a round, one speaker a step, the order drawn afresh each round; an accusation or a vouch
/// is heard by all and counted in every player's observation, per living player; the counts are
/// forgotten when the next day begins.
#[test]
fn each_round_of_talk_is_a_fresh_order_of_the_living_and_its_words_are_counted() {
    let n = 5;
    let s = scenario(
        "[scenario]\nname = \"talk\"\nseed = 7\n[game.mafia]\nmafia = 1\ndiscussion = 2\n\
         [[agents]]\ncontroller = \"external\"\ncount = 5\n",
    );
    let mut sim = s.sim().unwrap();
    let dim = obs::dim(n);
    let block = |sim: &Sim, at: usize| -> Vec<Vec<f32>> {
        (0..n)
            .map(|a| sim.env().observations()[a * dim + at..a * dim + at + n].to_vec())
            .collect()
    };
    let mut reshuffled = 0;
    for seed in 0..20 {
        sim.reset(Some(seed));
        let mut order = Vec::new();
        for round in 0..2 {
            for _ in 0..n {
                let acting: Vec<usize> = (0..n).filter(|&a| sim.env().acting()[a]).collect();
                let [speaker] = acting[..] else {
                    panic!("one speaker at a time, found {acting:?}")
                };
                order.push(speaker);
                // In the first round player 0 vouches for player 1 and the others accuse player
                // 0; in the second everyone is silent.
                let act = match (round, speaker) {
                    (0, 0) => 1 + n + 1,
                    (0, _) => 1,
                    _ => 0,
                };
                let mut acts = [0.0; 5];
                acts[speaker] = act as f32;
                play(&mut sim, &acts).unwrap();
                let utterances = sim.env().utterances();
                let said = utterances
                    .iter()
                    .find(|u| u.speaker == AgentId(speaker as u32));
                let said = said.unwrap();
                let kind = match act {
                    0 => "silent",
                    1 => "accuse",
                    _ => "vouch",
                };
                assert_eq!((said.act.kind, said.audience), (kind, Audience::All));
            }
        }
        let (first, second) = order.split_at(n);
        for round in [first, second] {
            let mut sorted = round.to_vec();
            sorted.sort();
            assert_eq!(sorted, [0, 1, 2, 3, 4], "seed {seed}: {order:?}");
        }
        reshuffled += usize::from(first != second);
        let mut accused = vec![0.0; n];
        accused[0] = 4.0 / 5.0;
        let mut vouched = vec![0.0; n];
        vouched[1] = 1.0 / 5.0;
        assert_eq!(
            block(&sim, obs::accused(n)),
            vec![accused; n],
            "seed {seed}"
        );
        assert_eq!(
            block(&sim, obs::vouched(n)),
            vec![vouched; n],
            "seed {seed}"
        );
        // The vote (all abstain), the night (the mafia kill), and the next day forgets the talk.
        play(&mut sim, &[0.0; 5]).unwrap();
        let r = roles(&sim, n);
        let mafia = r.iter().position(|&k| k == 1).unwrap();
        let victim = (0..n).find(|&a| a != mafia).unwrap();
        let mut night = [0.0; 5];
        night[mafia] = (1 + victim) as f32;
        play(&mut sim, &night).unwrap();
        assert_eq!(block(&sim, obs::accused(n)), vec![vec![0.0; n]; n]);
        assert_eq!(block(&sim, obs::vouched(n)), vec![vec![0.0; n]; n]);
    }
    // Two rounds in the same order happen 1 time in 120.
    assert!(reshuffled >= 18, "{reshuffled} of 20 days reshuffled");
}
