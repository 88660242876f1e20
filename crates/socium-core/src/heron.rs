//! HERON's hierarchical preferences (Bukharin et al. 2023, "Deep Reinforcement Learning from
//! Hierarchical Preference Design", arXiv 2309.02632): reward factors ranked by importance; two
//! outcomes are compared on the most important factor, and if they differ by more than its margin
//! the higher is preferred, else the next factor decides, and so on; if none decides, neither is
//! preferred. The labels train a reward model (Bradley–Terry) in place of a hand-weighted sum.

/// Which of two outcomes HERON prefers, and the factor that decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preference {
    /// 0 for the first outcome, 1 for the second.
    pub preferred: usize,
    /// The index (into the factors' values) of the factor that decided.
    pub factor: usize,
}

/// HERON's preference between outcomes `a` and `b` (each factor's value), looking at the factors
/// in `order` (most important first), each with its margin: `None` when no factor differs by more
/// than its margin.
pub fn prefer(a: &[f64], b: &[f64], order: &[usize], margins: &[f64]) -> Option<Preference> {
    order.iter().zip(margins).find_map(|(&k, &margin)| {
        let d = a[k] - b[k];
        (d.abs() > margin).then_some(Preference {
            preferred: usize::from(d < 0.0),
            factor: k,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_important_factor_beyond_its_margin_decides() {
        // Factors: 0 payoff, 1 reputation; payoff first with margin 1, then reputation with 0.1.
        let (order, margins) = ([0, 1], [1.0, 0.1]);
        let pref = |a: [f64; 2], b: [f64; 2]| prefer(&a, &b, &order, &margins);
        // Payoffs differ by 3 > 1: payoff decides, whatever the reputations.
        assert_eq!(
            pref([5.0, 0.0], [2.0, 9.0]),
            Some(Preference {
                preferred: 0,
                factor: 0
            })
        );
        assert_eq!(
            pref([2.0, 9.0], [5.0, 0.0]),
            Some(Preference {
                preferred: 1,
                factor: 0
            })
        );
        // Payoffs within the margin (|0.5| ≤ 1): reputation decides.
        assert_eq!(
            pref([5.0, 0.2], [4.5, 0.5]),
            Some(Preference {
                preferred: 1,
                factor: 1
            })
        );
        // A difference equal to the margin does not decide.
        assert_eq!(pref([5.0, 0.3], [4.0, 0.2]), None);
        // Reversed order: reputation first.
        assert_eq!(
            prefer(&[5.0, 0.0], &[2.0, 9.0], &[1, 0], &[0.1, 1.0]),
            Some(Preference {
                preferred: 1,
                factor: 1
            })
        );
    }
}
