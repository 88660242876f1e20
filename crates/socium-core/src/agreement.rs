//! How far estimates are from the truth: Spearman's rank correlation and the mean absolute error
//! of paired values. A judge's scores against the exact episode totals, an attribution's
//! per-utterance rewards against the exact per-utterance values, are reported this way.

use serde::Serialize;

/// How estimates of one quantity agree with its exact values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Agreement {
    /// Pairs compared.
    pub n: usize,
    /// Spearman's rank correlation (ties ranked by their mean rank); `None` when either side
    /// is constant or there are fewer than 2 pairs.
    pub spearman: Option<f64>,
    /// Mean absolute error (`None` without pairs: a judge that never answered is no perfect one).
    pub mae: Option<f64>,
    /// The estimates' mean (`None` without pairs).
    pub mean_estimate: Option<f64>,
    /// The exact values' mean (`None` without pairs).
    pub mean_exact: Option<f64>,
}

impl Agreement {
    /// The agreement of `estimate` with `exact` (paired).
    pub fn of(estimate: &[f64], exact: &[f64]) -> Agreement {
        let n = estimate.len();
        let mean = |x: &[f64]| (n > 0).then(|| x.iter().sum::<f64>() / n as f64);
        let errors: Vec<f64> = (estimate.iter().zip(exact))
            .map(|(j, e)| (j - e).abs())
            .collect();
        let mae = mean(&errors);
        Agreement {
            n,
            spearman: pearson(&ranks(estimate), &ranks(exact)),
            mae,
            mean_estimate: mean(estimate),
            mean_exact: mean(exact),
        }
    }
}

/// Each value's rank (1-based), ties sharing their mean rank.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson's correlation, `None` when undefined.
fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let (mx, my) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_and_tied_data() {
        let a = Agreement::of(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]);
        assert_eq!(a.spearman, Some(1.0));
        assert_eq!(a.mae, Some((9.0 + 18.0 + 27.0 + 36.0) / 4.0));
        let reversed = Agreement::of(&[4.0, 3.0, 2.0, 1.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!((reversed.spearman.unwrap() + 1.0).abs() < 1e-12);
        // Ties: ranks [1.5, 1.5, 3] against [1, 2, 3]: r = 0.866...
        let tied = Agreement::of(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]);
        assert!((tied.spearman.unwrap() - 0.75f64.sqrt()).abs() < 1e-12);
        assert_eq!(Agreement::of(&[5.0, 5.0], &[1.0, 2.0]).spearman, None);
    }

    #[test]
    fn no_pairs_give_no_figures() {
        let none = Agreement::of(&[], &[]);
        assert_eq!(
            (
                none.n,
                none.spearman,
                none.mae,
                none.mean_estimate,
                none.mean_exact
            ),
            (0, None, None, None, None)
        );
    }
}
