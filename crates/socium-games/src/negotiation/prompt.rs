//! The negotiation in words, for an agent that reads (a language model), rendered from its
//! observation row: the setting and its own profile and goal (its own, so it knows them), the
//! partner as far as the relationship shows it (the observation holds the partner's name as a
//! code, which the scenario's profiles resolve), the goods, the standing offer, the partner's
//! claims and last act, and every legal act in words.

use super::{
    Agreement, Goods, NegotiationConfig,
    acts::{self, KINDS, Move, Proposal},
    items::{self, ITEM_NAMES, ITEMS, Triple},
    layout::*,
    social,
};
use socium_core::{AgentId, Prompt};
use std::fmt::Write as _;

const KIND_NAMES: [&str; 6] = [
    "a stranger",
    "someone you know by name",
    "an acquaintance",
    "a friend",
    "your romantic partner",
    "family",
];

/// Agent `agent`'s prompt from its observation row and action mask.
pub(super) fn render(
    config: &NegotiationConfig,
    agent: AgentId,
    obs: &[f32],
    mask: &[u8],
) -> Prompt {
    let (me, goal) = (config.profile(agent), config.goal(agent));
    let mut rules = format!(
        "{}\n\nYou are {}, {}, {}. Your personality: {}. You value {}.\nYour goal: {} A score of \
         {} out of 10 fully meets it; without a deal you get {}.",
        config.setting.text,
        me.name,
        me.age,
        me.occupation,
        me.personality,
        me.values,
        goal.text,
        goal.target,
        goal.reservation
    );
    if goal.keep_relationship {
        rules.push_str(" Keep the relationship: threats, coldness and walking away cost you.");
    }
    write!(
        rules,
        "\nYour secret (never tell it unless you mean to): {}",
        me.secret.text
    )
    .expect("writing to a String");
    for (k, fact) in me.facts.iter().enumerate() {
        write!(rules, "\nFact {k} you know: {}", fact.text).expect("writing to a String");
    }
    rules.push_str(match config.agreement {
        Agreement::Accept => {
            "\nYou speak in turns. The negotiation ends with a deal when one of you accepts the \
             other's offer, or without one after a walk-away, three passes in a row, or the last \
             turn."
        }
        Agreement::Alternating => {
            "\nYou make offers in turns (Rubinstein's alternating offers): at your turn, accept \
             their standing offer, or reject it by making your own offer, or walk away; nothing \
             else may be said. A deal struck later is worth less by the discount factors. The \
             negotiation ends without a deal after a walk-away or the last turn."
        }
        Agreement::Selection => {
            "\nYou speak in turns. Either of you may end the talk by saying \"deal\"; then each \
             of you, at the same time and privately, selects what they take (or no agreement). \
             There is a deal only if the two selections together are exactly what is on the \
             table; otherwise neither of you gets anything more than without a deal. The talk \
             also ends, without a deal, after a walk-away, three passes in a row, or the last turn."
        }
    });

    let mut s = String::new();
    let seated = obs[SEATED] > 0.5;
    if !seated {
        return Prompt {
            rules,
            situation: "You are not negotiating now.".into(),
            acts: Vec::new(),
            amount: None,
        };
    }
    let kind = (0..6).find(|&k| obs[RELATIONSHIP + k] > 0.5).unwrap_or(2);
    let partner = (obs[SEEN] > 0.5)
        .then(|| {
            config
                .profiles
                .iter()
                .find(|p| social::code(&p.name) == obs[NAME])
        })
        .flatten();
    let seen = social::Visible {
        name: obs[SEEN] > 0.5,
        background: obs[SEEN + 1] > 0.5,
        personality: obs[SEEN + 2] > 0.5,
    };
    match partner {
        Some(p) => write!(
            s,
            "You negotiate with {}: {}.",
            KIND_NAMES[kind],
            seen.describe(p)
        ),
        None => write!(s, "You negotiate with {}.", KIND_NAMES[kind]),
    }
    .expect("writing to a String");
    let counts: Triple = std::array::from_fn(|i| (obs[COUNTS + i] * 4.0).round() as u8);
    let divisible = config.goods == Goods::Divisible;
    if divisible {
        s.push_str("\nYou split one good worth 10 to each of you: an offer names your share.");
    } else {
        write!(s, "\nOn the table: {}.", items::describe(counts)).expect("writing to a String");
        let values: Vec<String> = (0..ITEMS)
            .map(|i| format!("a {} {}", ITEM_NAMES[i].0, (obs[VALUES + i] * 10.0).round()))
            .collect();
        write!(s, " To you (private): {}.", values.join(", ")).expect("writing to a String");
        let claims: Vec<String> = (0..ITEMS)
            .filter(|&i| obs[CLAIMED + i] > 0.5)
            .map(|i| {
                format!(
                    "a {} is worth {} to them",
                    ITEM_NAMES[i].0,
                    (obs[CLAIMS + i] * 10.0).round()
                )
            })
            .collect();
        if !claims.is_empty() {
            write!(s, "\nThey have said: {}.", claims.join("; ")).expect("writing to a String");
        }
    }
    if obs[OFFER] > 0.5 {
        let whose = if obs[OFFER_MINE] > 0.5 {
            "Your"
        } else {
            "Their"
        };
        let worth = obs[OFFER_WORTH] * 10.0;
        match divisible {
            true => write!(
                s,
                "\n{whose} offer stands: you would get {:.1}% (worth {worth:.1} to you).",
                100.0 * obs[OFFER_SHARE]
            ),
            false => {
                let take: Triple =
                    std::array::from_fn(|i| (obs[OFFER_TAKE + i] * 4.0).round() as u8);
                write!(
                    s,
                    "\n{whose} offer stands: you would take {} (worth {worth:.0} to you).",
                    items::describe(take)
                )
            }
        }
        .expect("writing to a String");
    }
    let last = |block: usize| (0..KINDS.len()).find(|&k| obs[block + k] > 0.5);
    if let Some(k) = last(PARTNER_LAST) {
        write!(s, "\nTheir last act: {}.", KINDS[k].replace('_', " "))
            .expect("writing to a String");
    }
    // The talk is over when either side's last act ended it; both now select.
    let accept = acts::Move::Accept.kind_index();
    let selecting = config.agreement == Agreement::Selection
        && obs[MY_TURN] > 0.5
        && (last(MY_LAST) == Some(accept) || last(PARTNER_LAST) == Some(accept));
    if selecting {
        s.push_str(
            "\nThe talk is over. Select, privately, what you take: there is a deal only if your \
             selection and theirs together are exactly what is on the table.",
        );
    }
    if obs[ASKED] > 0.5 {
        s.push_str("\nThey asked what things are worth to you.");
    }
    write!(s, "\n{:.0}% of the turns are gone.", 100.0 * obs[TIME]).expect("writing to a String");

    let acts = Prompt::legal_acts(acts::count(divisible), mask, |a| {
        let m = acts::decode(a, divisible.then_some(0.0));
        let m = match selecting {
            true => m.as_selection().unwrap_or(m),
            false => m,
        };
        describe(m, counts, me, config.agreement)
    });
    Prompt {
        rules,
        situation: s,
        acts,
        amount: divisible.then(|| "your share of the good when you offer, from 0 to 1".into()),
    }
}

