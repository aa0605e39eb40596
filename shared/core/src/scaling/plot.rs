//! The simulator's two plots, as self-contained SVG: the timeline (demand against each controller's capacity) and
//! the cost-against-delay frontier of a sweep.
//!
//! The timeline stays readable over weeks: the minutes are grouped into at most [`MAX_COLUMNS`] columns, each
//! showing its peak demand, the least serving capacity and the most billed capacity of every controller (so that a
//! shortfall or a paid-for surplus inside a column is never averaged away), the first controller's load at its
//! target as a dashed line, and under the axis a mark for every column in which a controller delayed requests.
//! The legends sit below the plot area, a line each, so no label is cut or drawn over the data.

use chrono::Duration;

use super::simulate::{Frontier, MinuteRecord, SimulationRun, Trace};

/// The most columns the timeline draws: about one a pixel of its plot area.
pub const MAX_COLUMNS: usize = 900;

const W: f64 = 1000.0;
const PAD_L: f64 = 70.0;
const PAD_R: f64 = 30.0;
const PAD_T: f64 = 40.0;
const PLOT_H: f64 = 320.0;
/// Room under the plot area: the delay marks, the tick labels, the axis title.
const UNDER: f64 = 70.0;
const LEGEND_LINE: f64 = 18.0;
const COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

/// One column of the timeline: minutes `start..end`.
struct Column {
    start: usize,
    end: usize,
}

fn columns(minutes: usize) -> Vec<Column> {
    let width = minutes.div_ceil(MAX_COLUMNS).max(1);
    (0..minutes.div_ceil(width))
        .map(|c| Column {
            start: c * width,
            end: ((c + 1) * width).min(minutes),
        })
        .collect()
}

/// The SVG's opening, its title, and the plot area's frame; returns the text and the plot area's bottom.
fn frame(title: &str, legend_lines: usize) -> (String, f64) {
    let h = PAD_T + PLOT_H + UNDER + LEGEND_LINE * legend_lines as f64 + 10.0;
    let bottom = PAD_T + PLOT_H;
    let s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{PAD_L}\" y=\"24\" font-size=\"15\">{}</text>\n\
         <line x1=\"{PAD_L}\" y1=\"{bottom}\" x2=\"{r}\" y2=\"{bottom}\" stroke=\"black\"/>\n\
         <line x1=\"{PAD_L}\" y1=\"{PAD_T}\" x2=\"{PAD_L}\" y2=\"{bottom}\" stroke=\"black\"/>\n",
        xml_escape(title),
        r = W - PAD_R
    );
    (s, bottom)
}

/// The legend, a line an entry below the plot: a swatch (`dash` for a dashed line) and the label.
fn legend(entries: &[(String, &str, bool)], bottom: f64) -> String {
    let mut s = String::new();
    for (k, (label, colour, dash)) in entries.iter().enumerate() {
        let y = bottom + UNDER + LEGEND_LINE * k as f64;
        let dash = if *dash { " stroke-dasharray=\"5 3\"" } else { "" };
        s += &format!(
            "<line x1=\"{PAD_L}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-width=\"3\"{dash}/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"legend\">{}</text>\n",
            PAD_L + 24.0,
            PAD_L + 30.0,
            y + 4.0,
            xml_escape(label)
        );
    }
    s
}

/// Five ticks on the vertical axis, from 0 to `max`, labelled by `label`.
fn y_ticks(max: f64, y: impl Fn(f64) -> f64, label: impl Fn(f64) -> String) -> String {
    let mut s = String::new();
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        s += &format!(
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{PAD_L}\" y2=\"{:.1}\" stroke=\"black\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            PAD_L - 4.0,
            y(v),
            y(v),
            PAD_L - 6.0,
            y(v) + 4.0,
            label(v)
        );
    }
    s
}

