//! Charts as SVG and PNG, drawn with plotters.
//!
//! Text is rendered with a font bundled in the repo (DejaVu Sans,
//! `crates/lab/assets/`), registered with plotters' `ab_glyph` backend at
//! first use, so charts come out the same on a machine with no fonts and no
//! fontconfig installed.

use std::{path::Path, sync::Once};

use plotters::{
    coord::Shift,
    prelude::*,
    style::{register_font, FontStyle},
};

use crate::{
    results::{Chart, ChartKind},
    LabError,
};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const SIZE: (u32, u32) = (960, 540);
// Ten, so that a chart with a line per process (the soak's memory chart
// has eight) never gives two series one colour.
const COLORS: [RGBColor; 10] = [
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

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are compiled in and known to be a valid font.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn fail(error: impl std::fmt::Display) -> LabError {
    LabError::Io(format!("chart: {error}"))
}

/// Renders `chart` to an SVG string.
pub fn svg(chart: &Chart) -> Result<String, LabError> {
    register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(fail)?;
    }
    Ok(out)
}

/// Writes `<stem>.svg` and `<stem>.png` into `dir`.
pub fn write(chart: &Chart, dir: &Path, stem: &str) -> Result<(), LabError> {
    let svg_text = svg(chart)?;
    std::fs::write(dir.join(format!("{stem}.svg")), svg_text).map_err(fail)?;
    let png = dir.join(format!("{stem}.png"));
    let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
    draw(&root, chart)?;
    root.present().map_err(fail)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), LabError> {
    root.fill(&WHITE).map_err(fail)?;
    match chart.kind {
        ChartKind::Bars => bars(root, chart),
        ChartKind::Lines => lines(root, chart),
    }
}

fn y_range(chart: &Chart) -> (f64, f64) {
    let top = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .map(|p| p.high.unwrap_or(p.y).max(p.y))
        .fold(0.0_f64, f64::max);
    (0.0, if top > 0.0 { top * 1.15 } else { 1.0 })
}

fn bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), LabError> {
    let categories: Vec<String> = {
        let mut seen = Vec::new();
        for point in chart.series.iter().flat_map(|s| s.points.iter()) {
            if !seen.contains(&point.x) {
                seen.push(point.x.clone());
            }
        }
        seen
    };
    let n = categories.len().max(1) as f64;
    let (low, high) = y_range(chart);
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..n, low..high)
        .map_err(fail)?;
    let labels = categories.clone();
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_labels(categories.len().max(1) * 2 + 1)
        .x_label_formatter(&|x| {
            let i = (*x - 0.5).round();
            if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(fail)?;
    let groups = chart.series.len().max(1) as f64;
    let width = 0.8 / groups;
    for (j, series) in chart.series.iter().enumerate() {
        let color = COLORS[j % COLORS.len()];
        let mut bars = Vec::new();
        let mut whiskers = Vec::new();
        for point in &series.points {
            let Some(i) = categories.iter().position(|c| c == &point.x) else {
                continue;
            };
            let left = i as f64 + 0.1 + j as f64 * width;
            bars.push(Rectangle::new(
                [(left, 0.0), (left + width * 0.9, point.y)],
                color.filled(),
            ));
            if let (Some(lo), Some(hi)) = (point.low, point.high) {
                let mid = left + width * 0.45;
                whiskers.push(PathElement::new(
                    vec![(mid, lo), (mid, hi)],
                    BLACK.stroke_width(2),
                ));
            }
        }
        ctx.draw_series(bars)
            .map_err(fail)?
            .label(&series.name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        ctx.draw_series(whiskers).map_err(fail)?;
    }
    legend(&mut ctx)
}

fn lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), LabError> {
    let xs: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter_map(|p| p.x.parse::<f64>().ok())
        .collect();
    let (x_min, x_max) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    let (x_min, x_max) = if xs.is_empty() {
        (0.0, 1.0)
    } else {
        (x_min, x_max.max(x_min + 1e-9))
    };
    let (low, high) = y_range(chart);
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x_min..x_max, low..high)
        .map_err(fail)?;
    ctx.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(fail)?;
    for (j, series) in chart.series.iter().enumerate() {
        let color = COLORS[j % COLORS.len()];
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .filter_map(|p| p.x.parse::<f64>().ok().map(|x| (x, p.y)))
            .collect();
        ctx.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(fail)?
            .label(&series.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        ctx.draw_series(
            points
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
        )
        .map_err(fail)?;
        let whiskers: Vec<_> = series
            .points
            .iter()
            .filter_map(|p| Some((p.x.parse::<f64>().ok()?, p.low?, p.high?)))
            .map(|(x, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], color.stroke_width(1)))
            .collect();
        ctx.draw_series(whiskers).map_err(fail)?;
    }
    legend(&mut ctx)
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    ctx: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> Result<(), LabError> {
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Point, Series};

    fn chart(kind: ChartKind) -> Chart {
        let point = |x: &str, y: f64| Point {
            x: x.into(),
            y,
            low: Some(y * 0.9),
            high: Some(y * 1.1),
        };
        Chart {
            title: "Throughput".into(),
            kind,
            x_label: "nodes".into(),
            y_label: "req/s".into(),
            series: vec![
                Series {
                    name: "session-stack".into(),
                    points: vec![point("1", 10.0), point("2", 18.0)],
                },
                Series {
                    name: "jwt-stack".into(),
                    points: vec![point("1", 12.0), point("2", 23.0)],
                },
            ],
        }
    }

    #[test]
    fn writes_a_valid_png_and_an_svg_naming_every_series() {
        for kind in [ChartKind::Bars, ChartKind::Lines] {
            let dir = tempfile::tempdir().unwrap();
            write(&chart(kind), dir.path(), "chart").unwrap();
            if let Ok(keep) = std::env::var("AUTHLAB_KEEP_CHARTS") {
                let _ = std::fs::copy(dir.path().join("chart.png"), format!("{keep}/{kind:?}.png"));
            }
            let png = std::fs::read(dir.path().join("chart.png")).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{kind:?}");
            assert!(png.len() > 5_000, "a real picture, not an empty canvas");
            let svg = std::fs::read_to_string(dir.path().join("chart.svg")).unwrap();
            assert!(svg.starts_with("<svg"), "{kind:?}");
            for expected in ["session-stack", "jwt-stack", "Throughput", "req/s"] {
                assert!(svg.contains(expected), "{kind:?}: {expected} missing");
            }
        }
    }
}
