//! Update rules: one elementary step of an evolving population.

use rand::{Rng, seq::SliceRandom};
use socium_core::{AgentId, ParamKind, SocialGraph};

/// How payoffs become fitness (selection intensity `w`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fitness {
    /// `1 − w + w·π` (Nowak et al. 2004, "Emergence of cooperation and evolutionary stability in
    /// finite populations", Nature 428); payoffs must keep it positive.
    Linear {
        /// Selection intensity in [0, 1].
        w: f64,
    },
    /// `exp(w·π)` (Traulsen et al. 2008): positive for any payoff.
    Exponential {
        /// Selection intensity ≥ 0.
        w: f64,
    },
}

impl Fitness {
    /// The fitness of payoff `payoff`.
    pub fn of(self, payoff: f64) -> f64 {
        match self {
            Fitness::Linear { w } => 1.0 - w + w * payoff,
            Fitness::Exponential { w } => (w * payoff).exp(),
        }
    }

    /// Each payoff's fitness up to one positive factor, for the rules that draw in proportion to
    /// fitness (which the factor leaves alone), floored at 0. `exp(w·π)` is taken relative to
    /// the highest payoff, `exp(w·(π − max))`: it overflows from w·π ≈ 710, which summed
    /// payoffs reach (a 50-turn prisoner's dilemma round robin at w = 1), and an infinite
    /// fitness drew the last individual whatever its own.
    pub fn relative(self, payoffs: &[f64], out: &mut [f64]) {
        let top = match self {
            Fitness::Linear { .. } => 0.0,
            Fitness::Exponential { .. } => payoffs.iter().copied().fold(f64::MIN, f64::max),
        };
        for (f, &p) in out.iter_mut().zip(payoffs) {
            *f = self.of(p - top).max(0.0);
        }
    }

    /// A key that orders payoffs as their fitness does, finite for finite payoffs: the fitness,
    /// or for `exp(w·π)` its log, w·π. What truncation ranks, negative values included.
    pub fn order_key(self, payoff: f64) -> f64 {
        match self {
            Fitness::Linear { .. } => self.of(payoff),
            Fitness::Exponential { w } => w * payoff,
        }
    }
}

/// One elementary update of a population.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UpdateRule {
    /// Moran birth–death (Moran 1958; on graphs, Lieberman et al. 2005): an individual is chosen
    /// to reproduce with probability proportional to fitness; its offspring replaces a uniformly
    /// random neighbour.
    BirthDeath,
    /// Moran death–birth (Ohtsuki et al. 2006): a uniformly random individual dies; its
    /// neighbours compete for the empty place with probability proportional to fitness.
    DeathBirth,
    /// Pairwise comparison (Traulsen et al. 2006): a random individual looks at a random
    /// neighbour and adopts its type with probability `1 / (1 + exp(−β(π_other − π_self)))`,
    /// comparing payoffs (the `fitness` given to [`Population::update`] is then the payoffs).
    Fermi {
        /// Intensity of selection β ≥ 0.
        beta: f64,
    },
}

/// A heritable variant of a type: the type (lineage) it descends from and the strategy
/// parameters it carries (empty when the lineage's parameters do not drift).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Variant {
    /// The type it descends from.
    pub lineage: usize,
    /// Its strategy's parameters, in the strategy's declared order.
    pub params: Vec<f64>,
}

/// How one parameter of a lineage's strategy drifts at every birth: a Gaussian step, clipped to
/// the declared range (and rounded for whole-number parameters); a bit table flips each bit with
/// probability `sd` instead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drift {
    /// Index of the parameter in the strategy's parameters.
    pub param: usize,
    /// Standard deviation of the step; for a bit table, the probability that each bit flips.
    pub sd: f64,
    /// Lowest legal value.
    pub min: f64,
    /// Highest legal value.
    pub max: f64,
    /// What the values are.
    pub kind: ParamKind,
}

