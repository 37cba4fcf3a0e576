//! A small SVG chart: linear time on x, linear or log on y, shaded spans, point clouds,
//! lines, marks and a legend. Enough for the run plots, with no external program.

use std::fmt::Write;

/// Plot area size and margins, pixels.
const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 46.0;
const LEGEND: f64 = 230.0;

/// Escapes text for XML and HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Swatch {
    Area,
    Dot,
    Line,
    Mark,
}

/// One axis: its range and whether it is logarithmic.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Label under or beside the axis.
    pub label: String,
    /// Smallest value shown.
    pub min: f64,
    /// Largest value shown.
    pub max: f64,
    /// Log scale (base 10); `min` must then be positive.
    pub log: bool,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: &str, min: f64, max: f64) -> Axis {
        let max = if max > min { max } else { min + 1.0 };
        Axis {
            label: label.into(),
            min,
            max,
            log: false,
        }
    }

    /// A log axis covering `min..max` widened to whole decades.
    pub fn log(label: &str, min: f64, max: f64) -> Axis {
        let min = 10f64.powf(min.max(1e-3).log10().floor());
        let max = 10f64.powf(max.max(min * 10.0).log10().ceil());
        Axis {
            label: label.into(),
            min,
            max,
            log: true,
        }
    }

    /// Where `v` falls, 0..1.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            let v = v.max(self.min);
            (v.log10() - self.min.log10()) / (self.max.log10() - self.min.log10())
        } else {
            (v - self.min) / (self.max - self.min)
        }
    }

    /// Tick values with labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        if self.log {
            let mut out = Vec::new();
            let mut v = self.min;
            while v <= self.max * 1.0001 {
                out.push((v, trim(v)));
                v *= 10.0;
            }
            return out;
        }
        let span = self.max - self.min;
        let raw = span / 8.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(mag * 10.0);
        let mut out = Vec::new();
        let mut v = (self.min / step).ceil() * step;
        while v <= self.max + step * 1e-9 {
            out.push((v, trim(v)));
            v += step;
        }
        out
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A chart being drawn.
#[derive(Debug)]
pub struct Chart {
    title: String,
    x: Axis,
    y: Axis,
    under: String,
    body: String,
    legend: Vec<(String, String, Swatch)>,
}

impl Chart {
    /// An empty chart.
    pub fn new(title: &str, x: Axis, y: Axis) -> Chart {
        Chart {
            title: title.into(),
            x,
            y,
            under: String::new(),
            body: String::new(),
            legend: Vec::new(),
        }
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + self.x.frac(x).clamp(-0.01, 1.01) * WIDTH
    }

    fn py(&self, y: f64) -> f64 {
        TOP + (1.0 - self.y.frac(y).clamp(-0.01, 1.01)) * HEIGHT
    }

    fn add_legend(&mut self, label: &str, color: &str, swatch: Swatch) {
        if !label.is_empty() && !self.legend.iter().any(|(l, _, _)| l == label) {
            self.legend.push((label.into(), color.into(), swatch));
        }
    }

    /// Shades the span `x0..x1` over the whole height; `tip` shows on hover.
    pub fn shade(&mut self, x0: f64, x1: f64, color: &str, label: &str, tip: &str) {
        let (a, b) = (self.px(x0), self.px(x1));
        let _ = writeln!(
            self.under,
            r#"<rect class="fault" x="{a:.1}" y="{TOP}" width="{:.1}" height="{HEIGHT}" fill="{color}" fill-opacity="0.18"><title>{}</title></rect>"#,
            (b - a).max(1.0),
            escape(tip)
        );
        self.add_legend(label, color, Swatch::Area);
    }

    /// Draws a dot at every point.
    pub fn points(&mut self, points: &[(f64, f64)], color: &str, label: &str) {
        if points.is_empty() {
            return;
        }
        let mut d = String::with_capacity(points.len() * 16);
        for &(x, y) in points {
            let _ = write!(d, "M{:.1} {:.1}h0", self.px(x), self.py(y));
        }
        let _ = writeln!(
            self.body,
            r#"<path d="{d}" stroke="{color}" stroke-width="3" stroke-linecap="round" stroke-opacity="0.7"/>"#
        );
        self.add_legend(label, color, Swatch::Dot);
    }