/// One act in words.
fn describe(m: Move, counts: Triple, me: &social::Profile, agreement: Agreement) -> String {
    match m {
        Move::Select(Some(keep)) => {
            let rest: Triple = std::array::from_fn(|i| counts[i] - keep[i]);
            format!(
                "select: you take {}, they take {}",
                items::describe(keep),
                items::describe(rest)
            )
        }
        Move::Select(None) => "select no agreement".into(),
        Move::RevealValue { item, truthful } => format!(
            "tell what a {} is worth to you{}",
            ITEM_NAMES[item as usize].0,
            if truthful { ", truly" } else { ", falsely" }
        ),
        Move::RevealFact { fact, truthful } => format!(
            "tell {}: \"{}\"",
            if truthful {
                "the fact"
            } else {
                "a false version of the fact"
            },
            me.facts[fact as usize].text
        ),
        Move::RevealSecret { truthful: true } => "tell your secret".into(),
        Move::RevealSecret { truthful: false } => "tell a made-up secret".into(),
        Move::Rapport { warm } => format!("{} rapport", if warm { "build" } else { "harm" }),
        Move::Offer(Proposal::Items(keep)) => {
            let rest: Triple = std::array::from_fn(|i| counts[i] - keep[i]);
            format!(
                "offer: you keep {}, they take {}",
                items::describe(keep),
                items::describe(rest)
            )
        }
        Move::Offer(Proposal::Share(_)) => "offer a share (give the amount)".into(),
        other => {
            let kind = other.kind().replace('_', " ");
            match other {
                Move::Accept if agreement == Agreement::Selection => {
                    "say \"deal\": end the talk, and both select what they take".into()
                }
                Move::Accept => "accept their offer".into(),
                Move::Reject => "reject their offer".into(),
                Move::Ask => "ask what things are worth to them".into(),
                _ => kind,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::negotiation::{acts::index, layout};

    #[test]
    fn renders_the_seat_from_the_row() {
        let config = NegotiationConfig::default();
        let mut obs = vec![0.0; layout::DIM];
        obs[SEATED] = 1.0;
        obs[COUNTS..COUNTS + 3].copy_from_slice(&[0.5, 0.25, 0.5]);
        obs[VALUES..VALUES + 3].copy_from_slice(&[0.2, 0.2, 0.1]);
        obs[RELATIONSHIP + 3] = 1.0;
        obs[SEEN] = 1.0;
        obs[NAME] = social::code(&config.profiles[1].name);
        let mut mask = vec![0u8; acts::count(false)];
        mask[index::PASS] = 1;
        mask[index::OFFER + items::allocation_index([2, 0, 1])] = 1;
        let p = render(&config, AgentId(0), &obs, &mask);
        assert!(p.rules.contains(&config.profiles[0].name), "{}", p.rules);
        assert!(p.situation.contains("a friend") && p.situation.contains(&config.profiles[1].name));
        assert!(
            p.situation.contains("2 books, 1 hat and 2 balls"),
            "{}",
            p.situation
        );
        assert_eq!(p.acts.len(), 2);
        assert_eq!(
            p.acts[1].1,
            "offer: you keep 2 books and 1 ball, they take 1 hat and 1 ball"
        );
        assert!(!p.situation.contains("The talk is over"));
        // Under Deal or No Deal's protocol, once the partner ended the talk, the same acts are
        // selections.
        let config = NegotiationConfig {
            agreement: Agreement::Selection,
            ..config
        };
        obs[MY_TURN] = 1.0;
        obs[PARTNER_LAST + Move::Accept.kind_index()] = 1.0;
        mask[index::PASS] = 0;
        mask[index::WALK_AWAY] = 1;
        let p = render(&config, AgentId(0), &obs, &mask);
        assert!(p.rules.contains("privately"), "{}", p.rules);
        assert!(p.situation.contains("The talk is over"), "{}", p.situation);
        let acts: Vec<&str> = p.acts.iter().map(|a| a.1.as_str()).collect();
        assert_eq!(
            acts,
            [
                "select no agreement",
                "select: you take 2 books and 1 ball, they take 1 hat and 1 ball"
            ]
        );
    }
}
