//! Beliefs: the Bayesian belief over who the imposter is that the game keeps for each scripted
//! player (a prior at the deal, updated by the speaker [`model`] after each message, made certain
//! by a witnessed kill, ruling out the dead and the revealed), the listening and speaking
//! rewards of a message, settled once its listeners have stated their beliefs after it, and the
//! potential `belief` (a crewmate's belief in the true imposters).
//!
//! A scripted player's belief is its own private state: it is computed only from what that
//! player saw or heard (its role and team, the kills it witnessed, deaths, revealed ejections,
//! the messages, and claims and sightings checked against its own room and the players it was
//! with), and its observation shows it (the belief block).

use super::rules::{Credit, Events, State};
use super::talk::Message;
use super::{BELIEF, LISTENING_FLOOR};
use bevy_ecs::prelude::*;
use socium_core::{AgentId, Potentials, UtteranceId};

/// The speaker model behind every scripted crewmate's Bayesian belief over who the imposter is,
/// updated after each message for each hypothesis `h` (the imposter): a crewmate tells the truth
/// about rooms (claims and sightings), accuses the imposter with probability `ACCUSE_TRUE` and a
/// given innocent with probability `ACCUSE_FALSE`, vouches for a given innocent with probability
/// `VOUCH_TRUE` and for the imposter with probability `ACCUSE_FALSE`, reports the imposter's kill
/// with probability `KILL_TRUE` and a given innocent's with `KILL_FALSE`; an imposter names a
/// uniformly random room, and accuses, vouches for or reports a kill of a uniformly random other
/// living player. A claim or sighting is evidence only to a listener who can check it: one who was
/// in the room named, or with a player it places there. A witnessed kill makes the witness certain;
/// a death or a revealed ejection rules the player out. Free text is no evidence to the model.
pub mod model {
    /// P(a crewmate accuses the imposter).
    pub const ACCUSE_TRUE: f64 = 0.5;
    /// P(a crewmate accuses a given innocent), and P(it vouches for the imposter).
    pub const ACCUSE_FALSE: f64 = 0.02;
    /// P(a crewmate vouches for a given innocent).
    pub const VOUCH_TRUE: f64 = 0.2;
    /// P(a crewmate reports the imposter's kill).
    pub const KILL_TRUE: f64 = 0.5;
    /// P(a crewmate reports a kill by a given innocent): crewmates report only kills they saw.
    pub const KILL_FALSE: f64 = 0.001;
}

/// A message waiting for its listeners' beliefs.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pending {
    /// Who said it.
    pub(super) speaker: usize,
    /// The message's utterance, which its rewards name.
    pub(super) message: UtteranceId,
    /// The crew's summed belief in the true imposters before the message ([`State::pooled`]).
    pub(super) before: f64,
}

impl State {
    /// Every player's belief at the deal: a crewmate's uniform over the others; an imposter's
    /// its team (what an external player sees in its observation until it states a belief of its
    /// own).
    pub(super) fn deal_beliefs(&mut self) {
        let n = self.alive.len();
        let m = f64::from(self.config.imposters.get());
        for a in 0..n {
            for j in 0..n {
                self.belief[a][j] = match self.imposter[a] {
                    true => f64::from(u8::from(self.imposter[j])) / m,
                    false => f64::from(u8::from(j != a)) / (n - 1) as f64,
                };
            }
        }
    }

    /// A scripted crewmate `witness` who saw `killer` kill becomes certain of it.
    pub(super) fn witness(&mut self, witness: usize, killer: usize) {
        if !self.imposter[witness] && self.scripted[witness] {
            for (h, b) in self.belief[witness].iter_mut().enumerate() {
                *b = f64::from(u8::from(h == killer));
            }
        }
    }

    /// Each living crewmate's information gain since it was last measured (IGPO, arXiv
    /// 2510.14967): the change in the log-probability its belief gives the true imposters
    /// (floored at [`LISTENING_FLOOR`]), with that belief, for those whose belief moved. At a
    /// reset every baseline is set and nothing is returned.
    pub(super) fn information(&mut self, reset: bool) -> Vec<(usize, f64, f64)> {
        let mut gains = Vec::new();
        for a in 0..self.alive.len() {
            if self.imposter[a] || !(self.alive[a] || reset) {
                continue;
            }
            let p = self.belief_in_imposters(a);
            let log = p.max(LISTENING_FLOOR).ln();
            let gain = log - self.log_truth[a];
            self.log_truth[a] = log;
            if !reset && gain != 0.0 {
                gains.push((a, gain, p));
            }
        }
        gains
    }

