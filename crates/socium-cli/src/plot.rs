//! PNG line plots with 95% bands (plotters, text in the bundled DejaVu Sans, so no system font
//! is needed and the bytes are the same on every machine).

use anyhow::{Context, Result};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::{ops::Range, path::Path, sync::Once};

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Tableau's ten colours: distinct on white, and in order of contrast.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One curve: a mean per x and the 95% band around it, and the runs it summarises.
pub struct Band {
    /// Legend text.
    pub label: String,
    /// Mean per x.
    pub mean: Vec<f64>,
    /// Band per x, `(low, high)`.
    pub band: Vec<(f64, f64)>,
    /// Each run's value per x (`runs[r][x]`), for the panels of single runs.
    pub runs: Vec<Vec<f64>>,
}

impl Band {
    /// The mean over runs at each x and its 95% confidence band, `mean ± 1.96 · s / √runs` (the
    /// normal approximation; no band with one run), clipped to `clip`. `runs[r][x]` is run `r`'s
    /// value at `x`.
    pub fn over_runs(label: String, runs: &[Vec<f64>], clip: Range<f64>) -> Band {
        let xs = runs.first().map_or(0, Vec::len);
        let n = runs.len() as f64;
        let (mut mean, mut band) = (Vec::with_capacity(xs), Vec::with_capacity(xs));
        for x in 0..xs {
            let m = runs.iter().map(|r| r[x]).sum::<f64>() / n;
            let half = if runs.len() > 1 {
                let var = runs.iter().map(|r| (r[x] - m).powi(2)).sum::<f64>() / (n - 1.0);
                1.96 * (var / n).sqrt()
            } else {
                0.0
            };
            mean.push(m);
            band.push((
                (m - half).clamp(clip.start, clip.end),
                (m + half).clamp(clip.start, clip.end),
            ));
        }
        Band {
            label,
            mean,
            band,
            runs: runs.to_vec(),
        }
    }
}

/// At most this many single-run panels under the mean.
const MAX_PANELS: usize = 24;
/// Panels per row.
const PANEL_COLUMNS: usize = 4;

/// How many x values to show: all of them, or — when every run of every curve stops changing in
/// the first 40% — up to a quarter past the last change, so that runs that settle early are not
/// squeezed against the axis. Returns `(shown, last change)`.
fn shown_xs(bands: &[Band], xs: usize) -> (usize, Option<usize>) {
    let last_change = (bands.iter().flat_map(|b| &b.runs))
        .filter_map(|run| run.windows(2).rposition(|w| w[0] != w[1]).map(|i| i + 1))
        .max()
        .unwrap_or(0);
    if xs >= 20 && (last_change as f64) < 0.4 * xs as f64 {
        let shown = (last_change + last_change / 4).max(10).min(xs);
        (shown, Some(last_change))
    } else {
        (xs, None)
    }
}

/// Whether the mean over runs hides what happened: the runs end with different curves on top,
/// or the band is wide somewhere (runs that went separate ways average to a flat middle).
fn mean_hides_runs(bands: &[Band]) -> bool {
    let runs = bands.first().map_or(0, |b| b.runs.len());
    if runs < 2 {
        return false;
    }
    let top = |r: usize| {
        (0..bands.len()).max_by(|&a, &b| {
            let last = |t: usize| bands[t].runs[r].last().copied().unwrap_or(0.0);
            last(a).total_cmp(&last(b))
        })
    };
    let disagree = (1..runs).any(|r| top(r) != top(0));
    let wide = (bands.iter().flat_map(|b| &b.band)).any(|(l, h)| h - l > 0.3);
    disagree || wide
}

