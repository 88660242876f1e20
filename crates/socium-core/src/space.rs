//! Observation and action spaces, their flat `f32` layout, masks and validation.
//!
//! Every action is a row of `f32` values of length [`Space::flat_dim`]: a `Discrete` choice is one
//! integer-valued entry, `MultiDiscrete` one per component, `Box` one per dimension, `Simplex` one
//! probability per outcome, `Text` none (free text travels beside the row, see
//! `Sim::set_text`), and a `Tuple` the concatenation of its parts. Masks are rows of `u8` (1 = legal) of length
//! [`Space::mask_dim`], one entry per discrete choice, in the same order. This keeps a whole
//! `VecEnv` step in a handful of flat buffers that Python can own as numpy arrays.

use crate::Selection;
use rand::{Rng, RngCore};
use serde::Serialize;
use std::fmt;

/// A space of observations or actions.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Space {
    /// One choice among `n`: `0..n`.
    Discrete {
        /// Number of choices.
        n: u32,
    },
    /// One choice per component, component `i` among `nvec[i]`.
    MultiDiscrete {
        /// Number of choices of each component.
        nvec: Vec<u32>,
    },
    /// Real vectors with per-dimension bounds (inclusive).
    Box {
        /// Lower bounds.
        low: Vec<f32>,
        /// Upper bounds.
        high: Vec<f32>,
    },
    /// Probability distributions over `n` outcomes: `n` values in [0, 1] summing to 1 (within
    /// [`SIMPLEX_TOLERANCE`]). A belief, say, over who the imposter is.
    Simplex {
        /// Number of outcomes.
        n: u32,
    },
    /// Free text of up to `max_chars` characters, sent beside the numeric row (see
    /// `Sim::set_text`): it takes no entry in the row, the mask or a policy's head.
    Text {
        /// The longest text taken, in characters.
        max_chars: u32,
    },
    /// The concatenation of several spaces.
    Tuple(Vec<Space>),
}

/// How far from 1 the entries of a [`Space::Simplex`] row may sum: float32 rounding of a
/// distribution computed in float64 stays far inside it; a distribution that was not normalised
/// does not.
pub const SIMPLEX_TOLERANCE: f32 = 1e-4;

/// What is wrong with one action row.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ActionProblem {
    /// The row has the wrong length.
    #[error("expected {expected} values, found {found}")]
    WrongLength {
        /// Values the space takes.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// NaN or infinite.
    #[error("entry {index} is {value}, expected a finite number")]
    NotFinite {
        /// Entry in the flat row.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A discrete entry that is not a whole number.
    #[error("entry {index} is {value}, expected a whole number for a discrete choice")]
    NotInteger {
        /// Entry in the flat row.
        index: usize,
        /// The value.
        value: f32,
    },
    /// Outside the space's bounds.
    #[error("entry {index} is {value}, expected a value in [{low}, {high}]")]
    OutOfRange {
        /// Entry in the flat row.
        index: usize,
        /// The value.
        value: f32,
        /// Lowest legal value.
        low: f32,
        /// Highest legal value.
        high: f32,
    },
    /// A choice the action mask forbids now.
    #[error("entry {index} chooses {choice}, which the action mask forbids now")]
    Masked {
        /// Entry in the flat row.
        index: usize,
        /// The forbidden choice.
        choice: u32,
    },
    /// A `Simplex` part whose entries do not sum to 1.
    #[error(
        "entries {start}..{end} sum to {sum}, expected a probability distribution summing to 1 \
         (within {SIMPLEX_TOLERANCE})"
    )]
    NotADistribution {
        /// First entry of the part in the flat row.
        start: usize,
        /// One past its last entry.
        end: usize,
        /// What they sum to.
        sum: f32,
    },
    /// Free text where none is taken.
    #[error("free text is not taken here: {why}")]
    TextNotTaken {
        /// Why not.
        why: &'static str,
    },
    /// Free text longer than the space takes.
    #[error("free text of {chars} characters, expected at most {max}")]
    TextTooLong {
        /// Characters given.
        chars: usize,
        /// The most taken.
        max: u32,
    },
}

impl Space {
    /// A `Box` with the same bounds in every one of `dim` dimensions.
    pub fn uniform_box(dim: usize, low: f32, high: f32) -> Self {
        Space::Box {
            low: vec![low; dim],
            high: vec![high; dim],
        }
    }

