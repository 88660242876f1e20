//! Negotiation: Rubinstein's closed form, Sotopia's ranges and visibility rule, and the seven
//! dimensions act by act (docs/scenarios.md §3.7 has the formulas).

use socium::core::{AgentId, DimId, RewardEntry, Sim, UtteranceId};
use socium::games::negotiation::{
    self, DIMENSIONS_RANGE, acts, layout,
    play::{State, goal_score},
    social,
};
use socium::scenario::Scenario;
use std::collections::HashMap;
use std::path::Path;

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, Path::new("negotiation.toml")).unwrap()
}

fn sim(text: &str) -> Sim {
    scenario(text).sim().unwrap()
}

/// Two agents of the given strategies or controllers (`strategy = "fair"`, `controller =
/// "random"`), with `game` the lines of `[game.negotiation]`.
fn pair(game: &str, a: &str, b: &str) -> String {
    format!(
        "[scenario]\nname = \"n\"\n[game.negotiation]\n{game}\n\
         [[agents]]\n{a}\n[[agents]]\n{b}\n"
    )
}

/// Plays `sim` to the end of its episode (no external agents), and returns every reward entry
/// of the episode with the step it was written at.
fn play_episode(sim: &mut Sim) -> Vec<(u32, RewardEntry)> {
    let mut entries = Vec::new();
    let actions = vec![0.0; sim.agent_count() * sim.spaces().action.flat_dim()];
    while !sim.env().is_done() {
        sim.step(&actions).unwrap();
        let step = sim.env().clock().step();
        entries.extend(sim.env().reward_entries().iter().map(|e| (step, *e)));
    }
    entries
}

fn state(sim: &Sim) -> &State {
    sim.env()
        .get::<State>()
        .expect("a negotiation env has its state")
}

/// SOTOPIA-EVAL's ranges by dimension (Zhou et al. 2024; ../shared/REFERENCES.md), written out
/// here rather than read from the game.
const SOTOPIA_EVAL: [(&str, (f64, f64)); 7] = [
    ("believability", (0.0, 10.0)),
    ("relationship", (-5.0, 5.0)),
    ("knowledge", (0.0, 10.0)),
    ("secret", (-10.0, 0.0)),
    ("social_rules", (-10.0, 0.0)),
    ("financial", (-5.0, 5.0)),
    ("goal", (0.0, 10.0)),
];

/// Over 10,000 episodes of random agents (items) and 2,000 (a divisible good), every agent's
/// episode total of every dimension lies in Sotopia's range and equals the sum of its entries.
#[test]
fn dimension_totals_stay_in_sotopias_ranges_and_equal_their_entries() {
    for (goods, episodes) in [("items", 10_000), ("divisible", 2_000)] {
        let text = pair(
            &format!("goods = \"{goods}\"\nfree_text = 0"),
            "controller = \"random\"",
            "controller = \"random\"",
        );
        let mut sim = sim(&text);
        sim.reset(Some(1));
        let mut entries_seen = 0;
        for episode in 0..episodes {
            if episode > 0 {
                sim.reset(None);
            }
            let mut sums = [[0.0f64; 7]; 2];
            for (_, e) in play_episode(&mut sim) {
                sums[e.agent.index()][e.dimension.0 as usize] += e.value;
                entries_seen += 1;
            }
            let raw = sim.env().episode_raw_rewards();
            let dimensions = sim.env().reward_dimensions();
            for a in 0..2 {
                for d in 0..7 {
                    let name = dimensions[d].name;
                    let (_, (lo, hi)) = *SOTOPIA_EVAL.iter().find(|e| e.0 == name).unwrap();
                    assert_eq!(
                        DIMENSIONS_RANGE[d],
                        (lo, hi),
                        "{name}: the game's own range"
                    );
                    let total = raw[a * 7 + d];
                    assert!(
                        total >= lo - 1e-9 && total <= hi + 1e-9,
                        "{goods} episode {episode}: agent {a} dimension {d}: {total} outside [{lo}, {hi}]"
                    );
                    assert!(
                        (total - sums[a][d]).abs() < 1e-9,
                        "{goods} episode {episode}: agent {a} dimension {d}: total {total}, entries {}",
                        sums[a][d]
                    );
                    assert!((state(&sim).totals[a][d] - total).abs() < 1e-9);
                }
            }
        }
        assert!(
            entries_seen > 10 * episodes,
            "{goods}: {entries_seen} entries"
        );
    }
}