impl Drift {
    fn step(&self, value: f64, rng: &mut impl Rng) -> f64 {
        if let ParamKind::Bits(k) = self.kind {
            assert!(
                k <= 52,
                "a table of {k} bits does not fit a float's whole numbers"
            );
            let flips = (0..k).filter(|_| rng.random_bool(self.sd));
            let table = flips.fold(value as u64, |t, bit| t ^ (1 << bit));
            return table as f64;
        }
        let normal = rand_distr::Normal::new(0.0, self.sd).expect("sd is finite and ≥ 0");
        let v = (value + rand_distr::Distribution::sample(&normal, rng)).clamp(self.min, self.max);
        match self.kind {
            ParamKind::Real => v,
            _ => v.round(),
        }
    }
}

/// A population: each individual's variant of one of the types in play, with mutation between
/// types and drift of the types' parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    /// Variant of each individual (an agent id indexes it); the first `type_count` variants are
    /// the types' founders, so without drift a variant index is a type index.
    pub types: Vec<usize>,
    /// Number of types a mutant may take.
    pub type_count: usize,
    /// Probability that an offspring (or imitator) takes a uniformly random other type.
    pub mutation: f64,
    /// The variants in play (founders first).
    pub variants: Vec<Variant>,
    /// Per type, how its parameters drift at every birth (empty: they do not).
    pub drift: Vec<Vec<Drift>>,
}

impl Population {
    /// `counts[t]` individuals of type `t`, in type order, with no drift.
    pub fn from_counts(counts: &[usize], mutation: f64) -> Self {
        let types = counts
            .iter()
            .enumerate()
            .flat_map(|(t, &c)| std::iter::repeat_n(t, c))
            .collect();
        Population {
            types,
            type_count: counts.len(),
            mutation,
            variants: (0..counts.len())
                .map(|lineage| Variant {
                    lineage,
                    params: Vec::new(),
                })
                .collect(),
            drift: vec![Vec::new(); counts.len()],
        }
    }

    /// Lets type `t`'s parameters, starting at `founders[t]`, drift by `drift[t]` at every birth.
    pub fn with_drift(mut self, founders: Vec<Vec<f64>>, drift: Vec<Vec<Drift>>) -> Self {
        for (variant, params) in self.variants.iter_mut().zip(founders) {
            variant.params = params;
        }
        self.drift = drift;
        self
    }