    /// Number of `f32` values in a flat row of this space.
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::MultiDiscrete { nvec } => nvec.len(),
            Space::Box { low, .. } => low.len(),
            Space::Simplex { n } => *n as usize,
            Space::Text { .. } => 0,
            Space::Tuple(parts) => parts.iter().map(Space::flat_dim).sum(),
        }
    }

    /// The number of choices of the action's first discrete part, when the mask begins with it
    /// (a `Discrete` space, or a `Tuple` whose first part with mask entries is `Discrete`).
    pub fn first_discrete(&self) -> Option<u32> {
        match self {
            Space::Discrete { n } => Some(*n),
            Space::Tuple(parts) => parts
                .iter()
                .find(|p| p.mask_dim() > 0)
                .and_then(Space::first_discrete),
            _ => None,
        }
    }

    /// The number of values of the action's first `Box` part, if it has one.
    pub fn box_dim(&self) -> Option<usize> {
        match self {
            Space::Box { low, .. } => Some(low.len()),
            Space::Tuple(parts) => parts.iter().find_map(Space::box_dim),
            _ => None,
        }
    }

    /// Number of mask entries: one per discrete choice, none for `Box` and `Simplex` parts.
    pub fn mask_dim(&self) -> usize {
        match self {
            Space::Discrete { n } => *n as usize,
            Space::MultiDiscrete { nvec } => nvec.iter().map(|&n| n as usize).sum(),
            Space::Box { .. } | Space::Simplex { .. } | Space::Text { .. } => 0,
            Space::Tuple(parts) => parts.iter().map(Space::mask_dim).sum(),
        }
    }

    /// Number of values in a policy's action head for this space: a logit per choice of every
    /// discrete part (so equal to [`Space::mask_dim`] there), one value per `Box` dimension, a
    /// logit per `Simplex` outcome.
    pub fn head_dim(&self) -> usize {
        match self {
            Space::Box { low, .. } => low.len(),
            Space::Simplex { n } => *n as usize,
            Space::Text { .. } => 0,
            Space::Tuple(parts) => parts.iter().map(Space::head_dim).sum(),
            discrete => discrete.mask_dim(),
        }
    }

    /// The longest free text the space takes, if it has a `Text` part.
    pub fn max_text(&self) -> Option<u32> {
        match self {
            Space::Text { max_chars } => Some(*max_chars),
            Space::Tuple(parts) => parts.iter().find_map(Space::max_text),
            _ => None,
        }
    }

    /// Checks free text against the space's `Text` part.
    pub fn check_text(&self, text: &str) -> Result<(), ActionProblem> {
        let Some(max) = self.max_text() else {
            return Err(ActionProblem::TextNotTaken {
                why: "the action space has no text part",
            });
        };
        let chars = text.chars().count();
        if chars > max as usize {
            return Err(ActionProblem::TextTooLong { chars, max });
        }
        Ok(())
    }

    /// Turns one finite action-head row into a legal action in `out`: each discrete part takes
    /// its legal choice by `selection` (choice 0 when every choice is masked), each `Box` value is
    /// clipped to its bounds, each `Simplex` part is the softmax of its logits (the distribution
    /// itself is the action, whatever the selection). `rng` draws the samples of
    /// `Selection::Sample`; `Argmax` needs none.
    ///
    /// # Panics
    /// If `selection` samples and `rng` is `None`.
    pub fn select(
        &self,
        head: &[f32],
        mask: &[u8],
        selection: Selection,
        mut rng: Option<&mut dyn RngCore>,
        out: &mut [f32],
    ) {
        let mut cursor = Cursor::default();
        self.select_at(head, mask, selection, &mut rng, out, &mut cursor);
    }

    fn select_at(
        &self,
        head: &[f32],
        mask: &[u8],
        selection: Selection,
        rng: &mut Option<&mut dyn RngCore>,
        out: &mut [f32],
        at: &mut Cursor,
    ) {
        // In a head, discrete logits sit where their mask entries sit in the mask row.
        let mut discrete = |n: u32, rng: &mut Option<&mut dyn RngCore>, at: &mut Cursor| {
            let n = n as usize;
            let logits = &head[at.head..at.head + n];
            let part = mask.get(at.mask..at.mask + n);
            let legal = |c: usize| part.is_none_or(|m| m[c] != 0);
            out[at.value] = choose(logits, legal, selection, rng) as f32;
            at.value += 1;
            at.mask += n;
            at.head += n;
        };
        match self {
            Space::Discrete { n } => discrete(*n, rng, at),
            Space::MultiDiscrete { nvec } => nvec.iter().for_each(|&n| discrete(n, rng, at)),
            Space::Box { low, high } => {
                for (&lo, &hi) in low.iter().zip(high) {
                    out[at.value] = head[at.head].clamp(lo, hi);
                    at.value += 1;
                    at.head += 1;
                }
            }
            Space::Simplex { n } => {
                let n = *n as usize;
                softmax(
                    &head[at.head..at.head + n],
                    &mut out[at.value..at.value + n],
                );
                at.value += n;
                at.head += n;
            }
            Space::Text { .. } => {}
            Space::Tuple(parts) => parts
                .iter()
                .for_each(|p| p.select_at(head, mask, selection, rng, out, at)),
        }
    }

    /// Checks one flat action row against the space and the row's mask.
    pub fn check(&self, row: &[f32], mask: &[u8]) -> Result<(), ActionProblem> {
        if row.len() != self.flat_dim() {
            return Err(ActionProblem::WrongLength {
                expected: self.flat_dim(),
                found: row.len(),
            });
        }
        let mut cursor = Cursor::default();
        self.check_at(row, mask, &mut cursor)
    }

    fn check_at(&self, row: &[f32], mask: &[u8], at: &mut Cursor) -> Result<(), ActionProblem> {
        let discrete = |n: u32, at: &mut Cursor| {
            let index = at.value;
            let value = row[index];
            if !value.is_finite() {
                return Err(ActionProblem::NotFinite { index, value });
            }
            if value.fract() != 0.0 {
                return Err(ActionProblem::NotInteger { index, value });
            }
            if value < 0.0 || value >= n as f32 {
                return Err(ActionProblem::OutOfRange {
                    index,
                    value,
                    low: 0.0,
                    high: n.saturating_sub(1) as f32,
                });
            }
            let choice = value as u32;
            if mask.get(at.mask + choice as usize) == Some(&0) {
                return Err(ActionProblem::Masked { index, choice });
            }
            at.value += 1;
            at.mask += n as usize;
            Ok(())
        };
        match self {
            Space::Discrete { n } => discrete(*n, at),
            Space::MultiDiscrete { nvec } => nvec.iter().try_for_each(|&n| discrete(n, at)),
            Space::Box { low, high } => {
                for (&lo, &hi) in low.iter().zip(high) {
                    let index = at.value;
                    let value = row[index];
                    if !value.is_finite() {
                        return Err(ActionProblem::NotFinite { index, value });
                    }
                    if value < lo || value > hi {
                        return Err(ActionProblem::OutOfRange {
                            index,
                            value,
                            low: lo,
                            high: hi,
                        });
                    }
                    at.value += 1;
                }
                Ok(())
            }
            Space::Simplex { n } => {
                let (start, end) = (at.value, at.value + *n as usize);
                for (index, &value) in row.iter().enumerate().take(end).skip(start) {
                    if !value.is_finite() {
                        return Err(ActionProblem::NotFinite { index, value });
                    }
                    if !(0.0..=1.0).contains(&value) {
                        return Err(ActionProblem::OutOfRange {
                            index,
                            value,
                            low: 0.0,
                            high: 1.0,
                        });
                    }
                }
                let sum = row[start..end].iter().map(|&p| f64::from(p)).sum::<f64>() as f32;
                if (sum - 1.0).abs() > SIMPLEX_TOLERANCE {
                    return Err(ActionProblem::NotADistribution { start, end, sum });
                }
                at.value = end;
                Ok(())
            }
            Space::Text { .. } => Ok(()),
            Space::Tuple(parts) => parts.iter().try_for_each(|p| p.check_at(row, mask, at)),
        }
    }

    /// Writes a uniformly random legal action into `out` (discrete parts respect `mask`; a part
    /// whose choices are all masked takes choice 0; a `Simplex` part is uniform over the simplex,
    /// a Dirichlet(1, …, 1) draw).
    pub fn sample(&self, rng: &mut impl Rng, mask: &[u8], out: &mut [f32]) {
        let mut cursor = Cursor::default();
        self.sample_at(rng, mask, out, &mut cursor);
    }

    fn sample_at(&self, rng: &mut impl Rng, mask: &[u8], out: &mut [f32], at: &mut Cursor) {
        let mut discrete = |n: u32, rng: &mut dyn rand::RngCore, at: &mut Cursor| {
            let part = mask.get(at.mask..at.mask + n as usize);
            let legal = |c: u32| part.is_none_or(|m| m[c as usize] != 0);
            let count = (0..n).filter(|&c| legal(c)).count() as u32;
            let choice = if count == 0 {
                0
            } else {
                let k = rng.random_range(0..count);
                (0..n).filter(|&c| legal(c)).nth(k as usize).unwrap_or(0)
            };
            out[at.value] = choice as f32;
            at.value += 1;
            at.mask += n as usize;
        };
        match self {
            Space::Discrete { n } => discrete(*n, rng, at),
            Space::MultiDiscrete { nvec } => nvec.iter().for_each(|&n| discrete(n, rng, at)),
            Space::Box { low, high } => {
                for (&lo, &hi) in low.iter().zip(high) {
                    out[at.value] = if lo < hi {
                        rng.random_range(lo..=hi)
                    } else {
                        lo
                    };
                    at.value += 1;
                }
            }
            Space::Simplex { n } => {
                // Normalised standard exponentials are Dirichlet(1, …, 1).
                let part = &mut out[at.value..at.value + *n as usize];
                let draws: Vec<f64> = (0..part.len())
                    .map(|_| -(1.0 - rng.random::<f64>()).ln())
                    .collect();
                let total: f64 = draws.iter().sum();
                for (p, d) in part.iter_mut().zip(&draws) {
                    *p = (d / total) as f32;
                }
                at.value += part.len();
            }
            Space::Text { .. } => {}
            Space::Tuple(parts) => parts.iter().for_each(|p| p.sample_at(rng, mask, out, at)),
        }
    }
}