/// Rubinstein (1982): subgame-perfect players agree at the first offer on the proposer's share
/// (1 − δ2)/(1 − δ1·δ2), 10/19 ≈ 0.5263 for δ1 = δ2 = 0.9.
#[test]
fn subgame_perfect_players_agree_at_once_on_rubinsteins_share() {
    for (d1, d2) in [(0.9, 0.9), (0.8, 0.95), (0.6, 0.3)] {
        let text = pair(
            &format!("goods = \"divisible\"\ndiscount = [{d1}, {d2}]"),
            "strategy = \"spe\"",
            "strategy = \"spe\"",
        );
        let mut sim = sim(&text);
        for seed in 0..5 {
            sim.reset(Some(seed));
            play_episode(&mut sim);
            let table = &state(&sim).tables[0];
            let expected = (1.0 - d2) / (1.0 - d1 * d2);
            assert_eq!(table.turn, 2, "δ = ({d1}, {d2}): one offer, one acceptance");
            let agreed = table.agreed.expect("a deal");
            assert_eq!((agreed.proposer, agreed.period), (0, 0));
            let acts::Proposal::Share(share) = agreed.proposal else {
                panic!("a share")
            };
            assert!(
                (share - expected).abs() < 1e-9,
                "δ = ({d1}, {d2}): {share} vs {expected}"
            );
            let first_share = sim.env().metrics().mean(negotiation::FIRST_SHARE).unwrap();
            assert!((first_share - expected).abs() < 1e-9);
        }
    }
}

/// Sotopia's visibility rule, kind by kind: a stranger sees nothing of the partner's profile,
/// know-by-name the name, an acquaintance all but personality (and secret), a friend, romantic
/// partner or family member all but the secret (which no observation block holds); both ends of
/// the tie.
#[test]
fn the_relationship_decides_what_each_sees_of_the_other() {
    use layout::*;
    let profiles = social::bundled_profiles();
    let kinds = [
        ("stranger", false, false, false),
        ("know_by_name", true, false, false),
        ("acquaintance", true, true, false),
        ("friend", true, true, true),
        ("romantic", true, true, true),
        ("family", true, true, true),
    ];
    for (k, (kind, name, background, personality)) in kinds.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tie.edges"), format!("0 1 {kind}\n")).unwrap();
        let text = format!(
            "{}[graph.edge_list]\npath = \"tie.edges\"\n",
            pair("", "strategy = \"fair\"", "strategy = \"fair\"")
        );
        let s = Scenario::parse(&text, &dir.path().join("s.toml")).unwrap();
        let mut sim = s.sim().unwrap();
        sim.reset(Some(3));
        let env = sim.env();
        let dim = env.observations().len() / 2;
        for (me, partner) in [(0, &profiles[1]), (1, &profiles[0])] {
            let row = &env.observations()[me * dim..(me + 1) * dim];
            let one_hot: Vec<f32> = (0..6).map(|j| f32::from(u8::from(j == k))).collect();
            assert_eq!(
                &row[RELATIONSHIP..RELATIONSHIP + 6],
                one_hot.as_slice(),
                "{kind}"
            );
            let flag = |b: bool| f32::from(u8::from(b));
            assert_eq!(
                &row[SEEN..SEEN + 3],
                &[flag(name), flag(background), flag(personality)],
                "{kind}"
            );
            let code = |b: bool, text: &str| if b { social::code(text) } else { 0.0 };
            assert_eq!(row[NAME], code(name, &partner.name), "{kind}");
            assert_eq!(
                row[OCCUPATION],
                code(background, &partner.occupation),
                "{kind}"
            );
            assert_eq!(
                row[VALUES_CODE],
                code(background, &partner.values),
                "{kind}"
            );
            let age = if background {
                f32::from(partner.age) / 100.0
            } else {
                0.0
            };
            assert_eq!(row[AGE], age, "{kind}");
            assert_eq!(
                row[STYLE..STYLE + 4].iter().sum::<f32>(),
                flag(background),
                "{kind}"
            );
            let big_five = if personality {
                partner.big_five
            } else {
                [0.0; 5]
            };
            assert_eq!(&row[BIG_FIVE..BIG_FIVE + 5], &big_five, "{kind}");
        }
    }
}

/// Entries of agent `a` on dimension `d`, by the utterance they are credited to.
fn credited(entries: &[(u32, RewardEntry)], a: u32, d: DimId) -> Vec<(u32, UtteranceId, f64)> {
    entries
        .iter()
        .filter(|(_, e)| e.agent == AgentId(a) && e.dimension == d)
        .map(|(step, e)| (*step, e.utterance, e.value))
        .collect()
}