    /// Individuals per type.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.type_count];
        for &v in &self.types {
            counts[self.variants[v].lineage] += 1;
        }
        counts
    }

    /// The type every individual has, if they all have one.
    pub fn fixed(&self) -> Option<usize> {
        let lineage = |v: usize| self.variants[v].lineage;
        let first = lineage(*self.types.first()?);
        self.types
            .iter()
            .all(|&v| lineage(v) == first)
            .then_some(first)
    }

    /// Each drifting parameter among the living members of its type, in type order: the mean,
    /// or for a bit table the most common table (`None` for an extinct type).
    pub fn typical_drifting_params(&self) -> Vec<Option<f64>> {
        let mut typical = Vec::new();
        for (t, drift) in self.drift.iter().enumerate() {
            let members = || {
                self.types
                    .iter()
                    .map(|&v| &self.variants[v])
                    .filter(move |v| v.lineage == t)
            };
            let n = members().count() as f64;
            for d in drift {
                let values = members().map(|v| v.params[d.param]);
                typical.push(match d.kind {
                    ParamKind::Bits(_) => {
                        // The most common table; ties go to the lowest.
                        let mut tables: Vec<u64> = values.map(|v| v as u64).collect();
                        tables.sort_unstable();
                        let runs = tables.chunk_by(|a, b| a == b);
                        let best = runs.max_by_key(|r| (r.len(), std::cmp::Reverse(r[0])));
                        best.map(|r| r[0] as f64)
                    }
                    _ => (n > 0.0).then(|| values.sum::<f64>() / n),
                });
            }
        }
        typical
    }

    /// Forgets variants nobody carries (founders stay), renumbering the rest in order, so that
    /// drift over many generations keeps the table small.
    pub fn compact(&mut self) {
        let mut used = vec![false; self.variants.len()];
        used[..self.type_count].fill(true);
        for &v in &self.types {
            used[v] = true;
        }
        let mut new_index = vec![0; self.variants.len()];
        let mut kept = 0;
        for (v, &u) in used.iter().enumerate() {
            new_index[v] = kept;
            kept += usize::from(u);
        }
        let mut keep = used.iter();
        self.variants
            .retain(|_| *keep.next().expect("one flag per variant"));
        for v in &mut self.types {
            *v = new_index[*v];
        }
    }

    fn neighbour(
        &self,
        a: usize,
        graph: Option<&SocialGraph>,
        rng: &mut impl Rng,
    ) -> Option<usize> {
        match graph {
            Some(g) => g
                .random_neighbour(AgentId(a as u32), rng)
                .map(AgentId::index),
            None => {
                let n = self.types.len();
                (n > 1).then(|| {
                    let b = rng.random_range(0..n - 1);
                    if b >= a { b + 1 } else { b }
                })
            }
        }
    }

    /// The variant of `parent`'s offspring: with probability `mutation` the founder of a
    /// uniformly random other type, else the parent's; then its type's parameters drift (a new
    /// variant, unless an identical one is in play).
    fn offspring(&mut self, parent: usize, rng: &mut impl Rng) -> usize {
        let v = self.types[parent];
        let t = self.variants[v].lineage;
        let variant =
            if self.type_count > 1 && self.mutation > 0.0 && rng.random_bool(self.mutation) {
                let other = rng.random_range(0..self.type_count - 1);
                if other >= t { other + 1 } else { other }
            } else {
                v
            };
        let lineage = self.variants[variant].lineage;
        if self.drift[lineage].is_empty() {
            return variant;
        }
        let mut params = self.variants[variant].params.clone();
        for d in &self.drift[lineage] {
            params[d.param] = d.step(params[d.param], rng);
        }
        let child = Variant { lineage, params };
        match self.variants.iter().position(|v| *v == child) {
            Some(existing) => existing,
            None => {
                self.variants.push(child);
                self.variants.len() - 1
            }
        }
    }

    /// Applies one update with the given per-individual `fitness` (payoffs for `Fermi`). A
    /// population of one, or an isolated chosen individual, stays as it is.
    pub fn update(
        &mut self,
        rule: UpdateRule,
        fitness: &[f64],
        graph: Option<&SocialGraph>,
        rng: &mut impl Rng,
    ) {
        let n = self.types.len();
        assert_eq!(fitness.len(), n, "one fitness value per individual");
        match rule {
            UpdateRule::BirthDeath => {
                let parent = proportional(fitness, 0..n, rng);
                if let Some(victim) = self.neighbour(parent, graph, rng) {
                    self.types[victim] = self.offspring(parent, rng);
                }
            }
            UpdateRule::DeathBirth => {
                let dead = rng.random_range(0..n);
                let parent = match graph {
                    Some(g) => {
                        let ns = g.neighbours(AgentId(dead as u32));
                        if ns.is_empty() {
                            return;
                        }
                        ns[proportional_of(ns.iter().map(|b| fitness[b.index()]), rng)].index()
                    }
                    None if n > 1 => {
                        let others = (0..n).filter(|&b| b != dead);
                        let k = proportional_of(others.clone().map(|b| fitness[b]), rng);
                        others.clone().nth(k).expect("k indexes the others")
                    }
                    None => return,
                };
                self.types[dead] = self.offspring(parent, rng);
            }
            UpdateRule::Fermi { beta } => {
                let learner = rng.random_range(0..n);
                if let Some(model) = self.neighbour(learner, graph, rng) {
                    let p = 1.0 / (1.0 + (-beta * (fitness[model] - fitness[learner])).exp());
                    if rng.random_bool(p.clamp(0.0, 1.0)) {
                        self.types[learner] = self.offspring(model, rng);
                    }
                }
            }
        }
    }
}

impl Population {
    /// Replaces the whole population by offspring of parents drawn with probability proportional
    /// to fitness (uniformly when every fitness is 0).
    pub fn reproduce_proportionally(&mut self, fitness: &[f64], rng: &mut impl Rng) {
        let parents: Vec<usize> = (0..self.types.len())
            .map(|_| proportional_of(fitness.iter().copied(), rng))
            .collect();
        let children: Vec<usize> = parents.iter().map(|&p| self.offspring(p, rng)).collect();
        self.types = children;
    }