/// Draws `bands` over x = 0, 1, ... into the PNG `path` (through a temporary file renamed at the
/// end, so that no half-written plot is left): translucent bands under the mean lines, a light
/// grid, the x axis trimmed when every run settles early, and one small panel per run under the
/// mean when the mean hides what the runs did.
pub fn draw(path: &Path, title: &str, x_label: &str, y_label: &str, bands: &[Band]) -> Result<()> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            unreachable!("the bundled font is a valid TrueType font");
        }
    });
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = socium_scenario::temp_file_in(dir, ".png")
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let xs = bands.iter().map(|b| b.mean.len()).max().unwrap_or(1).max(2);
    let (shown, settled) = shown_xs(bands, xs);
    let panels = if mean_hides_runs(bands) {
        bands[0].runs.len().min(MAX_PANELS)
    } else {
        0
    };
    let panel_rows = panels.div_ceil(PANEL_COLUMNS);
    let (width, main_height, panel_height) = (900u32, 560u32, 190u32);
    {
        let root = BitMapBackend::new(
            temp.path(),
            (width, main_height + panel_height * panel_rows as u32),
        )
        .into_drawing_area();
        root.fill(&WHITE)?;
        let (main, below) = root.split_vertically(main_height);
        // From 0 (or below) to 1 (or above): rates fill the frame, other values get a margin.
        let values = || bands.iter().flat_map(|b| b.band.iter());
        let low = values().map(|(l, _)| *l).fold(0.0_f64, f64::min);
        let high = values().map(|(_, h)| *h).fold(1.0_f64, f64::max);
        let margin = if (low, high) == (0.0, 1.0) {
            0.0
        } else {
            0.05 * (high - low)
        };
        let (y_min, y_max) = (low - margin * f64::from(low < 0.0), high + margin);
        let x_max = (shown - 1).max(1) as f64;
        let x_desc = match settled {
            Some(s) => format!(
                "{x_label} (0 to {}; every run stays put from {x_label} {s} on, of {})",
                shown - 1,
                xs - 1
            ),
            None => x_label.to_owned(),
        };
        let mut chart = ChartBuilder::on(&main)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, y_min..y_max)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc(y_label)
            .bold_line_style(RGBColor(228, 228, 228))
            .light_line_style(TRANSPARENT)
            .label_style(("sans-serif", 14))
            .draw()?;
        let color = |i: usize| PALETTE[i % PALETTE.len()].to_rgba();
        let points = |v: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .take(shown)
                .enumerate()
                .map(|(x, y)| (x as f64, *y))
                .collect()
        };
        // Every band first, each translucent with a thin edge, then every line on top: no
        // curve hides under another's band.
        for (i, b) in bands.iter().enumerate() {
            let band = &b.band[..b.band.len().min(shown)];
            let upper: Vec<(f64, f64)> = band
                .iter()
                .enumerate()
                .map(|(x, (_, h))| (x as f64, *h))
                .collect();
            let lower: Vec<(f64, f64)> = band
                .iter()
                .enumerate()
                .map(|(x, (l, _))| (x as f64, *l))
                .collect();
            let outline: Vec<(f64, f64)> = upper
                .iter()
                .copied()
                .chain(lower.iter().rev().copied())
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                color(i).mix(0.12).filled(),
            )))?;
            for edge in [upper, lower] {
                chart.draw_series(LineSeries::new(edge, color(i).mix(0.35).stroke_width(1)))?;
            }
        }
        for (i, b) in bands.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(points(&b.mean), c.stroke_width(2)))?
                .label(b.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        for (r, area) in below
            .split_evenly((panel_rows.max(1), PANEL_COLUMNS))
            .iter()
            .take(panels)
            .enumerate()
        {
            let mut panel = ChartBuilder::on(area)
                .caption(format!("run {r}"), ("sans-serif", 13))
                .margin(6)
                .x_label_area_size(18)
                .y_label_area_size(34)
                .build_cartesian_2d(0.0..x_max, y_min..y_max)?;
            panel
                .configure_mesh()
                .x_labels(3)
                .y_labels(3)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .bold_line_style(RGBColor(236, 236, 236))
                .light_line_style(TRANSPARENT)
                .label_style(("sans-serif", 10))
                .draw()?;
            for (i, b) in bands.iter().enumerate() {
                panel.draw_series(LineSeries::new(
                    points(&b.runs[r]),
                    color(i).stroke_width(2),
                ))?;
            }
        }
        root.present()
            .with_context(|| format!("rendering {}", path.display()))?;
    }
    socium_scenario::commit(vec![(temp, path.to_owned())], &[])
        .map_err(|(_, e)| e)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_is_the_normal_95_percent_interval_of_the_mean() {
        let runs = vec![
            vec![0.4, 1.0, 0.0],
            vec![0.6, 1.0, 1.0],
            vec![0.5, 1.0, 0.5],
        ];
        let b = Band::over_runs("x".into(), &runs, 0.0..1.0);
        assert!((b.mean[0] - 0.5).abs() < 1e-12 && b.mean[1] == 1.0);
        // s = 0.1 over three runs: half-width 1.96 · 0.1 / √3.
        let half = 1.96 * 0.1 / 3f64.sqrt();
        assert!((b.band[0].0 - (0.5 - half)).abs() < 1e-12, "{:?}", b.band);
        assert!((b.band[0].1 - (0.5 + half)).abs() < 1e-12, "{:?}", b.band);
        assert_eq!(b.band[1], (1.0, 1.0), "no spread");
        // s = 0.5: 0.5 ± 0.566 is clipped to [0, 1].
        assert_eq!(b.band[2], (0.0, 1.0));
        let one = Band::over_runs("y".into(), &runs[..1], 0.0..1.0);
        assert_eq!(one.band, vec![(0.4, 0.4), (1.0, 1.0), (0.0, 0.0)]);
    }

    #[test]
    fn draws_a_png_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        let runs = vec![vec![0.1, 0.5, 0.9], vec![0.3, 0.5, 0.7]];
        let bands = [Band::over_runs("type".into(), &runs, 0.0..1.0)];
        draw(&path, "title", "generation", "frequency", &bands).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // The same inputs give the same bytes.
        draw(&path, "title", "generation", "frequency", &bands).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn runs_that_settle_early_trim_the_axis_and_split_runs_get_panels() {
        // Two runs fixed by generation 10 of 100, one at each end: the mean (0.5) says neither.
        let run =
            |to: f64| -> Vec<f64> { (0..100).map(|x| if x >= 10 { to } else { 0.5 }).collect() };
        let a = Band::over_runs("a".into(), &[run(1.0), run(0.0)], 0.0..1.0);
        let b = Band::over_runs("b".into(), &[run(0.0), run(1.0)], 0.0..1.0);
        assert_eq!(shown_xs(std::slice::from_ref(&a), 100), (12, Some(10)));
        assert!(mean_hides_runs(&[a, b]));
        let still = Band::over_runs("c".into(), &[vec![0.5; 100], vec![0.5; 100]], 0.0..1.0);
        assert_eq!(shown_xs(std::slice::from_ref(&still), 100), (10, Some(0)));
        assert!(!mean_hides_runs(std::slice::from_ref(&still)));
        let moving: Vec<f64> = (0..100).map(|x| f64::from(x) / 100.0).collect();
        let moving = Band::over_runs("d".into(), &[moving.clone(), moving], 0.0..1.0);
        assert_eq!(shown_xs(std::slice::from_ref(&moving), 100), (100, None));
    }
}
