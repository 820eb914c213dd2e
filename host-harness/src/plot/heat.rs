//! A sweep's chart: a heat map over two axes, or a line over one. Axes are
//! named in words with their units and the key path; a small grid has its
//! values written in its cells; zero has a colour of its own, so that the
//! smallest loss never looks like none.

use super::{fonts, legend, short, text, PlotResult, FONT, PRICE, WIDTH};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// The largest grid, per axis, whose cells carry their values.
const LABELLED_CELLS: usize = 12;
/// Exactly zero: a neutral grey, apart from the scale's yellow-to-red.
const ZERO: RGBColor = RGBColor(222, 222, 222);
/// A point without a value (amplification when the shocks moved nothing).
const NO_VALUE: RGBColor = RGBColor(120, 120, 120);

/// A sweep's grid for the heat map.
pub struct Grid<'a> {
    /// Key paths: the first varies along x, the second along y.
    pub axes: [&'a str; 2],
    /// Grid values along x and along y (one value for a 1-D sweep).
    pub values: [&'a [f64]; 2],
    /// The metric shown, `cells[y][x]`.
    pub cells: &'a [Vec<f64>],
    /// What the metric is.
    pub metric: &'a str,
    /// Per row, the x index of the critical point, if the row has one.
    pub critical: &'a [Option<usize>],
}

/// A key path as an axis name: its last field in words, the unit where
/// the schema gives one, then the path itself (what `--vary` takes):
/// `move price (ratio to the price before) · shocks[0].move_price`.
pub fn axis_name(key: &str) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    let field = last.split('[').next().unwrap_or(last);
    let words = field.replace('_', " ");
    match unit(field) {
        Some(unit) => format!("{words} ({unit}) · {key}"),
        None => format!("{words} · {key}"),
    }
}

/// The unit of a scenario field (docs/scenario.md), where it has one.
fn unit(field: &str) -> Option<&'static str> {
    Some(match field {
        "move_price" => "ratio to the price before",
        "set_price" | "price" | "floor" | "insurance_fund" | "full_close_debt_value" => "quote",
        "sell" | "buy" | "base_reserve" | "depth" | "dust" => "units of the asset",
        "count" => "accounts",
        "round" | "max_rounds" | "oracle_lag_rounds" => "rounds",
        "resilience" => "share recovered per round",
        "close_factor" | "fee" | "protocol_fee" | "liquidation_bonus" | "lenders" | "tick" => {
            "share"
        }
        "init" | "liq_end" | "maint" => "weight",
        _ => return None,
    })
}

/// The heat map: one cell per grid point coloured by the metric, the
/// critical point of each row outlined in black. A one-axis sweep is drawn
/// as a line instead, the critical point as a vertical line.
pub fn heat_map(stem: &Path, grid: &Grid<'_>) -> PlotResult {
    if grid.values[1].len() <= 1 {
        png_and_svg!(stem, (WIDTH, 560), draw_sweep_line(grid))
    } else {
        png_and_svg!(stem, (WIDTH, 640), draw_heat_map(grid))
    }
}

fn draw_sweep_line<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, grid: &Grid<'_>) -> PlotResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(text)?;
    let xs = grid.values[0];
    let row = grid.cells.first().map_or(&[][..], Vec::as_slice);
    let points: Vec<(f64, f64)> = xs
        .iter()
        .zip(row)
        .filter(|(_, v)| v.is_finite())
        .map(|(&x, &v)| (x, v))
        .collect();
    let top = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.15;
    let (low_x, high_x) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    let span = (high_x - low_x).max(1e-9);
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{} over the sweep", grid.metric), (FONT, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(low_x - span * 0.03..high_x + span * 0.03, 0.0..top)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc(axis_name(grid.axes[0]))
        .y_desc(grid.metric)
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .label_style((FONT, 13))
        .draw()
        .map_err(text)?;
    chart
        .draw_series(LineSeries::new(points.clone(), PRICE.stroke_width(2)))
        .map_err(text)?;
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 3, PRICE.filled())))
        .map_err(text)?;
    if points.len() <= LABELLED_CELLS {
        // Up and to the right of each point, clear of a falling line.
        let style = (FONT, 12).into_font().color(&BLACK);
        chart
            .draw_series(points.iter().map(|&(x, v)| {
                EmptyElement::at((x, v)) + Text::new(short(v), (6, -18), style.clone())
            }))
            .map_err(text)?;
    }
    if let Some(x) = grid
        .critical
        .first()
        .copied()
        .flatten()
        .and_then(|i| xs.get(i))
    {
        chart
            .draw_series(LineSeries::new(
                [(*x, 0.0), (*x, top)],
                BLACK.stroke_width(2),
            ))
            .map_err(text)?
            .label(format!(
                "critical shock: first with bad debt ({})",
                short(*x)
            ))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], BLACK.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    }
    root.present().map_err(text)
}