/// The liar's false reveal costs it 2 social-rules points at once and, exposed when the
/// negotiation ends, 2 × the tie's scale of relationship, credited to the lie.
#[test]
fn a_lie_costs_social_rules_at_once_and_relationship_once_exposed() {
    let mut sim = sim(&pair("", "strategy = \"liar\"", "strategy = \"fair\""));
    let mut lies = 0;
    for seed in 0..20 {
        sim.reset(Some(seed));
        let liar_first = state(&sim).tables[0].seats[0] == AgentId(0);
        let entries = play_episode(&mut sim);
        let table = &state(&sim).tables[0];
        let [lie] = table.lies[table.side_of(AgentId(0))][..] else {
            panic!("seed {seed}: the liar lies once");
        };
        lies += 1;
        // The lie is the liar's first utterance: its entries are written at the end of step 0
        // (the clock then reads 1) when it speaks first, else of step 1.
        let lie_step = if liar_first { 1 } else { 2 };
        let social = credited(&entries, 0, negotiation::SOCIAL_RULES);
        assert!(
            social.contains(&(lie_step, lie, -2.0)),
            "seed {seed}: {social:?}"
        );
        let relationship = credited(&entries, 0, negotiation::RELATIONSHIP);
        let exposed: Vec<_> = relationship.iter().filter(|r| r.1 == lie).collect();
        // Acquaintances (the complete graph's default tie): scale 0.8.
        let end = sim.env().clock().step();
        assert_eq!(
            exposed,
            [&(end, lie, -1.6)],
            "seed {seed}: {relationship:?}"
        );
        // The fair partner never lies.
        assert!(
            credited(&entries, 1, negotiation::SOCIAL_RULES)
                .iter()
                .all(|r| r.2 != -2.0)
        );
    }
    assert_eq!(lies, 20);
}

/// A Sim of `text` (agent 0 external, in one pair) at a seed where agent 0 speaks first, after
/// it played `act`.
fn speaking_first(text: &str, act: usize) -> Sim {
    let mut sim = sim(text);
    let seed = (0..).find(|&s| {
        sim.reset(Some(s));
        state(&sim).tables[0].seats[0] == AgentId(0)
    });
    sim.reset(seed);
    sim.step(&[act as f32, 0.0]).unwrap();
    sim
}

/// Telling the secret truly costs its severity in secret points and teaches the partner 2
/// knowledge points; a made-up secret costs 2 social-rules points and teaches nothing.
#[test]
fn a_told_secret_costs_its_severity() {
    let text = pair("", "controller = \"external\"", "strategy = \"greedy\"");
    let severity = f64::from(social::bundled_profiles()[0].secret.severity);
    for (act, secret, social, knowledge) in [
        (acts::index::REVEAL_SECRET, -severity, 0.0, 2.0),
        (acts::index::REVEAL_SECRET + 1, 0.0, -2.0, 0.0),
    ] {
        let sim = speaking_first(&text, act);
        let sum = |a: u32, d: DimId| -> f64 {
            let entries = sim.env().reward_entries();
            entries
                .iter()
                .filter(|e| e.agent == AgentId(a) && e.dimension == d)
                .map(|e| e.value)
                .sum()
        };
        assert_eq!(sum(0, negotiation::SECRET), secret, "act {act}");
        assert_eq!(sum(0, negotiation::SOCIAL_RULES), social, "act {act}");
        assert_eq!(sum(1, negotiation::KNOWLEDGE), knowledge, "act {act}");
    }
}

/// The words of a lie read as a claim like any other: no mark says it is false (the judge and
/// the attribution model hear the words; the rewards say what was true). A made-up fact denies
/// the true one.
#[test]
fn a_lie_is_said_without_a_mark() {
    let text = pair("", "controller = \"external\"", "strategy = \"greedy\"")
        + "[output]\ntranscript = true\n";
    let fact = &social::bundled_profiles()[0].facts[0].text;
    let said = |act: usize| {
        let sim = speaking_first(&text, act);
        let first = sim.env().utterances()[0].clone();
        assert_eq!(first.speaker, AgentId(0), "act {act}");
        first.words()
    };
    use acts::index::{REVEAL_FACT, REVEAL_SECRET, REVEAL_VALUE};
    use negotiation::{items::ITEMS, social::MAX_FACTS};
    let lies = [
        REVEAL_VALUE + ITEMS,
        REVEAL_FACT + MAX_FACTS,
        REVEAL_SECRET + 1,
    ];
    for act in lies {
        let words = said(act);
        assert!(
            !words.contains("false") && !words.contains("made-up"),
            "{words}"
        );
    }
    assert!(said(REVEAL_FACT).ends_with(&format!("\"{fact}\"")));
    // The bundled profile's made-up version of its first fact.
    assert!(
        said(REVEAL_FACT + MAX_FACTS)
            .ends_with("\"The unit is ours until the end of next month.\""),
        "{}",
        said(REVEAL_FACT + MAX_FACTS)
    );
}

/// A fair/fair pair that strikes a Pareto-optimal deal scores goal equal to its goal's final
/// score, `g(score)` (the potential ends there), with the bundled goals: target 10, and target
/// 7 with keep-the-relationship.
#[test]
fn fair_pairs_on_pareto_optimal_splits_score_goal_equal_to_their_final_score() {
    let mut sim = sim(&pair("", "strategy = \"fair\"", "strategy = \"fair\""));
    let mut pareto = 0;
    for seed in 0..200 {
        sim.reset(Some(seed));
        play_episode(&mut sim);
        let table = &state(&sim).tables[0];
        let Some(agreed) = table.agreed else { continue };
        if !table.deal.pareto_optimal(table.take(0, &agreed)) {
            continue;
        }
        pareto += 1;
        for side in 0..2 {
            let a = table.seats[side];
            let goal =
                sim.env().episode_raw_rewards()[a.index() * 7 + negotiation::GOAL.0 as usize];
            let expected = goal_score(table.scores[side], state(&sim).goal(a), table.harm[side]);
            assert!(
                (goal - expected).abs() < 1e-9,
                "seed {seed}: goal {goal}, expected {expected}"
            );
            if state(&sim).goal(a).target == 10.0 {
                assert!((goal - table.scores[side]).abs() < 1e-9, "seed {seed}");
            }
        }
    }
    assert!(
        pareto >= 20,
        "only {pareto} Pareto-optimal deals in 200 episodes"
    );
}