    /// Keeps the types of the `survivors` share ranked highest by `score` (at least one
    /// individual) and gives everyone else the type of a uniformly random survivor, with
    /// mutation.
    ///
    /// `score` is ranked as it is, negative values included: only the order matters, so a net
    /// loser ranks below an individual that gained nothing (a floor at 0 would tie them). Ties
    /// are broken at random, by a permutation drawn from `rng`: ids are handed out group by group
    /// in the scenario's order, so breaking ties by id would always favour the first-listed
    /// group. The notebook of Vallinder & Hughes (aronvallinder/llm-donor-game,
    /// `Donor_Game_with_Cultural_Evolution.ipynb`, cell 19, `selectTopAgents`) sorts a freshly
    /// shuffled list stably, which breaks ties at random too.
    pub fn truncate(&mut self, score: &[f64], survivors: f64, rng: &mut impl Rng) {
        let n = self.types.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(rng);
        // A stable sort: equal scores stay in the shuffled order.
        order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
        let keep = ((survivors * n as f64).round() as usize).clamp(1, n);
        let (kept, replaced) = order.split_at(keep);
        for &newcomer in replaced {
            let model = kept[rng.random_range(0..keep)];
            self.types[newcomer] = self.offspring(model, rng);
        }
    }
}

/// An index of `range` drawn with probability proportional to `weights[i]`.
fn proportional(weights: &[f64], range: std::ops::Range<usize>, rng: &mut impl Rng) -> usize {
    range.start + proportional_of(weights[range].iter().copied(), rng)
}

