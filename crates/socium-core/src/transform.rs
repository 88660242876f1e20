//! Transforms: how a dimension's per-step raw value becomes its reward component, per scenario
//! (`[rewards.<dimension>] transform`). Some look back over a window of the dimension's raw values
//! (every agent's, this step included), some compare with a reference. The formulas and their
//! sources are in `docs/rewards.md`.

use crate::{
    AgentId, Agents,
    bounded::{Count, Finite, Positive, Probability},
};
use serde::Deserialize;
use std::collections::VecDeque;

/// How a dimension's per-step raw value is turned into its reward component.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Transform {
    /// The raw value.
    #[default]
    Identity,
    /// `(x − min) / (max − min)` over the window; 0 while max = min.
    MinMax {
        /// Steps in the window (≥ 1).
        window: Count,
    },
    /// Centred sigmoid `2 / (1 + e^(−x / scale)) − 1`, in (−1, 1) and 0 at 0.
    Sigmoid {
        /// Raw value that maps to about 0.46.
        scale: Positive,
    },
    /// `log σ(x − r_ref)`, at most 0: summed over dimensions, the log-probability that every
    /// property is good — a logical AND (Wang et al. 2024, "Transforming and Combining Rewards
    /// for Aligning Large Language Models").
    LogSigmoid {
        /// `r_ref`.
        reference: Reference,
    },
    /// `σ(x − r_ref)`, in (0, 1): preference as reward, centred and bounded against reward
    /// hacking (Fu et al. 2025, "Reward Shaping to Mitigate Reward Hacking in RLHF", PAR).
    Par {
        /// `r_ref`.
        reference: Reference,
    },
    /// `(x − mean) / sd` over the window (population sd); 0 while sd = 0.
    Zscore {
        /// Steps in the window (≥ 1).
        window: Count,
    },
    /// `x` clamped to `[low, high]`.
    Clip {
        /// Lower bound.
        low: Finite,
        /// Upper bound (≥ `low`).
        high: Finite,
    },
    /// The agent's rank among the agents acting this step, `(rank − 1) / (m − 1)` in [0, 1]
    /// (ties share their mean rank; 0.5 for a lone actor); 0 for an idle agent.
    Rank,
}

/// The reference `r_ref` of a transform that compares.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Reference {
    /// A constant.
    Constant(Finite),
    /// The mean of the dimension's raw values (every agent's) over the last `window` steps,
    /// this one included.
    Mean {
        /// Steps in the window.
        window: Count,
    },
    /// The `p`-quantile (linear interpolation between order statistics) of the same values.
    Percentile {
        /// The quantile, in [0, 1].
        p: Probability,
        /// Steps in the window.
        window: Count,
    },
    /// The mean raw value, this step, of the agents labelled so (a reference group).
    Group(String),
}

impl Transform {
    /// Steps the transform looks back over (this one included), and whether it needs every
    /// value of them (a quantile) rather than their sums.
    fn window(&self) -> Option<(usize, bool)> {
        let reference = |r: &Reference| match r {
            Reference::Mean { window } => Some((window.get() as usize, false)),
            Reference::Percentile { window, .. } => Some((window.get() as usize, true)),
            Reference::Constant(_) | Reference::Group(_) => None,
        };
        match self {
            Transform::MinMax { window } | Transform::Zscore { window } => {
                Some((window.get() as usize, false))
            }
            Transform::LogSigmoid { reference: r } | Transform::Par { reference: r } => {
                reference(r)
            }
            _ => None,
        }
    }

    /// Refuses a transform these agents (their labels) cannot serve: a reference group no agent
    /// is labelled, or clip bounds the wrong way round.
    pub fn check(&self, labels: &[&str]) -> Result<(), String> {
        if let Transform::Clip { low, high } = self
            && low.get() > high.get()
        {
            return Err(format!(
                "`clip`: `low` ({}) is above `high` ({})",
                low.get(),
                high.get()
            ));
        }
        match self.group() {
            Some(g) if !labels.contains(&g) => {
                let mut known: Vec<&str> = Vec::new();
                for l in labels {
                    if !known.contains(l) {
                        known.push(l);
                    }
                }
                Err(format!(
                    "reference group `{g}`: no agent is labelled so; the labels are {}",
                    known.join(", ")
                ))
            }
            _ => Ok(()),
        }
    }

    /// The reference group this transform names, if any.
    pub fn group(&self) -> Option<&str> {
        match self {
            Transform::LogSigmoid {
                reference: Reference::Group(g),
            }
            | Transform::Par {
                reference: Reference::Group(g),
            } => Some(g),
            _ => None,
        }
    }
}