/// Position in the flat value row, mask row and head row while walking a space.
#[derive(Default)]
struct Cursor {
    value: usize,
    mask: usize,
    head: usize,
}

/// `softmax(logits)` into `out`, computed in f64 so the f32 result sums to 1 within rounding.
fn softmax(logits: &[f32], out: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weight = |l: f32| (f64::from(l) - f64::from(max)).exp();
    let total: f64 = logits.iter().map(|&l| weight(l)).sum();
    for (p, &l) in out.iter_mut().zip(logits) {
        *p = (weight(l) / total) as f32;
    }
}

/// The legal choice `selection` picks from `logits`; 0 when none is legal.
fn choose(
    logits: &[f32],
    legal: impl Fn(usize) -> bool,
    selection: Selection,
    rng: &mut Option<&mut dyn RngCore>,
) -> usize {
    let mut legal_logits = logits.iter().enumerate().filter(|&(c, _)| legal(c));
    let Some(first) = legal_logits.next() else {
        return 0;
    };
    // The first of the largest: ties go to the lowest index.
    let (best, &max) = legal_logits.fold(first, |b, c| if c.1 > b.1 { c } else { b });
    let Selection::Sample { temperature } = selection else {
        return best;
    };
    // softmax((l - max) / T) in f64: every weight in (0, 1], the best one exactly 1.
    let weight = |l: f32| ((f64::from(l) - f64::from(max)) / f64::from(temperature)).exp();
    let total: f64 = (0..logits.len())
        .filter(|&c| legal(c))
        .map(|c| weight(logits[c]))
        .sum();
    let rng = rng.as_mut().expect("sampling a policy's head needs an rng");
    let mut u = rng.random::<f64>() * total;
    for c in (0..logits.len()).filter(|&c| legal(c)) {
        u -= weight(logits[c]);
        if u < 0.0 {
            return c;
        }
    }
    best
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Space::Discrete { n } => write!(f, "Discrete({n})"),
            Space::MultiDiscrete { nvec } => write!(f, "MultiDiscrete({nvec:?})"),
            Space::Box { low, .. } => write!(f, "Box({})", low.len()),
            Space::Simplex { n } => write!(f, "Simplex({n})"),
            Space::Text { max_chars } => write!(f, "Text({max_chars})"),
            Space::Tuple(parts) => {
                write!(f, "Tuple(")?;
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{p}")?;
                }
                write!(f, ")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tuple() -> Space {
        Space::Tuple(vec![
            Space::Discrete { n: 3 },
            Space::uniform_box(1, 0.0, 1.0),
        ])
    }

    #[test]
    fn layout_dims() {
        assert_eq!(tuple().flat_dim(), 2);
        assert_eq!(tuple().mask_dim(), 3);
        assert_eq!(Space::MultiDiscrete { nvec: vec![2, 4] }.mask_dim(), 6);
    }

    #[test]
    fn check_names_each_problem() {
        let s = tuple();
        let all = [1, 1, 1];
        assert_eq!(s.check(&[1.0, 0.5], &all), Ok(()));
        assert_eq!(
            s.check(&[1.0], &all),
            Err(ActionProblem::WrongLength {
                expected: 2,
                found: 1
            })
        );
        assert_eq!(
            s.check(&[f32::NAN, 0.5], &all).unwrap_err().to_string(),
            "entry 0 is NaN, expected a finite number"
        );
        assert!(matches!(
            s.check(&[1.5, 0.5], &all),
            Err(ActionProblem::NotInteger { .. })
        ));
        assert!(matches!(
            s.check(&[3.0, 0.5], &all),
            Err(ActionProblem::OutOfRange { .. })
        ));
        assert!(matches!(
            s.check(&[1.0, 1.5], &all),
            Err(ActionProblem::OutOfRange { index: 1, .. })
        ));
        assert_eq!(
            s.check(&[2.0, 0.5], &[1, 1, 0]),
            Err(ActionProblem::Masked {
                index: 0,
                choice: 2
            })
        );
    }

    #[test]
    fn heads_become_legal_actions() {
        // Tuple(Discrete(3), Box(1) in [0, 1], MultiDiscrete([2, 2])): head 3 + 1 + 4 values.
        let s = Space::Tuple(vec![
            Space::Discrete { n: 3 },
            Space::uniform_box(1, 0.0, 1.0),
            Space::MultiDiscrete { nvec: vec![2, 2] },
        ]);
        assert_eq!(s.head_dim(), 8);
        let head = [1.0, 5.0, 5.0, 1.7, 0.0, -1.0, 2.0, 2.0];
        let mut out = [0.0; 4];
        s.select(&head, &[1; 7], Selection::Argmax, None, &mut out);
        // Ties go to the lowest index; the Box value is clipped.
        assert_eq!(out, [1.0, 1.0, 0.0, 0.0]);
        s.select(
            &head,
            &[1, 0, 1, 1, 1, 0, 0],
            Selection::Argmax,
            None,
            &mut out,
        );
        // Masked best choices give way; a part with every choice masked takes 0.
        assert_eq!(out, [2.0, 1.0, 0.0, 0.0]);
        assert_eq!(s.check(&out, &[1, 0, 1, 1, 1, 1, 1]), Ok(()));
    }

    #[test]
    fn sampling_follows_the_tempered_softmax_over_legal_choices() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let s = Space::Discrete { n: 4 };
        // At temperature 2, logits 0, 2 ln 2, 4 ln 2 weigh 1 : 2 : 4; choice 3 is masked.
        let ln2 = std::f32::consts::LN_2;
        let head = [0.0, 2.0 * ln2, 4.0 * ln2, 9.0];
        let (mut counts, draws) = ([0u32; 4], 70_000);
        let mut out = [0.0];
        for _ in 0..draws {
            let t = Selection::Sample { temperature: 2.0 };
            s.select(&head, &[1, 1, 1, 0], t, Some(&mut rng), &mut out);
            counts[out[0] as usize] += 1;
        }
        assert_eq!(counts[3], 0);
        for (c, p) in [1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0].into_iter().enumerate() {
            let freq = f64::from(counts[c]) / f64::from(draws);
            // Five binomial standard deviations: a false alarm about once in 3.5 million runs.
            let tolerance = 5.0 * (p * (1.0 - p) / f64::from(draws)).sqrt();
            assert!((freq - p).abs() < tolerance, "choice {c}: {freq} vs {p}");
        }
    }

    #[test]
    fn a_simplex_takes_distributions_only() {
        let s = Space::Tuple(vec![Space::Discrete { n: 2 }, Space::Simplex { n: 3 }]);
        assert_eq!((s.flat_dim(), s.mask_dim(), s.head_dim()), (4, 2, 5));
        assert_eq!(s.to_string(), "Tuple(Discrete(2), Simplex(3))");
        assert_eq!(s.check(&[1.0, 0.2, 0.3, 0.5], &[1, 1]), Ok(()));
        // float32 rounding of a float64 distribution passes.
        let third = (1.0f64 / 3.0) as f32;
        assert_eq!(s.check(&[0.0, third, third, third], &[1, 1]), Ok(()));
        assert_eq!(
            s.check(&[1.0, 0.25, 0.25, 0.25], &[1, 1]),
            Err(ActionProblem::NotADistribution {
                start: 1,
                end: 4,
                sum: 0.75
            })
        );
        assert_eq!(
            s.check(&[1.0, 0.25, 0.25, 0.25], &[1, 1])
                .unwrap_err()
                .to_string(),
            "entries 1..4 sum to 0.75, expected a probability distribution summing to 1 \
             (within 0.0001)"
        );
        assert!(matches!(
            s.check(&[1.0, -0.5, 0.5, 1.0], &[1, 1]),
            Err(ActionProblem::OutOfRange { index: 1, .. })
        ));
        assert!(matches!(
            s.check(&[1.0, f32::NAN, 0.5, 0.5], &[1, 1]),
            Err(ActionProblem::NotFinite { index: 1, .. })
        ));
    }

    #[test]
    fn a_simplex_head_is_its_softmax_whatever_the_selection() {
        let s = Space::Simplex { n: 3 };
        let ln2 = std::f32::consts::LN_2;
        // Logits 0, ln 2, 2 ln 2 weigh 1 : 2 : 4.
        let head = [0.0, ln2, 2.0 * ln2];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for selection in [Selection::Argmax, Selection::Sample { temperature: 0.5 }] {
            let mut out = [0.0; 3];
            s.select(&head, &[], selection, Some(&mut rng), &mut out);
            for (p, want) in out.iter().zip([1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0]) {
                assert!((p - want).abs() < 1e-6, "{out:?}");
            }
            assert_eq!(s.check(&out, &[]), Ok(()));
        }
    }

    #[test]
    fn simplex_samples_are_uniform_on_the_simplex() {
        // Under Dirichlet(1, 1, 1) each coordinate is Beta(1, 2): mean 1/3, P(p < 1/2) = 3/4.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let s = Space::Simplex { n: 3 };
        let (draws, mut sum, mut below) = (40_000, 0.0, 0u32);
        let mut out = [0.0; 3];
        for _ in 0..draws {
            s.sample(&mut rng, &[], &mut out);
            assert_eq!(s.check(&out, &[]), Ok(()));
            sum += f64::from(out[0]);
            below += u32::from(out[0] < 0.5);
        }
        let n = f64::from(draws);
        // Five standard deviations: Var Beta(1, 2) = 1/18; Bernoulli(3/4) has variance 3/16.
        let mean = sum / n;
        assert!(
            (mean - 1.0 / 3.0).abs() < 5.0 * (1.0 / 18.0 / n).sqrt(),
            "{mean}"
        );
        let share = f64::from(below) / n;
        assert!(
            (share - 0.75).abs() < 5.0 * (3.0 / 16.0 / n).sqrt(),
            "{share}"
        );
    }

    #[test]
    fn a_text_part_takes_no_entries_and_bounds_the_text() {
        let s = Space::Tuple(vec![Space::Discrete { n: 2 }, Space::Text { max_chars: 5 }]);
        assert_eq!((s.flat_dim(), s.mask_dim(), s.head_dim()), (1, 2, 2));
        assert_eq!(s.check(&[1.0], &[1, 1]), Ok(()));
        assert_eq!(s.max_text(), Some(5));
        assert_eq!(s.check_text("héllo"), Ok(()), "characters, not bytes");
        assert_eq!(
            s.check_text("hello!"),
            Err(ActionProblem::TextTooLong { chars: 6, max: 5 })
        );
        assert!(matches!(
            Space::Discrete { n: 2 }.check_text("hi"),
            Err(ActionProblem::TextNotTaken { .. })
        ));
        assert_eq!(s.to_string(), "Tuple(Discrete(2), Text(5))");
    }

    #[test]
    fn samples_are_legal() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let s = tuple();
        let mask = [0, 1, 0];
        let mut out = [0.0; 2];
        for _ in 0..100 {
            s.sample(&mut rng, &mask, &mut out);
            assert_eq!(s.check(&out, &mask), Ok(()));
            assert_eq!(out[0], 1.0);
        }
    }
}