/// A scenario's step limit below `max_turns` ends the talk as `max_turns` does: at the last
/// step every table is settled, each side scoring the deal or its reservation, and its goal is
/// that score's (the cut had left the standing offer's worth as the goal, and no score).
#[test]
fn a_step_limit_settles_every_table_as_max_turns_does() {
    let text = "[scenario]\nname = \"n\"\nmax_steps = 3\n[game.negotiation]\n\
                [[agents]]\nstrategy = \"fair\"\n[[agents]]\nstrategy = \"conceder\"\n";
    let mut sim = sim(text);
    let mut unagreed = 0;
    for seed in 0..50 {
        sim.reset(Some(seed));
        play_episode(&mut sim);
        assert_eq!(sim.env().clock().step(), 3, "seed {seed}: cut at the limit");
        let table = &state(&sim).tables[0];
        assert!(table.over, "seed {seed}: the table is settled");
        unagreed += usize::from(table.agreed.is_none());
        for side in 0..2 {
            let a = table.seats[side];
            let goal = state(&sim).goal(a);
            if table.agreed.is_none() {
                assert_eq!(table.scores[side], goal.reservation, "seed {seed}");
            }
            let total =
                sim.env().episode_raw_rewards()[a.index() * 7 + negotiation::GOAL.0 as usize];
            let expected = goal_score(table.scores[side], goal, table.harm[side]);
            assert!(
                (total - expected).abs() < 1e-9,
                "seed {seed}: {total} vs {expected}"
            );
        }
    }
    assert!(unagreed >= 10, "only {unagreed} talks cut without a deal");
}

/// Sotopia's idle rule (Zhou et al. 2024; `play::PASS_LIMIT`): more than two passes in a row
/// end the talk with no deal, each side scoring its reservation; an offer between passes starts
/// the count again.
#[test]
fn three_passes_in_a_row_end_the_talk_without_a_deal() {
    let text = pair("", "controller = \"external\"", "controller = \"external\"");
    let mut sim = sim(&text);
    let dim = sim.spaces().action.flat_dim();
    // Both rows carry the act; only the speaker's is read.
    let play = |sim: &mut Sim, act: usize| {
        let mut rows = vec![0.0; 2 * dim];
        (rows[0], rows[dim]) = (act as f32, act as f32);
        sim.step(&rows).unwrap();
    };
    for seed in 0..5 {
        sim.reset(Some(seed));
        let (pass, offer) = (acts::index::PASS, acts::index::OFFER);
        for act in [pass, pass, offer, pass, pass] {
            play(&mut sim, act);
        }
        assert!(
            !sim.env().is_done(),
            "seed {seed}: two passes since the offer"
        );
        assert_eq!(state(&sim).tables[0].passes, 2);
        play(&mut sim, pass);
        assert!(
            sim.env().is_done(),
            "seed {seed}: the third pass in a row ends it"
        );
        let table = &state(&sim).tables[0];
        assert_eq!((table.turn, table.agreed), (6, None), "seed {seed}");
        for side in 0..2 {
            let reservation = state(&sim).goal(table.seats[side]).reservation;
            assert_eq!(table.scores[side], reservation, "seed {seed}, side {side}");
        }
    }
}