    /// The probability `a`'s belief gives the true imposters.
    fn belief_in_imposters(&self, a: usize) -> f64 {
        (0..self.alive.len())
            .filter(|&j| self.imposter[j])
            .map(|j| self.belief[a][j])
            .sum()
    }

    /// The living crewmates other than `speaker`: the listeners whose beliefs a message moves.
    fn crew_listeners(&self, speaker: usize) -> impl Iterator<Item = usize> + '_ {
        self.living()
            .map(AgentId::index)
            .filter(move |&c| c != speaker && !self.imposter[c])
    }

    /// The summed probability that the living crewmates give the true imposters, the speaking
    /// reward's measure: the speaker's own belief counts with `speaker_in_pool`, as in the
    /// original (`StringAmogus.process_discussion_survey` sums over every living crewmate);
    /// without, only the listeners' do, so that a speaker cannot earn by moving its own belief.
    pub(super) fn pooled(&self, speaker: usize) -> f64 {
        let own = self.config.speaker_in_pool && self.alive[speaker] && !self.imposter[speaker];
        let own = if own {
            self.belief_in_imposters(speaker)
        } else {
            0.0
        };
        own + self
            .crew_listeners(speaker)
            .map(|c| self.belief_in_imposters(c))
            .sum::<f64>()
    }

    /// Multiplies every living scripted crewmate `l`'s belief by `likelihood(state, l, h)` and
    /// renormalises; a belief that would vanish is kept (contradictory evidence is ignored).
    fn update(&mut self, likelihood: impl Fn(&State, usize, usize) -> f64) {
        self.update_some(|_| true, likelihood);
    }

    /// [`State::update`] for the listeners `l` that `who(l)` names.
    fn update_some(
        &mut self,
        who: impl Fn(usize) -> bool,
        likelihood: impl Fn(&State, usize, usize) -> f64,
    ) {
        let n = self.alive.len();
        for l in 0..n {
            if !self.alive[l] || self.imposter[l] || !self.scripted[l] || !who(l) {
                continue;
            }
            let posterior: Vec<f64> = (0..n)
                .map(|h| self.belief[l][h] * likelihood(self, l, h))
                .collect();
            let total: f64 = posterior.iter().sum();
            if total > 0.0 {
                for (b, p) in self.belief[l].iter_mut().zip(&posterior) {
                    *b = p / total;
                }
            }
        }
    }

    /// Every crewmate learns that `j` is not a suspect: ejected and revealed.
    pub(super) fn rule_out(&mut self, j: usize) {
        self.update(|_, _, h| f64::from(u8::from(h != j)));
    }

    /// Crewmate `l` learns that `j` is not a suspect: killed.
    pub(super) fn rule_out_for(&mut self, l: usize, j: usize) {
        self.update_some(|who| who == l, |_, _, h| f64::from(u8::from(h != j)));
    }

    /// Every living scripted crewmate other than `speaker` hears its message, by the speaker
    /// model.
    pub(super) fn hear(&mut self, speaker: usize, message: Message) {
        let others = (self.living().count() - 1).max(1) as f64;
        let [w, h] = self.grid;
        let rooms = f64::from(w * h);
        self.update(|st, l, h| {
            if l == speaker {
                return 1.0;
            }
            let imposter_speaks = h == speaker;
            // Whether `x` was in room `r` at the report, if the listener can tell: it was in `r`,
            // or with `x`.
            let check = |x: usize, r: usize| {
                let (mine, theirs) = (st.rooms_at_report[l], st.rooms_at_report[x]);
                (mine == theirs || mine == r).then_some(theirs == r)
            };
            // "`placed` were in room `r`": no evidence unless the listener can check some of it;
            // then a crewmate is never caught lying, an imposter names a random room.
            let placed_in = |placed: &[usize], r: usize| {
                let mut checked = placed.iter().filter_map(|&x| check(x, r)).peekable();
                match (checked.peek().is_some(), imposter_speaks) {
                    (false, _) => 1.0,
                    (true, true) => 1.0 / rooms,
                    (true, false) => f64::from(u8::from(checked.all(|truth| truth))),
                }
            };
            match message {
                Message::Accuse(_) | Message::Vouch(_) | Message::SawKill(_) if imposter_speaks => {
                    1.0 / others
                }
                Message::Accuse(j) if h == j => model::ACCUSE_TRUE,
                Message::Accuse(_) => model::ACCUSE_FALSE,
                Message::Vouch(j) if h == j => model::ACCUSE_FALSE,
                Message::Vouch(_) => model::VOUCH_TRUE,
                Message::SawKill(j) if h == j => model::KILL_TRUE,
                Message::SawKill(_) => model::KILL_FALSE,
                Message::Claim(r) => placed_in(&[speaker], r),
                Message::Saw(j, r) => placed_in(&[speaker, j], r),
                Message::Silent | Message::Say => 1.0,
            }
        });
    }
}

