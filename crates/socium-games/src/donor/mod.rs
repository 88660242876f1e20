//! Donor games and other cooperation dilemmas.
//!
//! - [`cultural`]: the donor game of Vallinder & Hughes (2024), with traces of past donations.
//! - [`indirect`]: indirect reciprocity by image scoring (Nowak & Sigmund 1998) and by
//!   second-order norms, the leading eight among them (Ohtsuki & Iwasa 2004).
//! - [`repeated`]: repeated two-player games and Axelrod-style round-robin tournaments.
//! - [`punishment`]: partner choice and direct and third-party punishment in the prisoner's
//!   dilemma (Dasgupta & Musolesi 2023).

pub mod cultural;
pub mod indirect;
pub mod punishment;
pub mod repeated;

use socium_core::{DimId, DimensionInfo, MetricId, MetricInfo, ParamInfo, ParamKind};

/// Reward dimension: material payoff (resources or points gained and lost).
pub const PAYOFF: DimId = DimId(0);
/// Reward dimension: change in the donor's reputation as others see it.
pub const REPUTATION: DimId = DimId(1);

/// The payoff dimension, first in every donor game's list.
pub const PAYOFF_DIMENSION: DimensionInfo = DimensionInfo {
    name: "payoff",
    summary: "material payoff: resources or points gained (+) and given or lost (−)",
    default_weight: 1.0,
};

/// The reward dimensions of the donation games: payoff and reputation change.
pub static DONATION_DIMENSIONS: [DimensionInfo; 2] = [
    PAYOFF_DIMENSION,
    DimensionInfo {
        name: "reputation",
        summary: "change in the donor's reputation (image, standing or visible share), per donation",
        default_weight: 0.0,
    },
];

/// Metric: share of cooperation (donated share, or fraction of cooperative moves).
pub const COOPERATION: MetricId = MetricId(0);

/// The cooperation-rate metric, first in every donor game's list.
pub const COOPERATION_METRIC: MetricInfo = MetricInfo {
    name: "cooperation_rate",
    summary: "mean share donated, or fraction of cooperative moves, over all decisions",
};

/// A parameter that is a share or probability in [0, 1].
pub(crate) const fn unit_param(
    name: &'static str,
    summary: &'static str,
    default: f64,
) -> ParamInfo {
    ParamInfo {
        name,
        summary,
        default,
        min: 0.0,
        max: 1.0,
        kind: ParamKind::Real,
    }
}