/// One step's raw values of a dimension, summed up (and kept, for quantiles).
#[derive(Clone, Debug)]
struct StepStats {
    n: f64,
    sum: f64,
    /// The squared deviations from the step's own mean, summed: with the step's mean, what
    /// combines into the window's variance without the cancellation of `Σx²/n − mean²`, which
    /// loses every digit of a spread of 1 around values of 1e8.
    m2: f64,
    lo: f64,
    hi: f64,
    values: Vec<f64>,
}

/// A dimension's past steps, for the transforms that look back, and its reference group.
#[derive(Clone, Debug, Default)]
pub(crate) struct History {
    steps: VecDeque<StepStats>,
    /// The reference group's agents, found at the first step.
    group: Option<Vec<usize>>,
}

impl History {
    pub(crate) fn clear(&mut self) {
        self.steps.clear();
    }

    /// Forgets the reference group's agents, to be found anew at the next step: the agents were
    /// given other labels (`Sim::retune`).
    pub(crate) fn forget_group(&mut self) {
        self.group = None;
    }

    /// Sums over the window: count, sum, min, max.
    fn totals(&self) -> (f64, f64, f64, f64) {
        self.steps.iter().fold(
            (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY),
            |(n, s, lo, hi), t| (n + t.n, s + t.sum, lo.min(t.lo), hi.max(t.hi)),
        )
    }

    /// The window's mean and population variance (0 and 0 when empty): the steps' means and
    /// squared deviations combined pairwise (Chan, Golub & LeVeque 1983).
    fn mean_and_variance(&self) -> (f64, f64) {
        let (n, mean, m2) = self.steps.iter().fold((0.0, 0.0, 0.0), |(n, mean, m2), t| {
            if t.n == 0.0 {
                return (n, mean, m2);
            }
            let (step_mean, all) = (t.sum / t.n, n + t.n);
            let delta = step_mean - mean;
            (
                all,
                mean + delta * t.n / all,
                m2 + t.m2 + delta * delta * n * t.n / all,
            )
        });
        (mean, if n > 0.0 { m2 / n } else { 0.0 })
    }

    /// The `p`-quantile of every value in the window (0 when empty).
    fn quantile(&self, p: f64) -> f64 {
        let mut all: Vec<f64> = self
            .steps
            .iter()
            .flat_map(|t| t.values.iter().copied())
            .collect();
        if all.is_empty() {
            return 0.0;
        }
        all.sort_by(f64::total_cmp);
        let h = (all.len() - 1) as f64 * p;
        let (i, frac) = (h.floor() as usize, h - h.floor());
        let next = all[(i + 1).min(all.len() - 1)];
        all[i] + frac * (next - all[i])
    }
}

/// `σ(z)`.
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `log σ(z)`, without overflow for large `|z|`.
fn log_sigmoid(z: f64) -> f64 {
    match z >= 0.0 {
        true => -(-z).exp().ln_1p(),
        false => z - z.exp().ln_1p(),
    }
}

