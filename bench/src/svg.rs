//! Hand-written SVG: grouped bar charts, enough for the report and no dependency.

use std::fmt::Write;

/// A grouped bar chart: one group per category, one bar per series.
pub struct BarChart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Label of the value axis.
    pub y_label: &'a str,
    /// Group labels along the x axis.
    pub categories: Vec<String>,
    /// (series name, one value per category; `None` leaves a gap).
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A round axis maximum and tick step at or above `max`.
fn nice_axis(max: f64) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 || !max.is_finite() {
        return (1.0, 0.2);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Renders the chart as a standalone SVG document.
pub fn bar_chart(c: &BarChart) -> String {
    let (w, h) = (860.0, 400.0);
    let (left, right, top, bottom) = (80.0, 20.0, 60.0, 70.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let max = c
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .cloned()
        .fold(0.0, f64::max);
    let (ymax, step) = nice_axis(max * 1.05);
    let y = |v: f64| top + ph - v / ymax * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
"#,
        w / 2.0,
        esc(c.title)
    );
    let mut t = 0.0;
    while t <= ymax + step * 0.01 {
        let yy = y(t);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + pw,
            left - 6.0,
            yy + 4.0,
            fmt_num(t)
        );
        t += step;
    }
    let _ = writeln!(
        s,
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        top + ph / 2.0,
        esc(c.y_label)
    );
    let groups = c.categories.len().max(1) as f64;
    let gw = pw / groups;
    let nseries = c.series.len().max(1) as f64;
    let bw = gw * 0.8 / nseries;
    for (gi, cat) in c.categories.iter().enumerate() {
        let gx = left + gi as f64 * gw;
        for (si, (_, vals)) in c.series.iter().enumerate() {
            if let Some(Some(v)) = vals.get(gi) {
                let x = gx + gw * 0.1 + si as f64 * bw;
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
                    y(*v),
                    bw * 0.95,
                    (top + ph - y(*v)).max(0.0),
                    COLORS[si % COLORS.len()],
                    fmt_num(*v)
                );
                if bw > 18.0 {
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text>"#,
                        x + bw * 0.475,
                        y(*v) - 3.0,
                        fmt_num(*v)
                    );
                }
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
            gx + gw / 2.0,
            top + ph + 16.0,
            esc(cat)
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        top + ph,
        left + pw,
        top + ph
    );
    let mut lx = left;
    for (si, (name, _)) in c.series.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="34" width="12" height="12" fill="{}"/><text x="{:.1}" y="44">{}</text>"#,
            COLORS[si % COLORS.len()],
            lx + 16.0,
            esc(name)
        );
        lx += 24.0 + 7.0 * name.len() as f64;
    }
    s.push_str("</svg>\n");
    s
}
