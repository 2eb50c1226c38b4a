//! The findings prose (`bench/NOTES.md`) with its numbers computed from the run's
//! results, so the text cannot drift from the tables: a placeholder
//!
//! ```text
//! {{ratio METRIC key=value key=a|b ...}}   Muon's median / tokio's median, "0.91–0.97×"
//! {{med METRIC key=value ...}}             a median (give `impl=`), "3.28" or "3.28–3.66"
//! {{meta KEY}}                             a line of meta.txt (suite_s, vendored_build_s, ...)
//! ```
//!
//! is replaced by its value; `key=a|b` takes each value in turn (every combination of
//! the alternatives) and the result is the range over them. `METRIC/1000` divides (µs
//! to ms). A value resting on fewer repetitions than the run asked for is marked `†`,
//! and a placeholder that matches no rows becomes `[no data: ...]`, never a number.

/// Where a placeholder reads its rows: the median of `metric` over the rows that
/// match every `(key, value)`, and how many rows matched.
pub trait Source {
    /// The median and the number of matching rows, or `None` when no row matches.
    fn median(&self, filter: &[(&str, &str)], metric: &str) -> Option<(f64, usize)>;
}

/// Replaces every placeholder of `text`; `want_reps` is the run's repetition count,
/// `meta` the key=value lines of the run's meta.txt.
pub fn fill(
    text: &str,
    data: &impl Source,
    want_reps: usize,
    meta: &std::collections::BTreeMap<String, String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let spec = &after[..end];
        match spec.trim().strip_prefix("meta ") {
            Some(key) => match meta.get(key.trim()) {
                Some(v) => out.push_str(v),
                None => out.push_str(&format!("[no data: {spec}]")),
            },
            None => out.push_str(&expand(spec, data, want_reps)),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn expand(spec: &str, data: &impl Source, want_reps: usize) -> String {
    let mut words = spec.split_whitespace();
    let (Some(kind), Some(metric)) = (words.next(), words.next()) else {
        return format!("[bad placeholder: {spec}]");
    };
    let (metric, divisor) = match metric.split_once('/') {
        Some((m, d)) => (m, d.parse::<f64>().unwrap_or(f64::NAN)),
        None => (metric, 1.0),
    };
    let pairs: Vec<(&str, Vec<&str>)> = words
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k, v.split('|').collect()))
        .collect();
    let mut values = Vec::new();
    let mut short = false;
    for combo in combinations(&pairs) {
        let value = match kind {
            "ratio" => {
                let side = |imp: &'static str| {
                    let mut f = combo.clone();
                    f.push(("impl", imp));
                    data.median(&f, metric)
                };
                match (side("muon"), side("tokio")) {
                    (Some((m, nm)), Some((t, nt))) if t > 0.0 => {
                        short |= nm < want_reps || nt < want_reps;
                        m / t
                    }
                    _ => return format!("[no data: {spec}]"),
                }
            }
            "med" => match data.median(&combo, metric) {
                Some((v, n)) => {
                    short |= n < want_reps;
                    v / divisor
                }
                None => return format!("[no data: {spec}]"),
            },
            _ => return format!("[bad placeholder: {spec}]"),
        };
        values.push(value);
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let show = |v: f64| {
        if kind == "ratio" {
            format!("{v:.2}")
        } else {
            number(v)
        }
    };
    let mut s = if show(lo) == show(hi) {
        show(lo)
    } else {
        format!("{}–{}", show(lo), show(hi))
    };
    if kind == "ratio" {
        s.push('×');
    }
    if short {
        s.push('†');
    }
    s
}

/// Every choice of one value per key, in order.
fn combinations<'a>(pairs: &[(&'a str, Vec<&'a str>)]) -> Vec<Vec<(&'a str, &'a str)>> {
    let mut out = vec![Vec::new()];
    for (key, alternatives) in pairs {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                alternatives.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push((*key, *v));
                    p
                })
            })
            .collect();
    }
    out
}

/// Three significant figures or so, thousands grouped: 0.62, 3.28, 31.4, 616, 9,250.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        super::report::group_thousands(v.round() as i64)
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Source for Fixed {
        fn median(&self, filter: &[(&str, &str)], _metric: &str) -> Option<(f64, usize)> {
            let get = |k: &str| filter.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
            let base = match get("conns")? {
                "1" => 10.0,
                "100" => 20.0,
                _ => return None,
            };
            let reps = if get("size") == Some("short") { 2 } else { 3 };
            Some(match get("impl") {
                Some("muon") => (base, reps),
                Some("tokio") => (base * 2.0, 3),
                _ => (base * 100.0, reps),
            })
        }
    }

    #[test]
    fn ratios_medians_ranges_and_flags() {
        let meta = [("suite_s".to_string(), "2085".to_string())].into();
        let f = |t: &str| fill(t, &Fixed, 3, &meta);
        assert_eq!(f("x {{ratio m conns=1}} y"), "x 0.50× y");
        assert_eq!(f("{{med m impl=muon conns=1|100}}"), "10.0–20.0");
        assert_eq!(f("{{med m/1000 conns=100}}"), "2.00");
        assert_eq!(f("{{med m conns=1}}"), "1,000");
        assert_eq!(f("{{med m impl=muon conns=1 size=short}}"), "10.0†");
        assert!(f("{{ratio m conns=7}}").starts_with("[no data"));
        assert_eq!(f("{{meta suite_s}} s"), "2085 s");
        assert!(f("{{meta nothing}}").starts_with("[no data"));
        assert_eq!(f("no placeholder"), "no placeholder");
    }
}
