//! The Monte Carlo tail: a histogram of losses on a log count axis, and the
//! exceedance curve P[loss > x] on a log probability axis, each with value
//! at risk and expected shortfall marked. On linear axes most paths sit in
//! the first bin and the tail the study is about is a few pixels high.

use super::{fonts, legend, short, text, PlotResult, FONT, ORACLE, PRICE, WIDTH};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// A vertical line drawn over a chart of losses.
pub struct Marker<'a> {
    /// The label.
    pub name: &'a str,
    /// Where, on the x axis.
    pub at: f64,
    /// Drawn dashed (expected shortfall), else solid (value at risk).
    pub dashed: bool,
}

/// The markers' colours, in order.
const MARKS: [RGBColor; 4] = [
    RGBColor(230, 120, 0),
    PRICE,
    RGBColor(90, 0, 120),
    RGBColor(0, 120, 90),
];
/// Bars start here on the log count axis, so that a single path shows.
const COUNT_FLOOR: f64 = 0.5;

/// A histogram of `samples` with vertical markers (VaR, expected
/// shortfall), its counts on a log axis.
pub fn histogram(
    stem: &Path,
    title: &str,
    x_desc: &str,
    samples: &[f64],
    markers: &[Marker<'_>],
) -> PlotResult {
    png_and_svg!(
        stem,
        (WIDTH, 560),
        draw_histogram(title, x_desc, samples, markers)
    )
}

/// The largest of `samples` and the markers, at least 1: the x axis's end.
fn right_end(samples: &[f64], markers: &[Marker<'_>]) -> f64 {
    samples
        .iter()
        .chain(markers.iter().map(|m| &m.at))
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(1.0)
}

/// Draws each marker as a vertical line from `low` to `high` with its
/// value in the legend.
fn draw_markers<'a, DB, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    markers: &[Marker<'_>],
    (low, high): (f64, f64),
) -> PlotResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    Y: Ranged<ValueType = f64>,
{
    for (m, colour) in markers.iter().zip(MARKS.iter().cycle()) {
        let style = colour.stroke_width(2);
        let line = [(m.at, low), (m.at, high)];
        let drawn = match m.dashed {
            true => chart.draw_series(DashedLineSeries::new(line, 8, 5, style)),
            false => chart.draw_series(LineSeries::new(line, style)),
        };
        drawn
            .map_err(text)?
            .label(format!("{} = {}", m.name, short(m.at)))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], style));
    }
    Ok(())
}

fn draw_histogram<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    samples: &[f64],
    markers: &[Marker<'_>],
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(text)?;
    let high = right_end(samples, markers);
    let bins = 40usize;
    let width = high / bins as f64;
    let mut counts = vec![0u32; bins];
    for &s in samples.iter().filter(|s| s.is_finite()) {
        let bin = ((s.max(0.0) / width) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    let tallest = f64::from(counts.iter().copied().max().unwrap_or(1).max(1));
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..high * 1.02, (COUNT_FLOOR..tallest * 2.0).log_scale())
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("paths (log scale)")
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| match *v >= 1.0 {
            true => format!("{v:.0}"),
            false => String::new(),
        })
        .label_style((FONT, 13))
        .draw()
        .map_err(text)?;
    chart
        .draw_series(
            counts
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(i, &c)| {
                    let x = i as f64 * width;
                    Rectangle::new(
                        [(x, COUNT_FLOOR), (x + width, f64::from(c))],
                        ORACLE.mix(0.7).filled(),
                    )
                }),
        )
        .map_err(text)?;
    draw_markers(&mut chart, markers, (COUNT_FLOOR, tallest * 2.0))?;
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(text)
}

/// The exceedance curve of `losses`: for each x, the share of paths that
/// lost more than x, on a log axis down to one path in `losses.len()`,
/// with the markers as vertical lines and the 5% and 1% levels as
/// horizontal ones (where a VaR line meets its level).
pub fn exceedance(
    stem: &Path,
    title: &str,
    x_desc: &str,
    losses: &[f64],
    markers: &[Marker<'_>],
) -> PlotResult {
    png_and_svg!(
        stem,
        (WIDTH, 560),
        draw_exceedance(title, x_desc, losses, markers)
    )
}

/// P[loss > x] as a step line: `(x, p)` corners from x = 0, ending with a
/// drop to `floor` at the largest loss. Empty if no loss is above zero.
fn exceedance_steps(losses: &[f64], floor: f64) -> Vec<(f64, f64)> {
    let mut sorted: Vec<f64> = losses.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len().max(1) as f64;
    let above = |x: f64| sorted.len() - sorted.partition_point(|&v| v <= x);
    let mut p = above(0.0) as f64 / n;
    if p == 0.0 {
        return Vec::new();
    }
    let mut steps = vec![(0.0, p)];
    let mut values: Vec<f64> = sorted.iter().copied().filter(|&v| v > 0.0).collect();
    values.dedup();
    for v in values {
        steps.push((v, p));
        p = above(v) as f64 / n;
        steps.push((v, p.max(floor)));
    }
    steps
}

/// A probability as a percentage with the digits it needs: 50%, 1%, 0.1%.
fn percent(p: f64) -> String {
    let pct = p * 100.0;
    match pct {
        x if x >= 1.0 => format!("{x:.0}%"),
        x if x >= 0.1 => format!("{x:.1}%"),
        x => format!("{x:.2}%"),
    }
}

fn draw_exceedance<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    losses: &[f64],
    markers: &[Marker<'_>],
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(text)?;
    let high = right_end(losses, markers);
    // Half a path below the rarest share the study can see.
    let floor = (0.5 / losses.len().max(1) as f64).min(0.1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..high * 1.05, (floor..1.0).log_scale())
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("P[loss > x], share of paths (log scale)")
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|p| percent(*p))
        .label_style((FONT, 13))
        .draw()
        .map_err(text)?;
    let grey = RGBColor(150, 150, 150);
    for level in [0.05, 0.01].into_iter().filter(|&l| l > floor) {
        let style = grey.stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, level), (high * 1.05, level)],
                4,
                4,
                style,
            ))
            .map_err(text)?
            .label(format!(
                "P = {} (tail of the VaR at {})",
                percent(level),
                percent(1.0 - level)
            ))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], style));
    }
    let steps = exceedance_steps(losses, floor);
    match steps.is_empty() {
        true => {
            let middle = (high * 0.25, floor.sqrt());
            chart
                .draw_series([Text::new(
                    "no path lost anything: P[loss > 0] = 0",
                    middle,
                    (FONT, 16).into_font(),
                )])
                .map_err(text)?;
        }
        false => {
            chart
                .draw_series(LineSeries::new(steps, ORACLE.stroke_width(2)))
                .map_err(text)?
                .label("P[loss > x] over the paths")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], ORACLE.stroke_width(2)));
        }
    }
    draw_markers(&mut chart, markers, (floor, 1.0))?;
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exceedance_steps_count_paths_above_each_loss() {
        let losses = [0.0, 0.0, 10.0, 10.0, 30.0];
        let steps = exceedance_steps(&losses, 0.01);
        assert_eq!(
            steps,
            vec![
                (0.0, 0.6),
                (10.0, 0.6),
                (10.0, 0.2),
                (30.0, 0.2),
                (30.0, 0.01)
            ]
        );
        assert!(exceedance_steps(&[0.0, 0.0], 0.1).is_empty());
        assert_eq!(percent(0.05), "5%");
        assert_eq!(percent(0.001), "0.1%");
        assert_eq!(percent(0.0005), "0.05%");
    }
}