/// A market pairs agents over the graph's ties only, each at most once; the tie a pair played
/// on moves by a tenth of the relationship both built, and keeps it into the next episode.
#[test]
fn a_market_pairs_over_ties_and_ties_remember_the_relationship() {
    let text = "[scenario]\nname = \"m\"\n[game.negotiation]\n\
                [graph.ring_lattice]\nk = 2\n\
                [[agents]]\nstrategy = \"tit_for_tat\"\ncount = 5\n\
                [[agents]]\nstrategy = \"liar\"\ncount = 5\n";
    let mut sim = sim(text);
    sim.reset(Some(9));
    let mut carried = HashMap::new();
    for episode in 0..30 {
        if episode > 0 {
            sim.reset(None);
        }
        let before: HashMap<(u32, u32), f32> = state(&sim)
            .tables
            .iter()
            .map(|t| {
                let [a, b] = t.seats;
                let w = sim
                    .env()
                    .graph()
                    .tie(a, b)
                    .expect("pairs sit on ties")
                    .weight;
                ((a.0.min(b.0), a.0.max(b.0)), w)
            })
            .collect();
        for (pair, w) in &before {
            if let Some(&after) = carried.get(pair) {
                assert_eq!(
                    *w, after,
                    "episode {episode}: the tie {pair:?} kept its weight"
                );
            }
        }
        let mut seated = [0; 10];
        for t in &state(&sim).tables {
            t.seats.iter().for_each(|s| seated[s.index()] += 1);
        }
        assert!(seated.iter().all(|&s| s <= 1));
        assert!(
            state(&sim).tables.len() >= 3,
            "a maximal matching of a 10-ring has ≥ 4 pairs"
        );
        play_episode(&mut sim);
        let raw = sim.env().episode_raw_rewards().to_vec();
        for t in &state(&sim).tables {
            let [a, b] = t.seats;
            let key = (a.0.min(b.0), a.0.max(b.0));
            let built = raw[a.index() * 7 + 5] + raw[b.index() * 7 + 5];
            let w = sim.env().graph().tie(a, b).unwrap().weight;
            assert!((w - (before[&key] + (built / 10.0) as f32)).abs() < 1e-6);
            carried.insert(key, w);
        }
    }
    sim.reset(Some(9));
    assert!(
        sim.env()
            .graph()
            .tie(AgentId(0), AgentId(1))
            .unwrap()
            .weight
            == 1.0,
        "a seeded reset draws the graph anew"
    );
}

#[test]
fn goal_score_follows_the_formula() {
    let goal = social::Goal {
        text: String::new(),
        target: 8.0,
        reservation: 2.0,
        keep_relationship: true,
    };
    assert_eq!(goal_score(4.0, &goal, 0), 5.0);
    assert_eq!(goal_score(9.0, &goal, 0), 10.0);
    assert_eq!(goal_score(4.0, &goal, 1), 3.0);
    assert_eq!(goal_score(4.0, &goal, 3), 0.0);
}