fn draw_heat_map<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, grid: &Grid<'_>) -> PlotResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(text)?;
    let (main, scale_area) = root.split_horizontally(WIDTH - 150);
    let [xs, ys] = grid.values;
    let top = grid
        .cells
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // Segmented axes put each grid value's label at the centre of its cell.
    let label = |values: &[f64], v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            values.get(*i as usize).map_or(String::new(), |v| short(*v))
        }
        SegmentValue::Last => String::new(),
    };
    let cell = |i: usize| SegmentValue::Exact(i as u32);
    let centre = |i: usize| SegmentValue::CenterOf(i as u32);
    let mut chart = ChartBuilder::on(&main)
        .caption(format!("{} over the sweep", grid.metric), (FONT, 20))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(84)
        .build_cartesian_2d(
            (0..xs.len().saturating_sub(1) as u32).into_segmented(),
            (0..ys.len().saturating_sub(1) as u32).into_segmented(),
        )
        .map_err(text)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(axis_name(grid.axes[0]))
        .y_desc(axis_name(grid.axes[1]))
        .x_labels(xs.len().min(LABELLED_CELLS))
        .y_labels(ys.len().min(LABELLED_CELLS))
        .x_label_formatter(&|x| label(xs, x))
        .y_label_formatter(&|y| label(ys, y))
        .label_style((FONT, 13))
        .draw()
        .map_err(text)?;
    chart
        .draw_series(grid.cells.iter().enumerate().flat_map(|(y, row)| {
            row.iter().enumerate().map(move |(x, &v)| {
                Rectangle::new(
                    [(cell(x), cell(y)), (cell(x + 1), cell(y + 1))],
                    heat(v, top).filled(),
                )
            })
        }))
        .map_err(text)?;
    if xs.len() <= LABELLED_CELLS && ys.len() <= LABELLED_CELLS {
        let middle = Pos::new(HPos::Center, VPos::Center);
        chart
            .draw_series(grid.cells.iter().enumerate().flat_map(|(y, row)| {
                row.iter().enumerate().map(move |(x, &v)| {
                    let words = if v.is_finite() {
                        short(v)
                    } else {
                        "n/a".into()
                    };
                    let ink = ink_on(heat(v, top));
                    Text::new(
                        words,
                        (centre(x), centre(y)),
                        (FONT, 12).into_font().color(&ink).pos(middle),
                    )
                })
            }))
            .map_err(text)?;
    }
    let marks: Vec<(usize, usize)> = grid
        .critical
        .iter()
        .enumerate()
        .filter_map(|(y, x)| x.map(|x| (x, y)))
        .collect();
    chart
        .draw_series(marks.iter().map(|&(x, y)| {
            Rectangle::new(
                [(cell(x), cell(y)), (cell(x + 1), cell(y + 1))],
                BLACK.stroke_width(3),
            )
        }))
        .map_err(text)?;
    draw_color_scale(scale_area, top, grid.metric)?;
    root.present().map_err(text)
}

