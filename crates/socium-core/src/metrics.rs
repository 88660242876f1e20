//! Episode metrics a game reports (cooperation rate, share of Good reputations...): each a mean
//! over the values recorded during the episode.

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

/// Sums and counts of the episode's metric values.
#[derive(Component, Debug)]
pub struct Metrics {
    sums: Vec<f64>,
    counts: Vec<f64>,
}

impl Metrics {
    pub(crate) fn new(metrics: usize) -> Self {
        Metrics {
            sums: vec![0.0; metrics],
            counts: vec![0.0; metrics],
        }
    }

    pub(crate) fn clear(&mut self) {
        self.sums.fill(0.0);
        self.counts.fill(0.0);
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, m: MetricId, value: f64) {
        self.record_many(m, value, 1.0);
    }

    /// Records `count` values adding up to `sum`.
    #[inline]
    pub fn record_many(&mut self, m: MetricId, sum: f64, count: f64) {
        self.sums[m.0 as usize] += sum;
        self.counts[m.0 as usize] += count;
    }

    /// The episode's mean of metric `m`, or `None` before any value.
    pub fn mean(&self, m: MetricId) -> Option<f64> {
        let c = self.counts[m.0 as usize];
        (c > 0.0).then(|| self.sums[m.0 as usize] / c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_of_recorded_values() {
        let mut m = Metrics::new(2);
        assert_eq!(m.mean(MetricId(0)), None);
        m.record(MetricId(0), 1.0);
        m.record_many(MetricId(0), 1.0, 3.0);
        assert_eq!(m.mean(MetricId(0)), Some(0.5));
        m.clear();
        assert_eq!(m.mean(MetricId(0)), None);
    }
}