#[test]
fn bad_settings_are_refused_with_the_key() {
    for (game, needle) in [
        ("discount = [0.9, 1.5]", "discount"),
        (
            "goods = \"divisible\"\nagreement = \"selection\"",
            "agreement",
        ),
        (
            "[game.negotiation.setting]\ntext = \"t\"\ngoals = [{ text = \"g\", target = 0 }]",
            "setting.goals[0].target",
        ),
    ] {
        let text = pair(game, "strategy = \"fair\"", "strategy = \"fair\"");
        let err = match Scenario::parse(&text, Path::new("n.toml")) {
            Ok(_) => panic!("{game}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(needle), "{game}: {err}");
    }
}

/// An ONNX policy drives a negotiator through the game's spaces and masks:
/// `negotiation_linear.onnx` (built by assets/policies/make_policies.py) accepts whenever the
/// partner's offer stands, and otherwise makes the legal offer with the largest table index.
#[test]
fn an_onnx_policy_drives_a_negotiator() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/policies/negotiation_linear.onnx");
    let text = pair(
        "",
        &format!("policy = {:?}", model.to_str().unwrap()),
        "strategy = \"conceder\"",
    );
    let mut sim = sim(&text);
    let mut checked = [0; 2];
    for seed in 0..20 {
        sim.reset(Some(seed));
        while !sim.env().is_done() {
            let expected = sim.env().acting()[0].then(|| {
                let table = &state(&sim).tables[0];
                let theirs = table
                    .standing
                    .is_some_and(|o| table.seats[o.proposer] != AgentId(0));
                match theirs {
                    true => ("accept", None),
                    false => {
                        let best = (0..125)
                            .rev()
                            .find(|&k| table.deal.fits(negotiation::items::allocation(k)));
                        ("offer", best.map(|k| k as f64))
                    }
                }
            });
            sim.step(&[0.0, 0.0]).unwrap();
            let said: Vec<_> = sim
                .env()
                .utterances()
                .iter()
                .filter(|u| u.speaker == AgentId(0))
                .collect();
            match expected {
                None => assert!(said.is_empty()),
                Some((kind, value)) => {
                    assert_eq!(said.len(), 1);
                    assert_eq!(said[0].act.kind, kind, "seed {seed}");
                    if let Some(v) = value {
                        assert_eq!(said[0].act.value, v, "seed {seed}");
                    }
                    checked[usize::from(kind == "accept")] += 1;
                }
            }
        }
    }
    assert!(
        checked[0] >= 5 && checked[1] >= 10,
        "offers and acceptances checked: {checked:?}"
    );
}

/// Deal or No Deal's protocol (Lewis et al. 2017, §2; REFERENCES.md): either side may end the
/// talk, even with nothing on the table; both then select at the same step, privately, what they
/// take, and only selections complementary for every item make a deal, each side scoring what it
/// takes by its own values (with its financial entry against its own selection); any other pair
/// of selections leaves both with their no-deal score (0 under the bundled goals, as in Lewis et
/// al.).
#[test]
fn only_complementary_selections_make_a_deal() {
    use acts::index::{ACCEPT, OFFER, WALK_AWAY};
    use negotiation::items::allocation_index;
    let text = pair(
        "agreement = \"selection\"",
        "controller = \"external\"",
        "controller = \"external\"",
    );
    let mut sim = sim(&text);
    let n_acts = acts::count(false);
    for (case, selections) in [
        ("complementary", [Some(0), Some(1)]),
        ("both take the first's share", [Some(0), Some(0)]),
        ("one selects no agreement", [Some(0), None]),
    ] {
        sim.reset(Some(3));
        let table = &state(&sim).tables[0];
        let (seats, deal) = (table.seats, table.deal);
        let first = seats[0].index();
        // The first's take: one of each item it has; the second's: the rest.
        let keep: [u8; 3] = std::array::from_fn(|i| deal.counts[i].min(1));
        let takes = [keep, deal.rest(keep)];
        // Ending the talk is legal at once, with no offer on the table.
        assert_eq!(
            sim.env().action_masks()[first * n_acts + ACCEPT],
            1,
            "{case}"
        );
        let mut actions = [0.0f32; 2];
        actions[first] = ACCEPT as f32;
        sim.step(&actions).unwrap();
        assert!(state(&sim).tables[0].selecting, "{case}");
        assert_eq!(
            sim.env().acting(),
            [true, true],
            "{case}: both select at once"
        );
        for a in 0..2 {
            let mask = &sim.env().action_masks()[a * n_acts..(a + 1) * n_acts];
            let legal: Vec<usize> = (0..n_acts).filter(|&k| mask[k] == 1).collect();
            assert!(legal.contains(&WALK_AWAY), "{case}");
            assert!(
                legal.iter().all(|&k| k == WALK_AWAY || k >= OFFER),
                "{case}: only selections are legal, found {legal:?}"
            );
        }
        for (side, pick) in selections.iter().enumerate() {
            actions[seats[side].index()] = match pick {
                Some(which) => (OFFER + allocation_index(takes[*which])) as f32,
                None => WALK_AWAY as f32,
            };
        }
        sim.step(&actions).unwrap();
        assert!(sim.env().is_done(), "{case}");
        let table = &state(&sim).tables[0];
        let said = sim.env().utterances();
        let picks: Vec<_> = said.iter().filter(|u| u.act.kind == "select").collect();
        assert_eq!(picks.len(), 2, "{case}");
        for u in &picks {
            // Said to its maker alone: no observation shows the partner's.
            assert_eq!(
                u.audience,
                socium::core::Audience::Agent(u.speaker),
                "{case}"
            );
            let row = &sim.env().observations()[(1 - u.speaker.index()) * layout::DIM..];
            let partner_last = &row[layout::PARTNER_LAST..layout::PARTNER_LAST + 13];
            assert!(partner_last.iter().all(|&x| x == 0.0), "{case}");
        }
        let financial = |a: AgentId| -> Vec<(UtteranceId, f64)> {
            (sim.env().reward_entries().iter())
                .filter(|e| e.agent == a && e.dimension == negotiation::FINANCIAL)
                .map(|e| (e.utterance, e.value))
                .collect()
        };
        if case == "complementary" {
            assert!(table.agreed.is_some(), "{case}");
            assert!(table.scores.iter().any(|&s| s > 0.0), "{case}: {table:?}");
            for side in 0..2 {
                let score = f64::from(deal.worth(side, takes[side]));
                assert_eq!(table.scores[side], score, "{case}: side {side}");
                let own = picks.iter().find(|u| u.speaker == seats[side]).unwrap().id;
                // An entry of 0 is not written.
                let expected: Vec<_> = (score > 0.0)
                    .then_some((own, score / 2.0))
                    .into_iter()
                    .collect();
                assert_eq!(financial(seats[side]), expected, "{case}");
            }
        } else {
            assert!(table.agreed.is_none(), "{case}");
            assert_eq!(table.scores, [0.0, 0.0], "{case}");
            assert!(financial(seats[0]).is_empty() && financial(seats[1]).is_empty());
        }
        let deal_share = f64::from(u8::from(case == "complementary"));
        assert_eq!(
            sim.env().metrics().mean(negotiation::DEAL),
            Some(deal_share),
            "{case}"
        );
    }
}

/// Scripted negotiators end the talk where they would accept and then select the standing
/// offer's split: under Deal or No Deal's protocol the bundled market strikes the same deals at
/// the same scores as by accepting, one step later, with the same episode totals of every
/// dimension; with discounts too (a deal by selection is worth what the talk's last offer would
/// be, discounted by the periods before it).
#[test]
fn scripted_players_select_the_deals_they_would_accept() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/deal_or_no_deal.toml");
    let bundled = std::fs::read_to_string(&path).unwrap();
    for discount in ["", "discount = [0.9, 0.8]\n"] {
        let text = bundled.replace(
            "goods = \"items\"\n",
            &format!("goods = \"items\"\n{discount}"),
        );
        let by = |agreement: &str| {
            let text = text.replace(
                "agreement = \"selection\"",
                &format!("agreement = \"{agreement}\""),
            );
            assert!(text.contains(agreement) && text.contains(discount));
            Scenario::parse(&text, &path).unwrap().sim().unwrap()
        };
        let (mut accepting, mut selecting) = (by("accept"), by("selection"));
        let mut deals = 0;
        for seed in 0..100 {
            let mut outcomes = Vec::new();
            for sim in [&mut accepting, &mut selecting] {
                sim.reset(Some(seed));
                play_episode(sim);
                let tables: Vec<_> = (state(sim).tables.iter())
                    .map(|t| (t.seats, t.agreed.map(|o| t.take(0, &o)), t.scores, t.turn))
                    .collect();
                outcomes.push((tables, sim.env().episode_raw_rewards().to_vec()));
            }
            let [(accepted, a_totals), (selected, s_totals)] = &outcomes[..] else {
                unreachable!()
            };
            assert_eq!(accepted, selected, "{discount}seed {seed}");
            for (k, (a, s)) in a_totals.iter().zip(s_totals).enumerate() {
                assert!(
                    (a - s).abs() < 1e-9,
                    "{discount}seed {seed}, total {k}: {a} against {s}"
                );
            }
            deals += accepted.iter().filter(|t| t.1.is_some()).count();
        }
        assert!(deals > 200, "{discount}{deals} deals in 600 negotiations");
    }
}

