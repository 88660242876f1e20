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

/// One curve: a mean per x and the 95% band around it.
pub struct Band {
    /// Legend text.
    pub label: String,
    /// Mean per x.
    pub mean: Vec<f64>,
    /// Band per x, `(low, high)`.
    pub band: Vec<(f64, f64)>,
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
        Band { label, mean, band }
    }
}

/// Draws `bands` over x = 0, 1, ... into the PNG `path` (through a temporary file renamed at the
/// end, so that no half-written plot is left).
pub fn draw(path: &Path, title: &str, x_label: &str, y_label: &str, bands: &[Band]) -> Result<()> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            unreachable!("the bundled font is a valid TrueType font");
        }
    });
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = tempfile::Builder::new()
        .suffix(".png")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    {
        let root = BitMapBackend::new(temp.path(), (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let xs = bands.iter().map(|b| b.mean.len()).max().unwrap_or(1).max(2);
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
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..(xs - 1) as f64, y_min..y_max)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc(y_label)
            .label_style(("sans-serif", 14))
            .draw()?;
        for (i, b) in bands.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()].to_rgba();
            let upper = b.band.iter().enumerate().map(|(x, (_, h))| (x as f64, *h));
            let lower = b
                .band
                .iter()
                .enumerate()
                .rev()
                .map(|(x, (l, _))| (x as f64, *l));
            let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                color.mix(0.2).filled(),
            )))?;
            chart
                .draw_series(LineSeries::new(
                    b.mean.iter().enumerate().map(|(x, m)| (x as f64, *m)),
                    color.stroke_width(2),
                ))?
                .label(b.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        root.present()
            .with_context(|| format!("rendering {}", path.display()))?;
    }
    temp.persist(path)
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
}