/// The position of an item drawn with probability proportional to its weight (all ≥ 0, not all
/// zero; uniform when all are zero).
fn proportional_of(weights: impl Iterator<Item = f64> + Clone, rng: &mut impl Rng) -> usize {
    let total: f64 = weights.clone().sum();
    let count = weights.clone().count();
    if total <= 0.0 {
        return rng.random_range(0..count);
    }
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.enumerate() {
        if x < w {
            return i;
        }
        x -= w;
    }
    count - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_fitness_keeps_the_ratios_without_overflowing() {
        let exponential = Fitness::Exponential { w: 1.0 };
        let mut out = [0.0; 3];
        exponential.relative(&[1000.0, 999.3, 0.0], &mut out);
        assert_eq!(out[0], 1.0);
        assert!((out[1] - (-0.7f64).exp()).abs() < 1e-12, "{out:?}");
        assert_eq!(out[2], 0.0, "e^-1000 is below the smallest float");
        // Linear fitness is its own, floored at 0.
        let linear = Fitness::Linear { w: 0.5 };
        linear.relative(&[3.0, -4.0, 0.0], &mut out);
        assert_eq!(out, [2.0, 0.0, 0.5]);
        // Truncation's keys order payoffs as fitness does, finite where exp overflows.
        assert_eq!(exponential.order_key(1000.0), 1000.0);
        assert!(exponential.order_key(-1.0) < exponential.order_key(0.0));
        assert_eq!(linear.order_key(-4.0), -1.5);
    }
    use rand::SeedableRng;

    #[test]
    fn mutation_picks_another_type_and_counts_add_up() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut p = Population::from_counts(&[5, 5, 0], 1.0);
        assert_eq!(p.counts(), vec![5, 5, 0]);
        for _ in 0..200 {
            let before = p.types.clone();
            p.update(UpdateRule::BirthDeath, &[1.0; 10], None, &mut rng);
            let changed: Vec<_> = before
                .iter()
                .zip(&p.types)
                .filter(|(a, b)| a != b)
                .collect();
            assert!(changed.len() <= 1);
            assert_eq!(p.counts().iter().sum::<usize>(), 10);
        }
        assert!(p.counts()[2] > 0, "mutants of the absent type appear");
        assert_eq!(Population::from_counts(&[0, 3], 0.0).fixed(), Some(1));
    }

    #[test]
    fn a_bit_table_drifts_by_flipping_bits() {
        let drift = |p: f64| Drift {
            param: 0,
            sd: p,
            min: 0.0,
            max: 255.0,
            kind: ParamKind::Bits(8),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        assert_eq!(drift(0.0).step(153.0, &mut rng), 153.0);
        assert_eq!(drift(1.0).step(153.0, &mut rng), f64::from(!153u8));
        // At 1/8 a bit, one bit flips on average: the Hamming distance has mean 1.
        let draws = 20_000;
        let flipped: u32 = (0..draws)
            .map(|_| {
                let v = drift(0.125).step(153.0, &mut rng);
                assert!(v.fract() == 0.0 && (0.0..=255.0).contains(&v));
                (v as u8 ^ 153).count_ones()
            })
            .sum();
        let mean = f64::from(flipped) / f64::from(draws);
        // Five standard deviations of Binomial(8, 1/8) / sqrt(draws).
        let tolerance = 5.0 * (8.0f64 * 0.125 * 0.875 / f64::from(draws)).sqrt();
        assert!((mean - 1.0).abs() < tolerance, "{mean}");
    }

    #[test]
    fn drift_keeps_parameters_legal_and_compaction_forgets_the_dead() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // Type 0 carries (k, p): k a whole number in [-5, 6] drifting by sd 2; p does not drift.
        let k = Drift {
            param: 0,
            sd: 2.0,
            min: -5.0,
            max: 6.0,
            kind: ParamKind::Integer,
        };
        let mut pop = Population::from_counts(&[6, 4], 0.0)
            .with_drift(vec![vec![0.0, 0.3], vec![]], vec![vec![k], vec![]]);
        let mut drifted = false;
        for _ in 0..300 {
            pop.update(UpdateRule::BirthDeath, &[1.0; 10], None, &mut rng);
            pop.compact();
            assert_eq!(pop.counts().iter().sum::<usize>(), 10);
            for &v in &pop.types {
                let variant = &pop.variants[v];
                if variant.lineage == 0 {
                    let k = variant.params[0];
                    assert!(k.fract() == 0.0 && (-5.0..=6.0).contains(&k), "{k}");
                    assert_eq!(variant.params[1], 0.3);
                    drifted |= k != 0.0;
                }
            }
            // Founders, then only variants someone carries.
            assert!(pop.variants.len() <= 2 + 10);
            assert_eq!(pop.variants[0].params, vec![0.0, 0.3]);
        }
        // Some lineage-0 offspring was born with a drifted k while the lineage lived.
        assert!(drifted, "k never drifted");
    }

    #[test]
    fn truncation_keeps_the_fittest_and_copies_them() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut p = Population::from_counts(&[1, 1, 1, 1], 0.0);
        p.truncate(&[1.0, 5.0, 3.0, 0.0], 0.5, &mut rng);
        assert_eq!(
            (p.types[1], p.types[2]),
            (1, 2),
            "the top half keeps its types"
        );
        assert!(
            p.types.iter().all(|t| [1, 2].contains(t)),
            "newcomers copy survivors: {:?}",
            p.types
        );
    }

    #[test]
    fn proportional_reproduction_follows_fitness() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut p = Population::from_counts(&[500, 500], 0.0);
        let fitness: Vec<f64> = p
            .types
            .iter()
            .map(|&t| if t == 1 { 3.0 } else { 1.0 })
            .collect();
        p.reproduce_proportionally(&fitness, &mut rng);
        // Expected share of type 1: 3/4; 1,000 draws give a standard error of 0.014.
        let share = p.counts()[1] as f64 / 1000.0;
        assert!((share - 0.75).abs() < 0.045, "{share}");
        let mut zero = Population::from_counts(&[2, 2], 0.0);
        zero.reproduce_proportionally(&[0.0; 4], &mut rng);
        assert_eq!(zero.types.len(), 4);
    }

    #[test]
    fn fitness_maps() {
        assert!((Fitness::Linear { w: 0.1 }.of(3.0) - 1.2).abs() < 1e-12);
        assert_eq!(Fitness::Exponential { w: 0.0 }.of(5.0), 1.0);
    }
}