/// The colour legend: the scale from the smallest value above zero to
/// the largest, and swatches for exactly zero and for no value.
fn draw_color_scale<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    top: f64,
    metric: &str,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    let (bar, swatches) = area.split_vertically(640 - 110);
    let mut scale = ChartBuilder::on(&bar)
        .margin_top(60)
        .margin_bottom(10)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..1.0, 0.0..top.max(1e-9))
        .map_err(text)?;
    scale
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(format!("colour: {metric}"))
        .y_label_formatter(&|v| short(*v))
        .label_style((FONT, 12))
        .draw()
        .map_err(text)?;
    let steps = 64;
    scale
        .draw_series((0..steps).map(|i| {
            let low = top * f64::from(i) / f64::from(steps);
            let high = top * f64::from(i + 1) / f64::from(steps);
            // The bottom step shows the smallest non-zero colour, not zero's.
            let shown = (low + high) / 2.0;
            Rectangle::new([(0.0, low), (1.0, high)], heat(shown, top).filled())
        }))
        .map_err(text)?;
    let style = (FONT, 12).into_font().color(&BLACK);
    let entries = [
        (ZERO, 1, "0 (none)"),
        (NO_VALUE, 1, "no value"),
        (WHITE, 3, "critical shock"),
    ];
    for (row, (colour, border, words)) in entries.into_iter().enumerate() {
        let y = 8 + 22 * row as i32;
        let corners = [(10, y), (26, y + 16)];
        swatches
            .draw(&Rectangle::new(corners, colour.filled()))
            .map_err(text)?;
        swatches
            .draw(&Rectangle::new(corners, BLACK.stroke_width(border)))
            .map_err(text)?;
        swatches
            .draw(&Text::new(words, (32, y + 2), style.clone()))
            .map_err(text)?;
    }
    swatches
        .draw(&Text::new(
            "(first bad debt in row)",
            (32, 8 + 22 * 3 - 4),
            style,
        ))
        .map_err(text)?;
    Ok(())
}

/// Zero in neutral grey; above it, pale yellow through orange to dark red
/// at the top of the scale; no value in dark grey.
fn heat(value: f64, top: f64) -> RGBColor {
    if !value.is_finite() {
        return NO_VALUE;
    }
    if value == 0.0 {
        return ZERO;
    }
    let t = if top > 0.0 {
        (value / top).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |a: f64, b: f64, s: f64| (a + (b - a) * s).round() as u8;
    if t < 0.5 {
        let s = t * 2.0;
        RGBColor(255, mix(236.0, 150.0, s), mix(140.0, 30.0, s))
    } else {
        let s = (t - 0.5) * 2.0;
        RGBColor(mix(255.0, 120.0, s), mix(150.0, 0.0, s), mix(30.0, 20.0, s))
    }
}

/// Black on light cells, white on dark ones.
fn ink_on(background: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = background;
    let luma = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    match luma > 140.0 {
        true => BLACK,
        false => WHITE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_the_smallest_loss_differ_and_no_value_is_apart() {
        let smallest = heat(1e-9, 1e6);
        assert_ne!(heat(0.0, 1e6), smallest);
        assert_ne!(heat(f64::NAN, 1e6), heat(0.0, 1e6));
        // The smallest loss is yellow, far from zero's grey.
        let RGBColor(r, g, b) = smallest;
        assert!(r == 255 && g > 200 && b < 160, "{smallest:?}");
        assert_eq!(ink_on(heat(1e6, 1e6)), WHITE);
        assert_eq!(ink_on(ZERO), BLACK);
    }

    #[test]
    fn axes_are_named_in_words_with_units_and_their_key() {
        assert_eq!(
            axis_name("shocks[0].move_price"),
            "move price (ratio to the price before) · shocks[0].move_price"
        );
        assert_eq!(
            axis_name("assets[1].venue.base_reserve"),
            "base reserve (units of the asset) · assets[1].venue.base_reserve"
        );
        assert_eq!(
            axis_name("accounts.population.seed"),
            "seed · accounts.population.seed"
        );
    }
}