/// Writes the components of one dimension for every agent: `column[a]` is agent `a`'s raw value
/// this step, `out[a]` its component.
pub(crate) fn apply(
    transform: &Transform,
    column: &[f64],
    acting: &[bool],
    agents: &Agents,
    history: &mut History,
    out: &mut [f64],
) {
    if let Some((window, keep)) = transform.window() {
        let (lo, hi) = column
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        let sum: f64 = column.iter().sum();
        let mean = sum / column.len().max(1) as f64;
        history.steps.push_back(StepStats {
            n: column.len() as f64,
            sum,
            m2: column.iter().map(|x| (x - mean) * (x - mean)).sum(),
            lo,
            hi,
            values: if keep { column.to_vec() } else { Vec::new() },
        });
        while history.steps.len() > window {
            history.steps.pop_front();
        }
    }
    let reference = |r: &Reference, history: &mut History| -> f64 {
        match r {
            Reference::Constant(c) => c.get(),
            Reference::Mean { .. } => {
                let (n, sum, ..) = history.totals();
                if n > 0.0 { sum / n } else { 0.0 }
            }
            Reference::Percentile { p, .. } => history.quantile(p.get()),
            Reference::Group(label) => {
                let members = history.group.get_or_insert_with(|| {
                    agents
                        .ids()
                        .filter(|&a| agents.label(a) == label)
                        .map(AgentId::index)
                        .collect()
                });
                match members.len() {
                    0 => 0.0,
                    m => members.iter().map(|&a| column[a]).sum::<f64>() / m as f64,
                }
            }
        }
    };
    match transform {
        Transform::Identity => out.copy_from_slice(column),
        Transform::Sigmoid { scale } => {
            for (o, x) in out.iter_mut().zip(column) {
                *o = 2.0 / (1.0 + (-x / scale.get()).exp()) - 1.0;
            }
        }
        Transform::Clip { low, high } => {
            for (o, x) in out.iter_mut().zip(column) {
                *o = x.clamp(low.get(), high.get());
            }
        }
        Transform::MinMax { .. } => {
            let (_, _, lo, hi) = history.totals();
            for (o, x) in out.iter_mut().zip(column) {
                *o = if hi > lo { (x - lo) / (hi - lo) } else { 0.0 };
            }
        }
        Transform::Zscore { .. } => {
            let (mean, variance) = history.mean_and_variance();
            let sd = variance.sqrt();
            // A window of equal values has sd 0 exactly, which its mean, rounded, need not
            // show: 12 values of 10000.1 sum to a mean one rounding step off, and every
            // deviation is then that step, with an sd of the same size (scores of ±1).
            let (.., lo, hi) = history.totals();
            for (o, x) in out.iter_mut().zip(column) {
                *o = if hi > lo && sd > 1e-12 {
                    (x - mean) / sd
                } else {
                    0.0
                };
            }
        }
        Transform::LogSigmoid { reference: r } | Transform::Par { reference: r } => {
            let r_ref = reference(r, history);
            let f = match transform {
                Transform::LogSigmoid { .. } => log_sigmoid,
                _ => sigmoid,
            };
            for (o, x) in out.iter_mut().zip(column) {
                *o = f(x - r_ref);
            }
        }
        Transform::Rank => {
            let mut order: Vec<usize> = (0..column.len()).filter(|&a| acting[a]).collect();
            order.sort_by(|&a, &b| column[a].total_cmp(&column[b]));
            out.fill(0.0);
            let m = order.len();
            let mut i = 0;
            while i < m {
                let mut j = i;
                while j + 1 < m && column[order[j + 1]] == column[order[i]] {
                    j += 1;
                }
                let rank = (i + j) as f64 / 2.0;
                for &a in &order[i..=j] {
                    out[a] = if m > 1 { rank / (m - 1) as f64 } else { 0.5 };
                }
                i = j + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentSpec, Controller};

    /// Agents labelled as given.
    fn agents(labels: &[&str]) -> Agents {
        let spec = |l: &&str| AgentSpec {
            controller: Controller::External,
            label: (*l).into(),
            social: Default::default(),
        };
        Agents::new(labels.iter().map(spec).collect())
    }

    /// Applies `t` to each step's column in turn (every agent acting), returning the last
    /// step's components.
    fn run(t: &Transform, steps: &[&[f64]]) -> Vec<f64> {
        let n = steps[0].len();
        let (agents, mut history) = (agents(&vec!["x"; n]), History::default());
        let mut out = vec![0.0; n];
        for column in steps {
            apply(t, column, &vec![true; n], &agents, &mut history, &mut out);
        }
        out
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    fn count(n: u32) -> Count {
        Count::new(n).unwrap()
    }

    fn constant(c: f64) -> Reference {
        Reference::Constant(Finite::new(c).unwrap())
    }

    #[test]
    fn log_sigmoid_and_par_against_a_constant() {
        let ls = run(
            &Transform::LogSigmoid {
                reference: constant(1.0),
            },
            &[&[1.0, 3.0, -1000.0]],
        );
        // log σ(0) = −ln 2; log σ(2) = −ln(1 + e^−2); log σ(−1001) ≈ −1001 (no overflow).
        assert!(close(
            &ls[..2],
            &[-(2f64.ln()), -(1.0 + (-2f64).exp()).ln()]
        ));
        assert!((ls[2] + 1001.0).abs() < 1e-9);
        let par = run(
            &Transform::Par {
                reference: constant(1.0),
            },
            &[&[1.0, 3.0]],
        );
        assert!(close(&par, &[0.5, 1.0 / (1.0 + (-2f64).exp())]));
    }

    #[test]
    fn references_over_a_window_and_of_a_group() {
        // Mean over 2 steps of every agent's value: (0 + 2 + 4 + 6) / 4 = 3; σ(4 − 3), σ(6 − 3).
        let mean = Reference::Mean { window: count(2) };
        let par = run(
            &Transform::Par { reference: mean },
            &[&[100.0, 100.0], &[0.0, 2.0], &[4.0, 6.0]],
        );
        assert!(close(
            &par,
            &[1.0 / (1.0 + (-1f64).exp()), 1.0 / (1.0 + (-3f64).exp())]
        ));
        // Median of {0, 2, 4, 6} by linear interpolation: 3; its 0.25-quantile: 1.5.
        let p = |q: f64| Reference::Percentile {
            p: Probability::new(q).unwrap(),
            window: count(2),
        };
        let half = run(
            &Transform::Par { reference: p(0.5) },
            &[&[0.0, 2.0], &[4.0, 6.0]],
        );
        assert!((half[1] - 1.0 / (1.0 + (-3f64).exp())).abs() < 1e-12);
        let quarter = run(
            &Transform::Par { reference: p(0.25) },
            &[&[0.0, 2.0], &[4.0, 6.0]],
        );
        assert!((quarter[0] - 1.0 / (1.0 + (-2.5f64).exp())).abs() < 1e-12);
        // The group "ref" (agents 1 and 2) has mean 3 this step.
        let t = Transform::LogSigmoid {
            reference: Reference::Group("ref".into()),
        };
        let (labels, mut history, mut out) = (
            agents(&["me", "ref", "ref"]),
            History::default(),
            vec![0.0; 3],
        );
        apply(
            &t,
            &[5.0, 2.0, 4.0],
            &[true; 3],
            &labels,
            &mut history,
            &mut out,
        );
        assert!((out[0] - log_sigmoid(2.0)).abs() < 1e-12);
        assert_eq!(t.group(), Some("ref"));
    }

    #[test]
    fn zscore_clip_and_min_max_edge_cases() {
        let z = Transform::Zscore { window: count(3) };
        // One step of equal values: sd 0 gives 0.
        assert_eq!(run(&z, &[&[2.0, 2.0]]), vec![0.0, 0.0]);
        // Equal values whose mean rounds off them (a review found ±1 for every agent here), in
        // one step and over a window of several.
        let z1 = Transform::Zscore { window: count(1) };
        assert_eq!(run(&z1, &[&[10000.1; 12]]), vec![0.0; 12]);
        assert_eq!(run(&z1, &[&[1e6 + 0.1; 7]]), vec![0.0; 7]);
        assert_eq!(run(&z, &[&[10000.1; 12], &[10000.1; 12]]), vec![0.0; 12]);
        // Values 1, 3 (mean 2, sd 1): −1 and 1.
        assert!(close(&run(&z, &[&[1.0, 3.0]]), &[-1.0, 1.0]));
        // A window of 2 steps: 0, 0, 1, 3 (mean 1, sd √1.5).
        let w = run(
            &Transform::Zscore { window: count(2) },
            &[&[9.0, 9.0], &[0.0, 0.0], &[1.0, 3.0]],
        );
        assert!(close(&w, &[0.0, 2.0 / 1.5f64.sqrt()]));
        // Around 1e9, over two steps: 1e9 + (0, 1, 2, 3), mean 1e9 + 1.5, sd √1.25. The old
        // Σx²/n − mean² gave sd 0 here (every score 0).
        let big = run(&z, &[&[1e9, 1e9 + 1.0], &[1e9 + 2.0, 1e9 + 3.0]]);
        let sd = 1.25f64.sqrt();
        assert!(close(&big, &[0.5 / sd, 1.5 / sd]), "{big:?}");
        let clip = Transform::Clip {
            low: Finite::new(-1.0).unwrap(),
            high: Finite::new(2.0).unwrap(),
        };
        assert_eq!(run(&clip, &[&[-5.0, 0.5, 7.0]]), vec![-1.0, 0.5, 2.0]);
        assert_eq!(
            run(&Transform::MinMax { window: count(1) }, &[&[4.0, 4.0]]),
            vec![0.0, 0.0]
        );
    }

    #[test]
    fn rank_among_the_acting_agents_ties_and_idleness() {
        let (labels, mut history, mut out) = (agents(&["x"; 5]), History::default(), vec![9.0; 5]);
        let acting = [true, true, false, true, true];
        apply(
            &Transform::Rank,
            &[3.0, 1.0, 100.0, 3.0, 0.0],
            &acting,
            &labels,
            &mut history,
            &mut out,
        );
        // Acting values 3, 1, 3, 0: ranks 2.5, 1, 2.5, 0 (0-based), over m − 1 = 3.
        assert!(close(&out, &[2.5 / 3.0, 1.0 / 3.0, 0.0, 2.5 / 3.0, 0.0]));
        apply(
            &Transform::Rank,
            &[1.0; 5],
            &[false; 5],
            &labels,
            &mut history,
            &mut out,
        );
        assert_eq!(out, vec![0.0; 5], "all agents idle");
        apply(
            &Transform::Rank,
            &[1.0; 5],
            &[false, true, false, false, false],
            &labels,
            &mut history,
            &mut out,
        );
        assert_eq!(out[1], 0.5, "a lone actor sits in the middle");
    }
}
