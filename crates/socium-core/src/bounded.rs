//! Range-checked numbers for configuration structs.
//!
//! A config field typed `Probability` (say) refuses `1.5` while it is being deserialised, so the
//! TOML reader reports the file, line and column of the bad value with our message: range checks
//! live in the types, not in a validation pass that has lost track of where a value came from.

use serde::{Deserialize, Deserializer, de::Error};
use std::ops::Deref;

macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident($ty:ty), $ok:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, PartialOrd, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name($ty);

        impl $name {
            /// What values are legal, in words.
            pub const EXPECTED: &'static str = $expected;

            /// The value, if it is in range.
            pub fn new(value: $ty) -> Option<Self> {
                let ok: fn($ty) -> bool = $ok;
                ok(value).then_some(Self(value))
            }

            /// The value.
            #[inline]
            pub fn get(self) -> $ty {
                self.0
            }
        }

        impl Deref for $name {
            type Target = $ty;
            fn deref(&self) -> &$ty {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = <$ty>::deserialize(d)?;
                Self::new(value).ok_or_else(|| {
                    D::Error::custom(format!("expected {}, found {}", $expected, value))
                })
            }
        }
    };
}

bounded!(
    /// A probability: a number in [0, 1].
    Probability(f64), |v| (0.0..=1.0).contains(&v), "a probability in [0, 1]"
);
bounded!(
    /// A finite number ≥ 0.
    NonNegative(f64), |v| v.is_finite() && v >= 0.0, "a finite number ≥ 0"
);
bounded!(
    /// A finite number > 0.
    Positive(f64), |v| v.is_finite() && v > 0.0, "a finite number > 0"
);
bounded!(
    /// A finite number (no NaN or infinity).
    Finite(f64), |v| v.is_finite(), "a finite number"
);
bounded!(
    /// A number in (0, 1]: a share that cannot be nothing (a confidence bound).
    UnitPositive(f64), |v| v > 0.0 && v <= 1.0, "a number in (0, 1]"
);
bounded!(
    /// A number in (0, 0.5]: a convergence rate that moves two parties at most to their middle.
    HalfRate(f64), |v| v > 0.0 && v <= 0.5, "a number in (0, 0.5]"
);
bounded!(
    /// A whole number ≥ 1.
    Count(u32), |v| v >= 1, "a whole number ≥ 1"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Cfg {
        #[allow(dead_code)]
        p: Probability,
    }

    #[test]
    fn refuses_out_of_range_with_position() {
        let err = toml::from_str::<Cfg>("p = 1.5").unwrap_err();
        assert_eq!(err.message(), "expected a probability in [0, 1], found 1.5");
        assert_eq!(err.span(), Some(4..7));
        assert_eq!(toml::from_str::<Cfg>("p = 1").unwrap().p.get(), 1.0);
        assert!(Count::new(0).is_none());
    }
}