/// Rubinstein's (1982) alternating offers, strictly (`agreement = "alternating"`): at its turn a
/// side accepts the standing offer, or rejects it by making the next period's offer, or walks
/// away; nothing else is legal, for random players (the mask) and scripted ones alike (the
/// bundled market's strategies keep to offers and acceptances), and a deal on the k-th offer is
/// discounted k − 1 times. An `spe` responder facing a greedy first offer (the whole good)
/// rejects it by proposing its own subgame-perfect share at period 1, 1/(1 + δ) of the good for
/// δ1 = δ2 = δ, which the greedy side accepts.
#[test]
fn alternating_offers_leave_only_offers_acceptances_and_walk_aways() {
    let allowed = ["offer", "accept", "walk_away"];
    let random = pair(
        "goods = \"divisible\"\nagreement = \"alternating\"\ndiscount = [0.9, 0.8]",
        "controller = \"random\"",
        "controller = \"random\"",
    );
    let mut sim = sim(&random);
    let mut deals = 0;
    for seed in 0..300 {
        sim.reset(Some(seed));
        let mut kinds = Vec::new();
        while !sim.env().is_done() {
            sim.step(&[0.0; 4]).unwrap();
            kinds.extend(sim.env().utterances().iter().map(|u| u.act.kind));
        }
        assert!(kinds.iter().all(|k| allowed.contains(k)), "{kinds:?}");
        let table = &state(&sim).tables[0];
        if let Some(agreed) = table.agreed {
            deals += 1;
            assert_eq!(agreed.period + 1, table.offers, "seed {seed}");
        }
    }
    assert!(deals > 50, "{deals} deals");
    // The bundled market's scripted negotiators, items, strict alternation.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/deal_or_no_deal.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("agreement = \"selection\"", "agreement = \"alternating\"");
    let mut market = Scenario::parse(&text, &path).unwrap().sim().unwrap();
    for seed in 0..50 {
        market.reset(Some(seed));
        while !market.env().is_done() {
            market.step(&[0.0; 12]).unwrap();
            for u in market.env().utterances() {
                assert!(allowed.contains(&u.act.kind), "seed {seed}: {:?}", u.act);
            }
        }
    }
    // Greedy asks for everything; the spe responder counters at period 1 with its
    // subgame-perfect share as proposer, (1 − δ0)/(1 − δ0·δ1) (1/(1 + δ) for δ0 = δ1 = δ), which
    // the greedy side accepts. Both sides' scores are their shares of the good's 10, discounted
    // once each by their own δ.
    for (d0, d1) in [(0.9, 0.9), (0.9, 0.8)] {
        let text = pair(
            &format!("goods = \"divisible\"\nagreement = \"alternating\"\ndiscount = [{d0}, {d1}]"),
            "strategy = \"greedy\"",
            "strategy = \"spe\"",
        );
        let mut sim = self::sim(&text);
        let share = (1.0 - d0) / (1.0 - d0 * d1);
        let scores = [10.0 * (1.0 - share) * d0, 10.0 * share * d1];
        let mut checked = 0;
        for seed in 0..20 {
            sim.reset(Some(seed));
            if state(&sim).tables[0].seats[0] != AgentId(0) {
                continue;
            }
            play_episode(&mut sim);
            let table = &state(&sim).tables[0];
            let agreed = table.agreed.expect("a deal");
            assert_eq!((agreed.proposer, agreed.period), (1, 1), "seed {seed}");
            let acts::Proposal::Share(agreed_share) = agreed.proposal else {
                panic!("a share")
            };
            assert!(
                (agreed_share - share).abs() < 1e-9,
                "{agreed_share} against {share}"
            );
            for (side, (got, want)) in table.scores.iter().zip(scores).enumerate() {
                assert!(
                    (got - want).abs() < 1e-9,
                    "δ = ({d0}, {d1}), side {side}: {got} against {want}"
                );
            }
            checked += 1;
        }
        assert!(checked > 5);
    }
}