    /// Draws a polyline through the points; a point whose `y` is not finite breaks the
    /// line (a gap with no data).
    pub fn line(&mut self, points: &[(f64, f64)], color: &str, label: &str) {
        if points.iter().all(|p| !p.1.is_finite()) {
            return;
        }
        let mut d = String::new();
        let mut pen_up = true;
        for &(x, y) in points {
            if !y.is_finite() {
                pen_up = true;
                continue;
            }
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if pen_up { "M" } else { "L" },
                self.px(x),
                self.py(y)
            );
            pen_up = false;
        }
        let _ = writeln!(
            self.body,
            r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="1.6"/>"#
        );
        self.add_legend(label, color, Swatch::Line);
    }

    /// A dashed vertical line at `x` with a short text beside it.
    pub fn mark(&mut self, x: f64, color: &str, text: &str, label: &str) {
        let px = self.px(x);
        let _ = writeln!(
            self.body,
            r#"<line class="mark" x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{}" stroke="{color}" stroke-dasharray="4 3" stroke-width="1.4"/><text x="{:.1}" y="{:.1}" font-size="10" fill="{color}" transform="rotate(90 {:.1} {:.1})">{}</text>"#,
            TOP + HEIGHT,
            px + 3.0,
            TOP + 6.0,
            px + 3.0,
            TOP + 6.0,
            escape(text)
        );
        self.add_legend(label, color, Swatch::Mark);
    }

    /// The finished SVG document.
    pub fn finish(self) -> String {
        let total_w = LEFT + WIDTH + LEGEND;
        let total_h = TOP + HEIGHT + BOTTOM;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{total_w}" height="{total_h}" viewBox="0 0 {total_w} {total_h}" font-family="sans-serif">"#
        );
        let _ = writeln!(
            s,
            r#"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        s.push_str(&self.under);
        // Grid and tick labels.
        for (v, label) in self.y.ticks() {
            let y = self.py(v);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{label}</text>"##,
                LEFT + WIDTH,
                LEFT - 6.0,
                y + 4.0
            );
        }
        for (v, label) in self.x.ticks() {
            let x = self.px(v);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" font-size="11" text-anchor="middle">{label}</text>"##,
                TOP + HEIGHT,
                TOP + HEIGHT + 16.0
            );
        }
        s.push_str(&self.body);
        let _ = writeln!(
            s,
            r#"<rect x="{LEFT}" y="{TOP}" width="{WIDTH}" height="{HEIGHT}" fill="none" stroke="black"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text><text x="16" y="{}" font-size="12" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
            LEFT + WIDTH / 2.0,
            TOP + HEIGHT + 38.0,
            escape(&self.x.label),
            TOP + HEIGHT / 2.0,
            TOP + HEIGHT / 2.0,
            escape(&self.y.label)
        );
        let lx = LEFT + WIDTH + 14.0;
        for (i, (label, color, swatch)) in self.legend.iter().enumerate() {
            let y = TOP + 8.0 + i as f64 * 18.0;
            let mark = match swatch {
                Swatch::Area => format!(
                    r#"<rect x="{lx}" y="{:.1}" width="16" height="12" fill="{color}" fill-opacity="0.35"/>"#,
                    y - 6.0
                ),
                Swatch::Dot => format!(
                    r#"<circle cx="{}" cy="{y:.1}" r="4" fill="{color}"/>"#,
                    lx + 8.0
                ),
                Swatch::Line => format!(
                    r#"<line x1="{lx}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2"/>"#,
                    lx + 16.0
                ),
                Swatch::Mark => format!(
                    r#"<line x1="{}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="{color}" stroke-dasharray="3 2" stroke-width="2"/>"#,
                    lx + 8.0,
                    lx + 8.0,
                    y - 7.0,
                    y + 7.0
                ),
            };
            let _ = writeln!(
                s,
                r#"<g class="legend">{mark}<text x="{}" y="{:.1}" font-size="11">{}</text></g>"#,
                lx + 22.0,
                y + 4.0,
                escape(label)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_its_parts() {
        let mut c = Chart::new(
            "t<1>",
            Axis::linear("s", 0.0, 10.0),
            Axis::log("ms", 0.5, 300.0),
        );
        c.shade(2.0, 4.0, "#f00", "partition", "isolate [0]");
        c.points(&[(1.0, 3.0), (2.0, 30.0)], "#00f", "read ok");
        c.line(
            &[(0.0, 1.0), (1.0, 1.5), (5.0, f64::NAN), (10.0, 2.0)],
            "#0f0",
            "p50",
        );
        c.mark(5.0, "#000", "back +120 ms", "recovery");
        let svg = c.finish();
        assert!(svg.contains("t&lt;1&gt;"));
        assert_eq!(svg.matches(r#"class="fault""#).count(), 1);
        assert_eq!(svg.matches(r#"class="legend""#).count(), 4);
        assert!(svg.contains(">1000<"), "log ticks up to 1000 ms");
        assert!(svg.trim_end().ends_with("</svg>"));
        let line = svg
            .lines()
            .find(|l| l.contains(r##"stroke="#0f0""##))
            .unwrap();
        assert_eq!(
            line.matches('M').count(),
            2,
            "the gap breaks the line: {line}"
        );
        assert_eq!(line.matches('L').count(), 1, "{line}");
    }
}
