//! The social layer of a negotiation, after Sotopia (Zhou et al. 2024, "SOTOPIA: Interactive
//! Evaluation for Social Intelligence in Language Agents", ICLR): each agent has a profile (a
//! subset of Sotopia's AgentProfile), a private goal, and facts it knows; the relationship of the
//! tie it negotiates on decides what it sees of the other's profile ([`Visible`]).
//!
//! The profiles and the setting bundled in `assets/negotiation/social.toml` were written for this
//! project; a scenario may give its own (`[[game.negotiation.profiles]]`, `[game.negotiation
//! .setting]`).

use serde::Deserialize;
use socium_core::Relationship;
use std::sync::OnceLock;

/// The most facts one profile holds (each has an act to reveal it).
pub const MAX_FACTS: usize = 3;

/// Sotopia's decision-making styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionStyle {
    /// Decides fast, on few facts.
    Directive,
    /// Weighs many facts before deciding.
    Analytical,
    /// Looks for new, long-term options.
    Conceptual,
    /// Decides with others, seeks agreement.
    Behavioral,
}

/// The styles, in the order of the observation's one-hot block.
pub const DECISION_STYLES: [DecisionStyle; 4] = [
    DecisionStyle::Directive,
    DecisionStyle::Analytical,
    DecisionStyle::Conceptual,
    DecisionStyle::Behavioral,
];

/// Something an agent knows and may tell.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    /// What it is.
    pub text: String,
    /// What a liar tells in its place, in words like the fact's own (default: the fact's denial,
    /// "It is not true that …", which lowercases the fact's first letter: give one for a fact
    /// that starts with a name).
    #[serde(default)]
    pub made_up: Option<String>,
    /// How much knowing it is worth to the listener (knowledge points, 1..=5).
    pub importance: u8,
}

/// What an agent keeps to itself.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// What it is.
    pub text: String,
    /// What telling it costs its owner (secret points, 1..=10).
    pub severity: u8,
}

/// An agent's profile: Sotopia's AgentProfile fields this game uses.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// First and last name.
    pub name: String,
    /// Age in years.
    pub age: u8,
    /// Occupation.
    pub occupation: String,
    /// Personality, in words.
    pub personality: String,
    /// Big Five scores (openness, conscientiousness, extraversion, agreeableness, neuroticism),
    /// each in [0, 1].
    pub big_five: [f32; 5],
    /// Moral and Schwartz values, in words.
    pub values: String,
    /// Decision-making style.
    pub decision_style: DecisionStyle,
    /// The secret.
    pub secret: Secret,
    /// Facts the agent knows (at most [`MAX_FACTS`]).
    #[serde(default)]
    pub facts: Vec<Fact>,
}

/// An agent's private goal.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// The goal in words.
    pub text: String,
    /// The score (0..=10 of the pool's worth) that fully meets the goal.
    #[serde(default = "full_target")]
    pub target: f64,
    /// What walking away is worth (the no-deal score), 0..=10.
    #[serde(default)]
    pub reservation: f64,
    /// Whether the goal includes keeping the relationship: then threats, cold rapport and
    /// walking away each take 2 from the goal's score.
    #[serde(default)]
    pub keep_relationship: bool,
}

fn full_target() -> f64 {
    10.0
}

/// The environment profile: the scenario's text and the goals agents are given (agent `a`
/// gets goal `a mod goals`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// The scenario, in words.
    pub text: String,
    /// The goals.
    pub goals: Vec<Goal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Bundle {
    setting: Setting,
    profiles: Vec<Profile>,
}

fn bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let text = include_str!("../../../../assets/negotiation/social.toml");
        toml::from_str(text).expect("the bundled assets/negotiation/social.toml is valid")
    })
}

/// The bundled profiles.
pub fn bundled_profiles() -> Vec<Profile> {
    bundle().profiles.clone()
}

/// The bundled setting.
pub fn bundled_setting() -> Setting {
    bundle().setting.clone()
}

