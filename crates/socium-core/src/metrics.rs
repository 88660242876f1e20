//! Episode metrics a game reports (cooperation rate, share of Good reputations...): each a mean
//! over the values recorded during the episode.

use crate::Window;
use bevy_ecs::component::Component;

/// Index of a metric in its game's [`MetricInfo`] list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricId(pub u16);

/// A metric a game declares.
#[derive(Debug, PartialEq)]
pub struct MetricInfo {
    /// Name in tables and outputs.
    pub name: &'static str,
    /// One line for `socium list`.
    pub summary: &'static str,
}

/// Sums and counts of the episode's metric values: the sums, then the counts, in a window of a
/// block-wide array (every step adds to them in every env; [`crate::Window`]'s doc says why).
#[derive(Component, Debug)]
pub struct Metrics {
    values: Window<f64>,
}

impl Metrics {
    /// Sums and counts of `values.len() / 2` metrics, in `values` (zeroed).
    pub(crate) fn new(values: Window<f64>) -> Self {
        debug_assert!(values.len().is_multiple_of(2));
        Metrics { values }
    }

    /// Values of the sums and counts of `metrics` metrics.
    pub(crate) fn len_for(metrics: usize) -> usize {
        2 * metrics
    }

    pub(crate) fn clear(&mut self) {
        self.values.fill(0.0);
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, m: MetricId, value: f64) {
        self.record_many(m, value, 1.0);
    }

    /// Records `count` values adding up to `sum`.
    #[inline]
    pub fn record_many(&mut self, m: MetricId, sum: f64, count: f64) {
        let (m, half) = (m.0 as usize, self.values.len() / 2);
        self.values[m] += sum;
        self.values[half + m] += count;
    }

    /// The episode's mean of metric `m`, or `None` before any value.
    pub fn mean(&self, m: MetricId) -> Option<f64> {
        let (m, half) = (m.0 as usize, self.values.len() / 2);
        let c = self.values[half + m];
        (c > 0.0).then(|| self.values[m] / c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_of_recorded_values() {
        let mut m = Metrics::new(Window::split(0.0, Metrics::len_for(2), 1).remove(0));
        assert_eq!(m.mean(MetricId(0)), None);
        m.record(MetricId(0), 1.0);
        m.record_many(MetricId(0), 1.0, 3.0);
        assert_eq!(m.mean(MetricId(0)), Some(0.5));
        m.clear();
        assert_eq!(m.mean(MetricId(0)), None);
    }
}
