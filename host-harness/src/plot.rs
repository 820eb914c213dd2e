//! Charts with plotters, each written as PNG and SVG: a run's price and
//! oracle path with liquidation volume, a sweep's heat map with the critical
//! shock marked, and a Monte Carlo histogram of bad debt with VaR and
//! expected shortfall. Text uses the bundled DejaVu Sans (no system fonts).

use crate::observe::Observed;
use crate::scenario::Scenario;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const WIDTH: u32 = 1000;
const PANEL_HEIGHT: u32 = 420;
const FONT: &str = "sans-serif";
const PRICE: RGBColor = RGBColor(200, 40, 40);
const ORACLE: RGBColor = RGBColor(40, 90, 200);
const VOLUME: RGBColor = RGBColor(150, 150, 150);

/// A plotting failure, as text for the CLI's error.
pub type PlotResult = Result<(), String>;

fn fonts() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The font is bundled; registration cannot meet a missing file.
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSans.ttf"),
        );
    });
}

/// Calls `$draw(area, args...)` once on a PNG and once on an SVG backend,
/// writing `stem.png` and `stem.svg`.
macro_rules! png_and_svg {
    ($stem:expr, $size:expr, $draw:ident($($arg:expr),*)) => {{
        fonts();
        let png = $stem.with_extension("png");
        let svg = $stem.with_extension("svg");
        $draw(BitMapBackend::new(&png, $size).into_drawing_area(), $($arg),*)?;
        $draw(SVGBackend::new(&svg, $size).into_drawing_area(), $($arg),*)
    }};
}

/// Draws the series labels in the charts' common style.
fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> PlotResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(text)
}

fn text<E: std::fmt::Debug>(e: E) -> String {
    format!("plot: {e:?}")
}

/// Price per round: the venue price after each round (line), the oracle
/// the round used (line), and quote traded in liquidations (bars, right
/// axis). One panel per risky asset.
pub fn price_path(stem: &Path, scenario: &Scenario, observed: &Observed) -> PlotResult {
    let risky = scenario.assets.len().saturating_sub(1).max(1) as u32;
    png_and_svg!(
        stem,
        (WIDTH, PANEL_HEIGHT * risky),
        draw_prices(scenario, observed)
    )
}

fn draw_prices<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    scenario: &Scenario,
    observed: &Observed,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(text)?;
    let panels = root.split_evenly((scenario.assets.len().saturating_sub(1).max(1), 1));
    let rounds = observed.timeline.len() as f64;
    for (panel, asset) in panels.iter().zip(1..scenario.assets.len()) {
        let initial = observed.outcome.report.assets()[asset]
            .initial_price
            .to_f64();
        let mut price = vec![(0.0, initial)];
        let mut oracle = vec![(0.0, initial)];
        let mut volume = Vec::new();
        for row in &observed.timeline {
            let a = &row.assets[asset];
            let x = f64::from(row.round);
            price.push((x, a.close));
            oracle.push((x - 1.0, a.oracle));
            oracle.push((x, a.oracle));
            volume.push((x, a.volume_quote));
        }
        let (low, high) = price
            .iter()
            .chain(&oracle)
            .fold((f64::MAX, f64::MIN), |(l, h), p| (l.min(p.1), h.max(p.1)));
        let pad = ((high - low) * 0.08).max(high.abs() * 1e-4);
        let top_volume = volume.iter().map(|v| v.1).fold(0.0, f64::max).max(1.0) * 1.15;
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{}: {}", scenario.asset_name(asset), scenario.name),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .right_y_label_area_size(80)
            .build_cartesian_2d(0.0..rounds.max(1.0) + 0.5, (low - pad)..(high + pad))
            .map_err(text)?
            .set_secondary_coord(0.0..rounds.max(1.0) + 0.5, 0.0..top_volume);
        chart
            .configure_mesh()
            .x_desc("round")
            .y_desc("price (quote)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| price_label(*y))
            .label_style((FONT, 13))
            .draw()
            .map_err(text)?;
        chart
            .configure_secondary_axes()
            .y_desc("liquidation volume (quote)")
            .y_label_formatter(&|y| short(*y))
            .label_style((FONT, 13))
            .draw()
            .map_err(text)?;
        chart
            .draw_secondary_series(volume.iter().map(|&(x, v)| {
                Rectangle::new([(x - 0.4, 0.0), (x + 0.4, v)], VOLUME.mix(0.6).filled())
            }))
            .map_err(text)?
            .label("liquidation volume")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], VOLUME.filled()));
        chart
            .draw_series(LineSeries::new(oracle, ORACLE.stroke_width(2)))
            .map_err(text)?
            .label("oracle")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], ORACLE.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(price, PRICE.stroke_width(2)))
            .map_err(text)?
            .label("venue price (round end)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], PRICE.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    root.present().map_err(text)
}