/// With free text, an outside agent's words go with its private selection as with any act
/// (the selection's audience stays its maker); without, the selection renders its own words.
#[test]
fn an_outside_agents_words_go_with_its_selection() {
    use acts::index::{ACCEPT, OFFER};
    let text = pair(
        "agreement = \"selection\"\nfree_text = 40",
        "controller = \"external\"",
        "controller = \"external\"",
    );
    let mut sim = sim(&text);
    sim.reset(Some(3));
    let seats = state(&sim).tables[0].seats;
    let deal = state(&sim).tables[0].deal;
    let width = sim.spaces().action.flat_dim();
    let mut actions = vec![0.0f32; 2 * width];
    actions[seats[0].index() * width] = ACCEPT as f32;
    sim.step(&actions).unwrap();
    let take = |k: [u8; 3]| (OFFER + negotiation::items::allocation_index(k)) as f32;
    actions[seats[0].index() * width] = take([0; 3]);
    actions[seats[1].index() * width] = take(deal.counts);
    sim.set_text(seats[0], "Nothing for me, then.").unwrap();
    sim.step(&actions).unwrap();
    let said = |a: AgentId| {
        let u = (sim.env().utterances().iter())
            .find(|u| u.act.kind == "select" && u.speaker == a)
            .unwrap();
        assert_eq!(u.audience, socium::core::Audience::Agent(a));
        u.words()
    };
    assert_eq!(said(seats[0]), "Nothing for me, then.");
    assert!(
        said(seats[1]).contains("selects, privately"),
        "{}",
        said(seats[1])
    );
}

/// Faratin, Sierra & Jennings (1998) time-dependent tactics: at turn t of a talk whose last turn
/// is T (`max_turns − 1`) a negotiator with reservation r demands r + (1 − α(t))(10 − r) of the
/// good's 10, α(t) = (t/T)^(1/β) (k = 0: it opens demanding everything). Against a partner that
/// only ever asks for the whole good, every offer of a boulware (β = 0.2) and a conceder (β = 5)
/// is that share exactly, and at each turn where both offer, the boulware demands more.
#[test]
fn time_dependent_negotiators_concede_as_faratins_alpha() {
    let max_turns = 12;
    let mut demands: Vec<Vec<(u32, f64)>> = Vec::new();
    for (strategy, beta) in [("boulware", 0.2), ("conceder", 5.0)] {
        let text = pair(
            &format!("goods = \"divisible\"\nmax_turns = {max_turns}"),
            &format!("strategy = \"{strategy}\"\nparams = {{ beta = {beta} }}"),
            "controller = \"external\"",
        );
        let mut sim = sim(&text);
        let dim = sim.spaces().action.flat_dim();
        let mut made = Vec::new();
        for seed in 0..2 {
            sim.reset(Some(seed));
            let me = (state(&sim).tables[0].seats.iter())
                .position(|&a| a == AgentId(0))
                .unwrap();
            let r = state(&sim).goal(AgentId(0)).reservation;
            while !sim.env().is_done() {
                // The outside agent asks for the whole good whenever it speaks.
                let mut rows = vec![0.0; 2 * dim];
                (rows[dim], rows[dim + 1]) = (acts::index::OFFER as f32, 1.0);
                sim.step(&rows).unwrap();
                let table = &state(&sim).tables[0];
                let Some(offer) = table.standing.filter(|o| o.proposer == me) else {
                    continue;
                };
                let t = table.turn - 1;
                if t % 2 != me as u32 || made.iter().any(|&(at, _)| at == (seed, t)) {
                    continue;
                }
                let acts::Proposal::Share(share) = offer.proposal else {
                    panic!("a share")
                };
                let alpha = (f64::from(t) / f64::from(max_turns - 1)).powf(1.0 / beta);
                let want = (r + (1.0 - alpha) * (10.0 - r)) / 10.0;
                assert!(
                    (share - want).abs() < 1e-9,
                    "{strategy}, seed {seed}, turn {t}: demands {share}, Faratin's α gives {want}"
                );
                made.push(((seed, t), share));
            }
        }
        assert!(made.len() >= max_turns as usize - 2, "{strategy}: {made:?}");
        demands.push(made.into_iter().map(|((_, t), s)| (t, s)).collect());
    }
    let mut compared = 0;
    for &(t, boulware) in &demands[0] {
        for &(_, conceder) in demands[1].iter().filter(|d| d.0 == t && t > 0) {
            assert!(
                boulware > conceder,
                "turn {t}: {boulware} against {conceder}"
            );
            compared += 1;
        }
    }
    assert!(compared > 0);
}