/// The potential `belief`: each crewmate's belief in the true imposters, 0 for an imposter, after
/// every reset and step.
pub(super) fn potential(mut envs: Query<(&State, &mut Potentials)>) {
    for (state, potentials) in &mut envs {
        let potentials = potentials.into_inner();
        for a in 0..state.alive.len() {
            let p = match state.imposter[a] {
                true => 0.0,
                false => state.belief_in_imposters(a),
            };
            potentials.set(AgentId(a as u32), BELIEF, p);
        }
    }
}

/// The listening and speaking credits of the last message, now that every listener has stated
/// its belief after it.
pub(super) fn settle(state: &State, p: Pending, events: &mut Events) {
    let id = |a: usize| AgentId(a as u32);
    let sign = if state.imposter[p.speaker] { -1.0 } else { 1.0 };
    let after = state.pooled(p.speaker);
    events.credits.push(Credit::Spoke {
        player: id(p.speaker),
        act: p.message,
        moved: sign * (after - p.before),
    });
    for l in state.crew_listeners(p.speaker) {
        let belief = state.belief_in_imposters(l).max(LISTENING_FLOOR);
        events.credits.push(Credit::Listened {
            player: id(l),
            act: p.message,
            ln_belief: belief.ln(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deduction::among_us::{Preset, Settings};
    use socium_core::bounded::Count;

    /// Five scripted players on two rooms side by side, as at a report: 0 the imposter, 1 dead,
    /// 2 the reporter (with the imposter in room 1 at the report), 3 and 4 in room 0. Every
    /// crewmate holds 1/3 on each other living player.
    fn at_report() -> State {
        let config = Settings {
            width: Count::new(2).unwrap(),
            height: Count::new(1).unwrap(),
            ..Preset::Socium.settings()
        };
        let mut st = State::new(config.into(), 5);
        st.imposter[0] = true;
        st.alive[1] = false;
        st.scripted.fill(true);
        st.rooms_at_report = vec![1, 1, 1, 0, 0];
        for a in 0..5 {
            for (j, b) in st.belief[a].iter_mut().enumerate() {
                *b = match (a, j) {
                    (0, _) => f64::from(u8::from(j == 0)),
                    _ if j == a || j == 1 => 0.0,
                    _ => 1.0 / 3.0,
                };
            }
        }
        st
    }

    /// The message of `speaker`, heard, with its rewards settled: (listener, listening) pairs and
    /// the speaking reward.
    fn hear_and_settle(
        st: &mut State,
        speaker: usize,
        message: Message,
    ) -> (Vec<(usize, f64)>, f64) {
        let before = st.pooled(speaker);
        st.hear(speaker, message);
        let pending = Pending {
            speaker,
            message: UtteranceId(9),
            before,
        };
        let mut events = Events::default();
        settle(st, pending, &mut events);
        let (mut listening, mut speaking) = (Vec::new(), Vec::new());
        for credit in events.credits {
            match credit {
                Credit::Listened {
                    player,
                    act,
                    ln_belief,
                } => listening.push((player.index(), act, ln_belief)),
                Credit::Spoke { player, act, moved } => speaking.push((player, act, moved)),
                other => panic!("a message credits only its speaker and listeners: {other:?}"),
            }
        }
        assert_eq!(speaking.len(), 1);
        assert_eq!(speaking[0].0, AgentId(speaker as u32));
        assert!(speaking.iter().all(|s| s.1 == UtteranceId(9)));
        assert!(listening.iter().all(|l| l.1 == UtteranceId(9)));
        let listening = listening.into_iter().map(|(l, _, v)| (l, v)).collect();
        (listening, speaking[0].2)
    }

    #[test]
    fn a_lie_every_listener_can_check_makes_the_crew_certain() {
        // The imposter claims room 0: the reporter was with it in room 1, the others were in
        // room 0 without it. Each becomes certain: listening ln 1 = 0; the crew's summed belief
        // goes from 3 × 1/3 to 3, and the imposter speaker gets the negative, −2.
        let mut st = at_report();
        let (listening, speaking) = hear_and_settle(&mut st, 0, Message::Claim(0));
        assert_eq!(listening, vec![(2, 0.0), (3, 0.0), (4, 0.0)]);
        assert!((speaking + 2.0).abs() < 1e-12, "{speaking}");
    }

    #[test]
    fn an_accusation_moves_beliefs_by_the_speaker_model() {
        // Crewmate 2 accuses crewmate 3. Each hypothesis h (the imposter) weighs it: h = 2 (the
        // speaker): 1/3 (an imposter accuses one of the 3 other living players); h = 3:
        // ACCUSE_TRUE; any other h: ACCUSE_FALSE. Listener 4 holds h ∈ {0, 2, 3}, listener 3
        // holds h ∈ {0, 2, 4}; uniform priors cancel.
        let mut st = at_report();
        let (t, f) = (model::ACCUSE_TRUE, model::ACCUSE_FALSE);
        let p4 = f / (f + 1.0 / 3.0 + t);
        let p3 = f / (f + 1.0 / 3.0 + f);
        let (listening, speaking) = hear_and_settle(&mut st, 2, Message::Accuse(3));
        assert_eq!(listening.len(), 2);
        assert_eq!((listening[0].0, listening[1].0), (3, 4));
        assert!((listening[0].1 - p3.ln()).abs() < 1e-12);
        assert!((listening[1].1 - p4.ln()).abs() < 1e-12);
        // The listeners' summed belief goes from 2 × 1/3 to p3 + p4; the speaker's own is no part
        // of it.
        assert!(
            (speaking - (p3 + p4 - 2.0 / 3.0)).abs() < 1e-12,
            "{speaking}"
        );
        assert_eq!(st.belief[2][0], 1.0 / 3.0, "the speaker's belief stays");
    }

    #[test]
    fn only_scripted_players_beliefs_follow_the_model() {
        let mut st = at_report();
        st.scripted[4] = false;
        let stated = st.belief[4].to_vec();
        st.hear(0, Message::Claim(0));
        assert_eq!(st.belief[4], stated);
        assert_eq!(st.belief[3][0], 1.0);
    }

    #[test]
    fn a_sighting_is_checked_by_who_was_there() {
        // The imposter says "I saw 3 in room 1": listener 3 knows it was in room 0, and 4 was
        // with 3 — both catch the lie; the reporter 2 was in room 1 with the imposter, and 3 was
        // not there: caught too.
        let mut st = at_report();
        hear_and_settle(&mut st, 0, Message::Saw(3, 1));
        for l in [2, 3, 4] {
            assert_eq!(st.belief[l][0], 1.0, "listener {l}");
        }
        // A true sighting, "I saw 4 in room 0" by 3: listener 4 was there, finds it true, and the
        // speaker looks innocent: h = 3 weighs 1/rooms = 1/2 against 1 for h = 0 and h = 2.
        // Listener 2 was in room 1 with neither: it cannot check, and learns nothing.
        let mut st = at_report();
        hear_and_settle(&mut st, 3, Message::Saw(4, 0));
        let total = 1.0 + 1.0 + 0.5;
        assert!((st.belief[4][0] - 1.0 / total).abs() < 1e-12);
        assert!((st.belief[4][3] - 0.5 / total).abs() < 1e-12);
        assert_eq!(st.belief[2], at_report().belief[2]);
    }

    #[test]
    fn a_kill_report_weighs_by_the_speaker_model() {
        // Crewmate 2 reports "I saw 0 kill". Listener 3 holds h ∈ {0, 2, 4}: h = 0: KILL_TRUE;
        // h = 2 (an imposter framing one of the 3 others): 1/3; h = 4: KILL_FALSE.
        let mut st = at_report();
        let (t, f) = (model::KILL_TRUE, model::KILL_FALSE);
        let (listening, _) = hear_and_settle(&mut st, 2, Message::SawKill(0));
        let p = t / (t + 1.0 / 3.0 + f);
        assert!((st.belief[3][0] - p).abs() < 1e-12);
        assert_eq!(listening[0].0, 3);
        assert!((listening[0].1 - p.ln()).abs() < 1e-12);
    }
}
