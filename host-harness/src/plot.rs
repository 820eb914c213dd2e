//! Charts with plotters, each written as PNG and SVG: a run's price and
//! oracle path with liquidation volume, a comparison's price paths, a
//! sweep's heat map ([`heat`]) and the Monte Carlo tail ([`tail`]). Text
//! uses the bundled DejaVu Sans (no system fonts).

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

mod heat;
mod tail;

pub use heat::{axis_name, heat_map, Grid};
pub use tail::{exceedance, histogram, Marker};

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
        let initial = observed
            .report
            .assets
            .get(asset)
            .map_or(f64::NAN, |a| a.initial_price);
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
