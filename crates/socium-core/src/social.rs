//! Social preferences: how an agent weighs the others' rewards into its own scalar reward, per
//! agent group (`[[agents]] social = ...`). "The others" are its neighbours on the social graph
//! (everyone else on a complete graph). The raw entries, the components and the transcript stay
//! as the game made them: only the scalar reward (and so the return) is social.
//!
//! Sources: the ring of social value orientation (Griesinger & Livingston 1973; Murphy et al.
//! 2011) as a reward, `cos θ·own + sin θ·others'` (θ = 0 selfish, 45° prosocial); McKee et al.
//! 2020 ("Social Diversity and Social Preferences in Mixed-Motive Reinforcement Learning",
//! AAMAS), who penalise the distance between a target angle and the reward angle
//! `atan(others' / own)`, here `atan2(others', own)` (the angle in its quadrant, so that it is
//! defined where the own reward is 0 or below); and the welfare functions of social choice (utilitarian sum, Nash
//! product, Rawls's max-min).

use crate::{AgentId, SocialGraph, bounded::NonNegative};
use serde::{Deserialize, Deserializer, de::Error as _};

/// An agent's social preference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Social {
    /// Its own reward.
    #[default]
    Selfish,
    /// The SVO ring utility `cos θ · own + sin θ · mean of the others'`.
    Svo {
        /// θ in degrees, in [−180, 180] (0 selfish, 45 prosocial, 90 altruistic, −45
        /// competitive).
        #[serde(deserialize_with = "angle")]
        angle: f64,
    },
    /// McKee et al.'s reward-angle penalty: `own − weight · |θ_target − atan2(others', own)|`,
    /// angles in radians (configured in degrees).
    SvoPenalty {
        /// θ_target in degrees, in [−180, 180].
        #[serde(deserialize_with = "angle")]
        target: f64,
        /// The penalty's weight, ≥ 0.
        weight: NonNegative,
    },
    /// Utilitarian welfare: the mean of its own and the others' rewards.
    Utilitarian,
    /// Nash welfare: the product of its own and the others' rewards, each floored at 0.
    Nash,
    /// Max-min (Rawlsian) welfare: the least of its own and the others' rewards.
    MaxMin,
}

/// Reads an angle in degrees, refusing one outside [−180, 180].
fn angle<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let a = f64::deserialize(d)?;
    match (-180.0..=180.0).contains(&a) {
        true => Ok(a),
        false => Err(D::Error::custom(format!(
            "expected an angle in degrees in [−180, 180], found {a}"
        ))),
    }
}

impl Social {
    /// Agent `a`'s social reward, from every agent's own reward `own` and the graph.
    pub(crate) fn reward(self, a: AgentId, own: &[f64], graph: &SocialGraph, total: f64) -> f64 {
        let x = own[a.index()];
        let others = graph.neighbours(a);
        let m = others.len();
        // The others' mean, from the total on a complete graph (no walk over everyone).
        let mean = || match (m, graph.is_complete()) {
            (0, _) => 0.0,
            (_, true) => (total - x) / m as f64,
            (_, false) => others.iter().map(|b| own[b.index()]).sum::<f64>() / m as f64,
        };
        match self {
            Social::Selfish => x,
            Social::Svo { angle } => {
                let t = angle.to_radians();
                t.cos() * x + t.sin() * mean()
            }
            Social::SvoPenalty { target, weight } => {
                let angle = mean().atan2(x);
                x - weight.get() * (target.to_radians() - angle).abs()
            }
            Social::Utilitarian => (x + mean() * m as f64) / (m + 1) as f64,
            Social::Nash => {
                others
                    .iter()
                    .map(|b| own[b.index()].max(0.0))
                    .product::<f64>()
                    * x.max(0.0)
            }
            Social::MaxMin => others.iter().map(|b| own[b.index()]).fold(x, f64::min),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GraphSpec, SimRng};

    fn graph(spec: GraphSpec, n: usize) -> SocialGraph {
        spec.generate(n, &mut SimRng::new(0))
    }

    /// Every agent's social reward under `social` on `graph`.
    fn rewards(social: Social, own: &[f64], graph: &SocialGraph) -> Vec<f64> {
        let total = own.iter().sum();
        (0..own.len())
            .map(|a| social.reward(AgentId(a as u32), own, graph, total))
            .collect()
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn svo_at_zero_is_selfish_and_at_ninety_altruistic() {
        let (own, g) = ([3.0, -1.0, 4.0, 0.0], graph(GraphSpec::Complete, 4));
        assert_eq!(rewards(Social::Svo { angle: 0.0 }, &own, &g), own.to_vec());
        // Others' means: 1, 7/3, 2/3, 2.
        let others = [1.0, 7.0 / 3.0, 2.0 / 3.0, 2.0];
        assert!(close(
            &rewards(Social::Svo { angle: 90.0 }, &own, &g),
            &others
        ));
        let prosocial = rewards(Social::Svo { angle: 45.0 }, &own, &g);
        let expected: Vec<f64> = own
            .iter()
            .zip(others)
            .map(|(x, m)| (x + m) / 2f64.sqrt())
            .collect();
        assert!(close(&prosocial, &expected));
    }

    #[test]
    fn the_others_are_the_graph_neighbours() {
        // A ring of 4, each tied to its 2 nearest: agent 0's neighbours are 1 and 3.
        let g = graph(GraphSpec::RingLattice { k: 2 }, 4);
        let own = [10.0, 2.0, 100.0, 4.0];
        let r = rewards(Social::Svo { angle: 90.0 }, &own, &g);
        assert!(close(&r, &[3.0, 55.0, 3.0, 55.0]));
        assert_eq!(rewards(Social::MaxMin, &own, &g), vec![2.0, 2.0, 2.0, 4.0]);
    }

    #[test]
    fn welfare_and_the_angle_penalty_on_hand_built_steps() {
        let (own, g) = ([2.0, 4.0, -1.0], graph(GraphSpec::Complete, 3));
        assert!(close(
            &rewards(Social::Utilitarian, &own, &g),
            &[5.0 / 3.0; 3]
        ));
        // Products of every reward floored at 0: 2 · 4 · 0.
        assert_eq!(rewards(Social::Nash, &own, &g), vec![0.0; 3]);
        assert_eq!(rewards(Social::Nash, &[2.0, 4.0, 0.5], &g), vec![4.0; 3]);
        assert_eq!(rewards(Social::MaxMin, &own, &g), vec![-1.0; 3]);
        // Agent 0: own 2, others' mean 1.5: angle atan2(1.5, 2); target 45°, weight 2.
        let weight = NonNegative::new(2.0).unwrap();
        let r = rewards(
            Social::SvoPenalty {
                target: 45.0,
                weight,
            },
            &own,
            &g,
        );
        let expected = 2.0 - 2.0 * (45f64.to_radians() - 1.5f64.atan2(2.0)).abs();
        assert!((r[0] - expected).abs() < 1e-12);
        // Alone (no neighbours), the others' mean is 0.
        let alone = graph(
            GraphSpec::ErdosRenyi {
                p: crate::bounded::Probability::new(0.0).unwrap(),
            },
            2,
        );
        let r = rewards(Social::Svo { angle: 90.0 }, &[5.0, 7.0], &alone);
        assert!(close(&r, &[0.0, 0.0]), "{r:?}");
    }
}
