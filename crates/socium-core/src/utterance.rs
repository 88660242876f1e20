//! Utterances: every act of an agent, typed by the game, with optional rendered text.

use crate::{AgentId, buffers::Log};
use bevy_ecs::component::Component;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Id of an utterance, unique within an episode (counts from 0 at each reset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UtteranceId(pub u64);

/// Who hears an utterance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every agent.
    All,
    /// One agent.
    Agent(AgentId),
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Audience::All => s.serialize_str("all"),
            Audience::Agent(a) => a.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written<'a> {
            Agent(AgentId),
            Name(&'a str),
        }
        match Written::deserialize(d)? {
            Written::Agent(a) => Ok(Audience::Agent(a)),
            Written::Name("all") => Ok(Audience::All),
            Written::Name(other) => Err(de::Error::custom(format!(
                "audience `{other}`: expected \"all\" or an agent id"
            ))),
        }
    }
}

/// What an utterance does, as the game types it: a kind (`give`, `cooperate`, `accuse`...), an
/// optional target agent and an amount (the donation, the share, 1 or 0...).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Act {
    /// The act's name, from the game's vocabulary.
    pub kind: &'static str,
    /// The agent the act is aimed at, if any.
    pub target: Option<AgentId>,
    /// A number the act carries (amount given, share offered...).
    pub value: f64,
}

/// One act of one agent at one step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Utterance {
    /// Unique within the episode.
    pub id: UtteranceId,
    /// The step it was made at (0-based).
    pub step: u32,
    /// Who made it.
    pub speaker: AgentId,
    /// Who hears it.
    pub audience: Audience,
    /// What it does.
    pub act: Act,
    /// Rendered or given text; rendered only while a transcript is being kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<UtteranceText>,
}

/// An utterance's text. Boxed twice over so that an absent one takes a single word and an
/// utterance a single cache line (64 bytes): every step writes its utterances, and training runs
/// render no text. Reads as a `str`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::box_collection,
    reason = "the box is the point: one word where a `String` takes three"
)]
pub struct UtteranceText(Box<String>);

impl std::ops::Deref for UtteranceText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for UtteranceText {
    fn from(text: String) -> Self {
        UtteranceText(Box::new(text))
    }
}

impl From<&str> for UtteranceText {
    fn from(text: &str) -> Self {
        text.to_owned().into()
    }
}

impl Serialize for UtteranceText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl Utterance {
    /// The value of a log's room for utterances not yet made.
    pub(crate) const FILLER: Utterance = Utterance {
        id: UtteranceId(0),
        step: 0,
        speaker: AgentId(0),
        audience: Audience::All,
        act: Act {
            kind: "",
            target: None,
            value: 0.0,
        },
        text: None,
    };

    /// What was said, for a reader: the utterance's text, or else its act (`give 3 (0.5)`: the
    /// kind, the target if any, the value).
    pub fn words(&self) -> String {
        match &self.text {
            Some(text) => text.to_string(),
            None => {
                let target = self.act.target.map(|t| format!(" {t}")).unwrap_or_default();
                format!("{}{target} ({})", self.act.kind, self.act.value)
            }
        }
    }
}

/// The free text each external agent sends with this step's actions (see `Sim::set_text`),
/// cleared after every step.
#[derive(Component, Debug, Default)]
pub struct Texts {
    by_agent: Vec<Option<String>>,
    /// Whether any agent has a text: clearing is then the only work.
    any: bool,
}

impl Texts {
    pub(crate) fn new(agents: usize) -> Self {
        Texts {
            by_agent: vec![None; agents],
            any: false,
        }
    }

    /// Agent `a`'s text this step, if it sent one.
    pub fn get(&self, a: AgentId) -> Option<&str> {
        self.by_agent.get(a.index()).and_then(|t| t.as_deref())
    }

    pub(crate) fn set(&mut self, a: AgentId, text: &str) {
        self.by_agent[a.index()] = Some(text.to_owned());
        self.any = true;
    }

    pub(crate) fn clear(&mut self) {
        if std::mem::take(&mut self.any) {
            self.by_agent.iter_mut().for_each(|t| *t = None);
        }
    }
}

/// The utterances of the current step, and the id counter of the episode.
#[derive(Component, Debug, Default)]
pub struct Utterances {
    /// The step's utterances, when kept.
    pub(crate) current: Log<Utterance>,
    pub(crate) next_id: u64,
    /// The id of the step's first utterance.
    pub(crate) first_id: u64,
    pub(crate) step: u32,
    /// Whether utterances are kept: a run with no reader of them ([`crate::SimConfig::records`])
    /// only counts their ids.
    pub(crate) keep: bool,
    /// Whether text is rendered (only while utterances are kept).
    pub(crate) render_text: bool,
}

impl Utterances {
    /// Records an utterance and returns its id (stored only where utterances are kept, see
    /// [`crate::SimConfig::records`]). `text` is called only when a transcript is being kept, so
    /// rendering templates costs nothing in training runs.
    #[inline]
    pub fn say(
        &mut self,
        speaker: AgentId,
        audience: Audience,
        act: Act,
        text: impl FnOnce() -> String,
    ) -> UtteranceId {
        let text = self.render_text.then(text);
        self.push(speaker, audience, act, text)
    }