/// A sweep's grid for the heat map.
pub struct Grid<'a> {
    /// Axis names: the first varies along x, the second along y.
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
    let top = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.1;
    let (low_x, high_x) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    let span = (high_x - low_x).max(1e-9);
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{} over the sweep", grid.metric), (FONT, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(low_x - span * 0.02..high_x + span * 0.02, 0.0..top)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc(grid.axes[0])
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
    let (main, scale_area) = root.split_horizontally(WIDTH - 130);
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
    let mut chart = ChartBuilder::on(&main)
        .caption(format!("{} over the sweep", grid.metric), (FONT, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (0..xs.len().saturating_sub(1) as u32).into_segmented(),
            (0..ys.len().saturating_sub(1) as u32).into_segmented(),
        )
        .map_err(text)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(grid.axes[0])
        .y_desc(grid.axes[1])
        .x_labels(xs.len().min(12))
        .y_labels(ys.len().min(12))
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
        .map_err(text)?
        .label("critical shock: the first cell of its row with bad debt")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], BLACK.stroke_width(2)));
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    draw_color_scale(scale_area, top, grid.metric)?;
    root.present().map_err(text)
}

fn draw_color_scale<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    top: f64,
    metric: &str,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    let mut scale = ChartBuilder::on(&area)
        .margin_top(60)
        .margin_bottom(58)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..1.0, 0.0..top.max(1e-9))
        .map_err(text)?;
    scale
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(metric)
        .y_label_formatter(&|v| short(*v))
        .label_style((FONT, 12))
        .draw()
        .map_err(text)?;
    let steps = 64;
    scale
        .draw_series((0..steps).map(|i| {
            let low = top * f64::from(i) / f64::from(steps);
            let high = top * f64::from(i + 1) / f64::from(steps);
            Rectangle::new([(0.0, low), (1.0, high)], heat(low, top).filled())
        }))
        .map_err(text)?;
    Ok(())
}

/// White (zero) through yellow to dark red (the top of the scale).
fn heat(value: f64, top: f64) -> RGBColor {
    if !value.is_finite() {
        return RGBColor(120, 120, 120);
    }
    let t = if top > 0.0 {
        (value / top).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |a: f64, b: f64, s: f64| (a + (b - a) * s).round() as u8;
    if t < 0.5 {
        let s = t * 2.0;
        RGBColor(255, mix(255.0, 200.0, s), mix(255.0, 40.0, s))
    } else {
        let s = (t - 0.5) * 2.0;
        RGBColor(mix(255.0, 130.0, s), mix(200.0, 0.0, s), mix(40.0, 20.0, s))
    }
}

/// A price axis label: whole units from 1,000 up (a price path spans a few
/// percent, which `short` would round away).
fn price_label(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else {
        short(v)
    }
}

/// A number in at most a few characters: 12.5k, 3.2M, 0.85.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1000.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// One named line of a comparison.
pub struct Series<'a> {
    /// The legend.
    pub name: &'a str,
    /// `(round, price)` points.
    pub points: Vec<(f64, f64)>,
}

/// Several price paths on one chart (one per preset in `firesale compare`).
pub fn paths(stem: &Path, title: &str, series: &[Series<'_>]) -> PlotResult {
    png_and_svg!(stem, (WIDTH, 560), draw_paths(title, series))
}

fn draw_paths<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    series: &[Series<'_>],
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(text)?;
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut right, mut low, mut high) = (1.0f64, f64::MAX, f64::MIN);
    for &(x, y) in all {
        right = right.max(x);
        low = low.min(y);
        high = high.max(y);
    }
    if low > high {
        (low, high) = (0.0, 1.0);
    }
    let pad = ((high - low) * 0.08).max(high.abs() * 1e-4);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..right + 0.5, (low - pad)..(high + pad))
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc("round")
        .y_desc("venue price at round end (quote)")
        .y_label_formatter(&|y| price_label(*y))
        .label_style((FONT, 13))
        .draw()
        .map_err(text)?;
    for (i, s) in series.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(s.points.clone(), colour.stroke_width(2)))
            .map_err(text)?
            .label(s.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], colour.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(text)
}

/// Lines drawn over a histogram.
pub struct Marker<'a> {
    /// The label.
    pub name: &'a str,
    /// Where, on the x axis.
    pub at: f64,
}

/// A histogram of `samples` with vertical markers (VaR, expected
/// shortfall).
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
    let high = samples
        .iter()
        .chain(markers.iter().map(|m| &m.at))
        .copied()
        .fold(0.0, f64::max)
        .max(1.0);
    let bins = 40usize;
    let width = high / bins as f64;
    let mut counts = vec![0u32; bins];
    for &s in samples {
        let bin = ((s / width) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    let tallest = counts.iter().copied().max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..high * 1.02, 0..tallest + tallest / 10 + 1)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("paths")
        .x_label_formatter(&|v| short(*v))
        .label_style((FONT, 13))
        .draw()
        .map_err(text)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x = i as f64 * width;
            Rectangle::new([(x, 0), (x + width, c)], ORACLE.mix(0.7).filled())
        }))
        .map_err(text)?;
    let colours = [RGBColor(230, 120, 0), PRICE, RGBColor(90, 0, 120)];
    for (m, colour) in markers.iter().zip(colours.iter().cycle()) {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(
                [(m.at, 0), (m.at, tallest)],
                colour.stroke_width(2),
            ))
            .map_err(text)?
            .label(format!("{} = {}", m.name, short(m.at)))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], colour.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(text)
}