/// The timeline: demand (peak of each column; gaps where the trace has no rows) and each run's serving capacity
/// (least in the column), billed capacity (most in the column, dotted), the first run's load at
/// `target_per_instance` (dashed; none for an asynchronous policy, whose target is a backlog, not a load), and the
/// columns in which each run delayed requests.
pub fn timeline_svg(trace: &Trace, runs: &[&SimulationRun], target_per_instance: Option<f64>, title: &str) -> String {
    let minutes = trace.per_minute.len();
    let cols = columns(minutes);
    let per_run: Vec<Vec<RunColumn>> = runs
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| RunColumn::of(&r.timeline[c.start..c.end.min(r.timeline.len())]))
                .collect()
        })
        .collect();
    let demand: Vec<Option<f64>> = cols
        .iter()
        .map(|c| {
            trace.per_minute[c.start..c.end]
                .iter()
                .flatten()
                .copied()
                .reduce(f64::max)
        })
        .collect();
    let ymax = per_run
        .iter()
        .flatten()
        .map(|c| c.billed_capacity)
        .chain(demand.iter().flatten().copied())
        .fold(1.0, f64::max)
        * 1.05;
    let mut entries: Vec<(String, &str, bool)> = vec![("demand (peak of each column)".to_owned(), "#999999", false)];
    for (k, run) in runs.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let s = &run.summary;
        entries.push((
            format!(
                "{}: serving capacity (dotted: billed); {:.2}% of requests delayed, p99 wait {:.1} s",
                s.controller.name(),
                100.0 * s.delayed_share,
                s.p99_wait_s
            ),
            colour,
            false,
        ));
    }
    if let (Some(first), Some(target_per_instance)) = (runs.first(), target_per_instance) {
        entries.push((
            format!(
                "{}: load at its target ({target_per_instance} requests a minute an instance serving)",
                first.summary.controller.name()
            ),
            COLOURS[0],
            true,
        ));
    }
    let (mut s, bottom) = frame(title, entries.len());
    let n = cols.len().max(2);
    let x = |i: usize| PAD_L + (W - PAD_L - PAD_R) * i as f64 / (n - 1) as f64;
    let y = |v: f64| PAD_T + PLOT_H * (1.0 - v / ymax);
    s += &y_ticks(ymax, y, |v| format!("{v:.0}"));
    for k in 0..=4 {
        let i = (n - 1) * k / 4;
        let minute = cols.get(i).map_or(0, |c| c.start);
        let label = (trace.start + Duration::minutes(minute as i64)).format("%Y-%m-%d %H:%M");
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{label}</text>\n",
            x(i),
            bottom + 34.0,
            ["start", "middle", "middle", "middle", "end"][k]
        );
    }
    let column_minutes = cols.first().map_or(1, |c| c.end - c.start);
    s += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time (UTC); a column is {column_minutes} minute(s); marks \
         under the axis: columns with delayed requests</text>\n<text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 \
         {:.1})\" text-anchor=\"middle\">requests per minute</text>\n",
        (PAD_L + W - PAD_R) / 2.0,
        bottom + 54.0,
        PAD_T + PLOT_H / 2.0,
        PAD_T + PLOT_H / 2.0
    );
    // Demand: filled areas over the covered columns.
    let mut area = String::new();
    let mut open = false;
    for (i, d) in demand.iter().enumerate() {
        match (d, open) {
            (Some(d), false) => {
                area += &format!(" M{:.1},{:.1} L{:.1},{:.1}", x(i), y(0.0), x(i), y(*d));
                open = true;
            }
            (Some(d), true) => area += &format!(" L{:.1},{:.1}", x(i), y(*d)),
            (None, true) => {
                area += &format!(" L{:.1},{:.1} Z", x(i - 1), y(0.0));
                open = false;
            }
            (None, false) => {}
        }
    }
    if open {
        area += &format!(" L{:.1},{:.1} Z", x(demand.len() - 1), y(0.0));
    }
    s += &format!(
        "<path class=\"demand\" d=\"{}\" fill=\"#bbbbbb\" fill-opacity=\"0.6\" stroke=\"#777777\" stroke-width=\"0.8\"/>\n",
        area.trim_start()
    );
    let line = |values: &mut dyn Iterator<Item = f64>| -> String {
        let mut d = String::new();
        for (i, v) in values.enumerate() {
            d += &format!("{}{:.1},{:.1} ", if i == 0 { 'M' } else { 'L' }, x(i), y(v));
        }
        d
    };
    for (k, columns) in per_run.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        s += &format!(
            "<path class=\"billed\" d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1\" stroke-dasharray=\"1 2\"/>\n\
             <path class=\"serving\" d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\"/>\n",
            line(&mut columns.iter().map(|c| c.billed_capacity)),
            line(&mut columns.iter().map(|c| c.serving_capacity))
        );
        if k == 0
            && let Some(target_per_instance) = target_per_instance
        {
            s += &format!(
                "<path class=\"target\" d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1\" stroke-dasharray=\"5 3\"/>\n",
                line(&mut columns.iter().map(|c| c.serving_instances * target_per_instance))
            );
        }
        // Delay marks: a short bar under the axis for each column with delayed requests, a row per run.
        let row = bottom + 4.0 + 5.0 * k as f64;
        for (i, c) in columns.iter().enumerate() {
            if c.delayed > 0.0 {
                s += &format!(
                    "<rect class=\"delayed\" x=\"{:.1}\" y=\"{row:.1}\" width=\"{:.1}\" height=\"4\" fill=\"{colour}\"/>\n",
                    x(i) - 1.0,
                    ((W - PAD_L - PAD_R) / n as f64).max(2.0)
                );
            }
        }
    }
    s += &legend(&entries, bottom);
    s += "</svg>\n";
    s
}