    /// Says `count` utterances in a row and returns the first's id: the `k`-th's is `first + k`.
    /// `each(k)` gives the `k`-th's speaker, audience, act and text (as in [`Utterances::say`]),
    /// and is called only where utterances are kept: a run that keeps none pays one addition for
    /// them all.
    pub fn say_run<T: FnOnce() -> String>(
        &mut self,
        count: usize,
        mut each: impl FnMut(usize) -> (AgentId, Audience, Act, T),
    ) -> UtteranceId {
        let first = UtteranceId(self.next_id);
        if !self.keep {
            self.next_id += count as u64;
            return first;
        }
        for k in 0..count {
            let (speaker, audience, act, text) = each(k);
            self.say(speaker, audience, act, text);
        }
        first
    }

    /// Records an utterance whose words are its content (free text an agent sent), with its words
    /// whether or not text is being rendered, and returns its id.
    pub fn say_words(
        &mut self,
        speaker: AgentId,
        audience: Audience,
        act: Act,
        words: String,
    ) -> UtteranceId {
        self.push(speaker, audience, act, Some(words))
    }

    // Always: a game calling `say` from two instantiations of one system (the norms game's
    // resolve, public and private) got it as a call, 28 instructions a decision.
    #[inline(always)]
    fn push(
        &mut self,
        speaker: AgentId,
        audience: Audience,
        act: Act,
        text: Option<String>,
    ) -> UtteranceId {
        let id = UtteranceId(self.next_id);
        self.next_id += 1;
        if !self.keep {
            return id;
        }
        self.current.push(Utterance {
            id,
            step: self.step,
            speaker,
            audience,
            act,
            text: text.map(UtteranceText::from),
        });
        id
    }

    /// The utterances made so far in this step (none when they are not kept).
    pub fn this_step(&self) -> &[Utterance] {
        &self.current
    }

    /// How many utterances this step has made, kept or not.
    pub fn made_this_step(&self) -> u64 {
        self.next_id - self.first_id
    }

    /// Empties the step's utterances for step `step`.
    pub(crate) fn start_step(&mut self, step: u32) {
        self.current.clear();
        self.first_id = self.next_id;
        self.step = step;
    }

    /// Whether text is being rendered (a transcript is being kept).
    pub fn renders_text(&self) -> bool {
        self.render_text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_utterance_takes_one_cache_line() {
        assert_eq!(std::mem::size_of::<Utterance>(), 64);
    }

    #[test]
    fn ids_count_up_and_text_is_lazy() {
        let mut u = Utterances {
            keep: true,
            ..Default::default()
        };
        let act = Act {
            kind: "give",
            target: Some(AgentId(1)),
            value: 2.0,
        };
        let a = u.say(
            AgentId(0),
            Audience::Agent(AgentId(1)),
            act,
            || unreachable!(),
        );
        u.render_text = true;
        let b = u.say(AgentId(0), Audience::All, act, || "hello".into());
        assert_eq!((a, b), (UtteranceId(0), UtteranceId(1)));
        assert_eq!(u.this_step()[0].text, None);
        assert_eq!(u.this_step()[1].text.as_deref(), Some("hello"));
        let json = serde_json::to_string(&u.this_step()[1]).unwrap();
        assert_eq!(
            json,
            r#"{"id":1,"step":0,"speaker":0,"audience":"all","act":{"kind":"give","target":1,"value":2.0},"text":"hello"}"#
        );
    }

    #[test]
    fn a_run_numbers_its_utterances_in_order_kept_or_not() {
        let act = |k: usize| Act {
            kind: "give",
            target: None,
            value: k as f64,
        };
        let mut kept = Utterances {
            keep: true,
            render_text: true,
            ..Default::default()
        };
        kept.say(AgentId(0), Audience::All, act(9), String::new);
        let first = kept.say_run(3, |k| {
            let text = move || format!("utterance {k}");
            (AgentId(k as u32), Audience::All, act(k), text)
        });
        assert_eq!(first, UtteranceId(1));
        let said: Vec<_> = kept.this_step()[1..]
            .iter()
            .map(|u| (u.id.0, u.speaker.0, u.act.value, u.words()))
            .collect();
        assert_eq!(
            said,
            [
                (1, 0, 0.0, "utterance 0".to_owned()),
                (2, 1, 1.0, "utterance 1".to_owned()),
                (3, 2, 2.0, "utterance 2".to_owned()),
            ]
        );
        let mut unkept = Utterances::default();
        unkept.say(AgentId(0), Audience::All, act(9), || unreachable!());
        let first = unkept.say_run(3, |_| -> (_, _, _, fn() -> String) { unreachable!() });
        assert_eq!((first, unkept.made_this_step()), (UtteranceId(1), 4));
        assert!(unkept.this_step().is_empty());
    }

    #[test]
    fn unkept_utterances_are_counted_not_stored() {
        let mut u = Utterances::default();
        let act = Act {
            kind: "give",
            target: None,
            value: 1.0,
        };
        u.say(AgentId(0), Audience::All, act, || unreachable!());
        u.start_step(1);
        let ids = [0, 1].map(|_| u.say_words(AgentId(1), Audience::All, act, "hi".into()));
        assert_eq!(ids, [UtteranceId(1), UtteranceId(2)]);
        assert_eq!(u.made_this_step(), 2);
        assert!(u.this_step().is_empty());
    }
}