/// Checks profiles and a setting: ranges, fact count, at least one of each.
pub fn check(profiles: &[Profile], setting: &Setting) -> Result<(), String> {
    if profiles.is_empty() {
        return Err("`profiles`: expected at least one profile".into());
    }
    for (i, p) in profiles.iter().enumerate() {
        let at = format!("`profiles[{i}]` ({})", p.name);
        if p.facts.len() > MAX_FACTS {
            return Err(format!(
                "{at}: expected at most {MAX_FACTS} facts, found {}",
                p.facts.len()
            ));
        }
        if let Some(f) = p.facts.iter().find(|f| !(1..=5).contains(&f.importance)) {
            return Err(format!(
                "{at}: a fact's importance is 1..=5, found {}",
                f.importance
            ));
        }
        if !(1..=10).contains(&p.secret.severity) {
            return Err(format!(
                "{at}: the secret's severity is 1..=10, found {}",
                p.secret.severity
            ));
        }
        if let Some(b) = p.big_five.iter().find(|b| !(0.0..=1.0).contains(*b)) {
            return Err(format!("{at}: Big Five scores are in [0, 1], found {b}"));
        }
    }
    if setting.goals.is_empty() {
        return Err("`setting.goals`: expected at least one goal".into());
    }
    for (i, g) in setting.goals.iter().enumerate() {
        if !(g.target > 0.0 && g.target <= 10.0) {
            return Err(format!(
                "`setting.goals[{i}].target`: expected a score in (0, 10], found {}",
                g.target
            ));
        }
        if !(0.0..=10.0).contains(&g.reservation) {
            return Err(format!(
                "`setting.goals[{i}].reservation`: expected a score in [0, 10], found {}",
                g.reservation
            ));
        }
    }
    Ok(())
}

/// Which of the partner's profile fields an agent sees, by the relationship of their tie
/// (Sotopia's rule): a stranger nothing; know-by-name the name; an acquaintance all but the
/// personality and the secret; a friend, romantic partner or family member all but the secret.
/// The secret is never visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visible {
    /// The name.
    pub name: bool,
    /// Age, occupation, values and decision-making style.
    pub background: bool,
    /// Personality and Big Five.
    pub personality: bool,
}

impl Visible {
    /// What the relationship `kind` shows.
    pub fn of(kind: Relationship) -> Self {
        use Relationship::*;
        let (name, background, personality) = match kind {
            Stranger => (false, false, false),
            KnowByName => (true, false, false),
            Acquaintance => (true, true, false),
            Friend | Romantic | Family => (true, true, true),
        };
        Visible {
            name,
            background,
            personality,
        }
    }

    /// The profile as the partner sees it, in words (for transcripts and language models).
    pub fn describe(self, p: &Profile) -> String {
        let mut parts = Vec::new();
        if self.name {
            parts.push(p.name.clone());
        }
        if self.background {
            parts.push(format!(
                "{}, {}; values: {}; decides: {:?}",
                p.age, p.occupation, p.values, p.decision_style
            ));
        }
        if self.personality {
            parts.push(format!("personality: {}", p.personality));
        }
        match parts.is_empty() {
            true => "a stranger".to_owned(),
            false => parts.join("; "),
        }
    }
}

/// How much the relationship dimension moves for one act on a tie of this kind: the closer the
/// tie, the more an act builds or harms it (Sotopia scores relationship −5..5).
pub fn tie_scale(kind: Relationship) -> f64 {
    use Relationship::*;
    match kind {
        Stranger => 0.5,
        KnowByName => 0.6,
        Acquaintance => 0.8,
        Friend => 1.0,
        Romantic | Family => 1.2,
    }
}

/// A stable code in [0, 1) of a text (FNV-1a), for observations: equal texts, equal codes.
pub fn code(text: &str) -> f32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h >> 8) as f32 / (1u32 << 24) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_assets_are_valid() {
        let (profiles, setting) = (bundled_profiles(), bundled_setting());
        assert!(profiles.len() >= 2);
        check(&profiles, &setting).unwrap();
    }

    #[test]
    fn checks_name_the_field() {
        let mut profiles = bundled_profiles();
        profiles[1].secret.severity = 0;
        let err = check(&profiles, &bundled_setting()).unwrap_err();
        assert!(
            err.contains("profiles[1]") && err.contains("severity"),
            "{err}"
        );
        let mut setting = bundled_setting();
        setting.goals[0].reservation = 11.0;
        let err = check(&bundled_profiles(), &setting).unwrap_err();
        assert!(err.contains("setting.goals[0].reservation"), "{err}");
    }

    #[test]
    fn describes_what_the_tie_shows() {
        let p = &bundled_profiles()[0];
        assert_eq!(
            Visible::of(Relationship::Stranger).describe(p),
            "a stranger"
        );
        assert_eq!(Visible::of(Relationship::KnowByName).describe(p), p.name);
        let friend = Visible::of(Relationship::Friend).describe(p);
        assert!(friend.contains(&p.personality) && !friend.contains(&p.secret.text));
        let acquaintance = Visible::of(Relationship::Acquaintance).describe(p);
        assert!(acquaintance.contains(&p.occupation) && !acquaintance.contains(&p.personality));
    }
}