/// What a run's column shows.
struct RunColumn {
    /// The least serving capacity in the column.
    serving_capacity: f64,
    /// The most capacity billed (billed instances at the serving type's capacity).
    billed_capacity: f64,
    /// Instances serving when the capacity was least.
    serving_instances: f64,
    /// Requests delayed in the column.
    delayed: f64,
}

impl RunColumn {
    fn of(minutes: &[MinuteRecord]) -> Self {
        let least = minutes.iter().min_by(|a, b| a.capacity.total_cmp(&b.capacity));
        let per_instance = |m: &MinuteRecord| {
            if m.serving > 0 {
                m.capacity / f64::from(m.serving)
            } else {
                0.0
            }
        };
        RunColumn {
            serving_capacity: least.map_or(0.0, |m| m.capacity),
            billed_capacity: minutes
                .iter()
                .map(|m| per_instance(m) * f64::from(m.billed))
                .fold(0.0, f64::max),
            serving_instances: least.map_or(0.0, |m| f64::from(m.serving)),
            delayed: minutes.iter().map(|m| m.delayed).sum(),
        }
    }
}

/// The frontier: each controller's points of the sweep, cost (USD, or instance-hours when a price is unknown)
/// against the share of requests delayed, joined in order of cost and labelled with their targets.
pub fn frontier_svg(frontier: &Frontier, title: &str) -> String {
    let priced = frontier.controllers.values().flatten().all(|p| p.cost_usd.is_some());
    let cost = |p: &super::simulate::FrontierPoint| {
        if priced {
            p.cost_usd.unwrap_or(0.0)
        } else {
            p.instance_hours
        }
    };
    let xmax = frontier.controllers.values().flatten().map(cost).fold(1e-9, f64::max) * 1.05;
    let ymax = frontier
        .controllers
        .values()
        .flatten()
        .map(|p| 100.0 * p.delayed_share)
        .fold(1e-9, f64::max)
        * 1.1;
    let entries: Vec<(String, &str, bool)> = frontier
        .controllers
        .keys()
        .enumerate()
        .map(|(k, name)| (name.clone(), COLOURS[k % COLOURS.len()], false))
        .collect();
    let (mut s, bottom) = frame(title, entries.len());
    let x = |v: f64| PAD_L + (W - PAD_L - PAD_R) * v / xmax;
    let y = |v: f64| PAD_T + PLOT_H * (1.0 - v / ymax);
    s += &y_ticks(ymax, y, |v| format!("{v:.1}%"));
    for k in 0..=4 {
        let v = xmax * k as f64 / 4.0;
        let label = if priced {
            format!("${v:.0}")
        } else {
            format!("{v:.0} h")
        };
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{label}</text>\n",
            x(v),
            bottom + 34.0,
            ["start", "middle", "middle", "middle", "end"][k]
        );
    }
    s += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}; the labels are the targets</text>\n\
         <text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\">requests delayed beyond \
         {} s</text>\n",
        (PAD_L + W - PAD_R) / 2.0,
        bottom + 54.0,
        if priced {
            "cost (USD)"
        } else {
            "instance-hours (a price is unknown)"
        },
        PAD_T + PLOT_H / 2.0,
        PAD_T + PLOT_H / 2.0,
        frontier.latency_objective_s
    );
    for (k, points) in frontier.controllers.values().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let mut sorted: Vec<_> = points.iter().collect();
        sorted.sort_by(|a, b| cost(a).total_cmp(&cost(b)));
        let d: String = sorted
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "{}{:.1},{:.1} ",
                    if i == 0 { 'M' } else { 'L' },
                    x(cost(p)),
                    y(100.0 * p.delayed_share)
                )
            })
            .collect();
        s += &format!("<path class=\"curve\" d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\"/>\n");
        for p in sorted {
            let (px, py) = (x(cost(p)), y(100.0 * p.delayed_share));
            s += &format!(
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3.5\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\" \
                 font-size=\"10\" fill=\"{colour}\">{}</text>\n",
                px + 5.0,
                py - 5.0,
                p.target
            );
        }
    }
    s += &legend(&entries, bottom);
    s += "</svg>\n";
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::scaling::Policy;
    use crate::scaling::simulate::{Controller, FleetModel, simulate, sweep};

    fn policy() -> Policy {
        Policy::from_json(
            r#"{"endpoint": "e", "variant": "v", "instance_type": "ml.g5.xlarge", "min_instances": 1,
                "max_instances": 20, "target_invocations_per_instance": 60, "capacity_invocations_per_instance": 100}"#,
        )
        .unwrap()
    }

    /// Eight weeks of a daily cycle with a surge each afternoon, and a missing day.
    fn weeks() -> Trace {
        let per_minute = (0..8 * 7 * 1440)
            .map(|m: usize| {
                let (day, minute) = (m / 1440, m % 1440);
                let load = if (8 * 60..20 * 60).contains(&minute) {
                    600.0
                } else {
                    90.0
                };
                let surge = if (15 * 60..15 * 60 + 10).contains(&minute) {
                    900.0
                } else {
                    0.0
                };
                (day != 20).then_some(load + surge)
            })
            .collect();
        Trace {
            start: DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            per_minute,
            interval_seconds: 60,
        }
    }

    /// Eight weeks fit the plot: every line has at most [`MAX_COLUMNS`] points, the missing day splits the
    /// demand, the surges' delays are marked, and every controller has its serving and billed lines.
    #[test]
    fn a_timeline_of_weeks_is_downsampled_and_marks_the_delays() {
        let (trace, policy) = (weeks(), policy());
        let fleet = FleetModel::from_policy(&policy);
        let runs: Vec<SimulationRun> = [Controller::Policy, Controller::TargetTracking]
            .into_iter()
            .map(|c| simulate(&trace, &policy, &fleet, c).unwrap())
            .collect();
        let refs: Vec<&SimulationRun> = runs.iter().collect();
        let svg = timeline_svg(&trace, &refs, Some(60.0), "weeks <&>");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>") && svg.contains("weeks &lt;&amp;&gt;"));
        for class in ["serving", "billed"] {
            assert_eq!(svg.matches(&format!("class=\"{class}\"")).count(), 2, "{class}");
        }
        assert_eq!(svg.matches("class=\"target\"").count(), 1);
        // Without a load target (an asynchronous policy's is a backlog): no target line, no legend entry.
        let untargeted = timeline_svg(&trace, &refs, None, "weeks");
        assert_eq!(untargeted.matches("class=\"target\"").count(), 0);
        assert!(!untargeted.contains("load at its target"));
        for path in svg.split("<path").skip(1) {
            let points = path.matches(['L', 'M']).count();
            assert!(points <= MAX_COLUMNS + 2, "{points} points");
        }
        let demand = svg
            .split("class=\"demand\"")
            .nth(1)
            .unwrap()
            .split("/>")
            .next()
            .unwrap();
        assert_eq!(demand.matches(" Z").count(), 2, "the missing day is a gap");
        assert!(runs.iter().any(|r| r.summary.delayed_requests > 0.0));
        assert!(
            svg.matches("class=\"delayed\"").count() >= 8,
            "the afternoons' delays are marked"
        );
        assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
    }

    #[test]
    fn a_frontier_has_a_curve_and_a_labelled_point_per_target_of_each_controller() {
        let trace = Trace {
            per_minute: weeks().per_minute[..3 * 1440].to_vec(),
            ..weeks()
        };
        let policy = policy();
        let frontier = sweep(&trace, &policy, &FleetModel::from_policy(&policy), &[40.0, 60.0, 90.0]).unwrap();
        let svg = frontier_svg(&frontier, "frontier");
        assert_eq!(svg.matches("class=\"curve\"").count(), frontier.controllers.len());
        assert_eq!(svg.matches("<circle").count(), 3 * frontier.controllers.len());
        for target in [">40<", ">60<", ">90<"] {
            assert!(svg.contains(target), "{target}");
        }
        assert!(svg.contains("cost (USD)"), "ml.g5.xlarge has a price");
    }
}
