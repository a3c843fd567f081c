//! Small inline SVG charts for the console (no CDN, no script): a line of values over time and
//! horizontal bars. Text is escaped; numbers are formatted here, so the output is safe to embed.

use std::fmt::Write as _;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A small line without axes, for a table cell: `values` oldest first, scaled 0..`max`; the
/// title (a tooltip) names what it shows.
pub fn spark(title: &str, values: &[f64], max: f64) -> String {
    let (w, h) = (90.0, 20.0);
    let max = if max > 0.0 { max } else { 1.0 };
    let mut s = format!(
        r#"<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>{}</title>"#,
        esc(title)
    );
    let step = if values.len() > 1 {
        (w - 4.0) / (values.len() - 1) as f64
    } else {
        0.0
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let y = h - 2.0 - (v.clamp(0.0, max) / max) * (h - 4.0);
            format!("{:.1},{:.1}", 2.0 + i as f64 * step, y)
        })
        .collect();
    if points.len() == 1 {
        let _ = write!(
            s,
            r##"<circle cx="{}" cy="{}" r="2" fill="#1f6feb"/>"##,
            w / 2.0,
            points[0].split(',').nth(1).unwrap_or("0")
        );
    } else if !points.is_empty() {
        let _ = write!(
            s,
            r##"<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{}"/>"##,
            points.join(" ")
        );
    }
    s.push_str("</svg>");
    s
}

/// A line chart of `points` (label, value) with the y axis from 0 to `max`.
pub fn line(title: &str, points: &[(String, f64)], max: f64) -> String {
    let (w, h, left, bottom, top) = (560.0, 180.0, 44.0, 28.0, 22.0);
    let plot_w = w - left - 12.0;
    let plot_h = h - bottom - top;
    let max = if max > 0.0 { max } else { 1.0 };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><text x="{left}" y="14" class="chart-title">{t}</text>"#,
        t = esc(title)
    );
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let y = top + plot_h - plot_h * k as f64 / 4.0;
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{tx}" y="{ty:.1}" class="axis" text-anchor="end">{v}</text>"#,
            x2 = left + plot_w,
            tx = left - 4.0,
            ty = y + 4.0,
            v = fmt(v)
        );
    }
    if points.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="axis">—</text>"#,
            left + 10.0,
            top + plot_h / 2.0
        );
    }
    let n = points.len().max(2) as f64 - 1.0;
    let xy: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let x = left + plot_w * if points.len() == 1 { 0.5 } else { i as f64 / n };
            let y = top + plot_h - plot_h * (v.clamp(0.0, max) / max);
            (x, y)
        })
        .collect();
    if xy.len() > 1 {
        let path: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(s, r#"<polyline points="{}" class="line"/>"#, path.join(" "));
    }
    for ((x, y), (label, v)) in xy.iter().zip(points) {
        let _ = write!(
            s,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" class="dot"><title>{} {}</title></circle>"#,
            esc(label),
            fmt(*v)
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            s,
            r#"<text x="{left}" y="{y}" class="axis">{}</text><text x="{x}" y="{y}" class="axis" text-anchor="end">{}</text>"#,
            esc(&first.0),
            esc(&last.0),
            y = h - 8.0,
            x = left + plot_w
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars (label, value) scaled to `max`.
pub fn bars(title: &str, bars: &[(String, f64)], max: f64) -> String {
    let row = 22.0;
    let (w, left, top) = (560.0, 150.0, 22.0);
    let h = top + row * bars.len() as f64 + 8.0;
    let max = if max > 0.0 { max } else { 1.0 };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><text x="0" y="14" class="chart-title">{t}</text>"#,
        t = esc(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let bw = (w - left - 60.0) * (v.clamp(0.0, max) / max);
        let _ = write!(
            s,
            r#"<text x="{lx}" y="{ty:.1}" class="axis" text-anchor="end">{l}</text><rect x="{left}" y="{y:.1}" width="{bw:.1}" height="14" class="bar"/><text x="{vx:.1}" y="{ty:.1}" class="axis">{v}</text>"#,
            lx = left - 6.0,
            ty = y + 11.0,
            l = esc(label),
            vx = left + bw + 4.0,
            v = fmt(*v)
        );
    }
    s.push_str("</svg>");
    s
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A node of a graph drawing: label, kind (colour class), ring (0 = centre) and link.
pub struct GraphNode {
    pub label: String,
    pub kind: &'static str,
    pub ring: usize,
    pub href: Option<String>,
}

/// A relationship graph (R23) laid out in rings around its centre: each ring holds the nodes that
/// many steps away, spread evenly; edges carry their relation's name.
pub fn graph(title: &str, nodes: &[GraphNode], edges: &[(usize, usize, String)]) -> String {
    let (w, h) = (760.0_f64, 520.0_f64);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let rings = nodes.iter().map(|n| n.ring).max().unwrap_or(0);
    let step = if rings == 0 {
        0.0
    } else {
        (h / 2.0 - 50.0) / rings as f64
    };
    let mut pos = vec![(cx, cy); nodes.len()];
    for r in 1..=rings {
        let on: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].ring == r).collect();
        for (k, &i) in on.iter().enumerate() {
            let a = std::f64::consts::TAU * k as f64 / on.len() as f64 + 0.3 * r as f64;
            pos[i] = (
                cx + step * r as f64 * 1.35 * a.cos(),
                cy + step * r as f64 * a.sin(),
            );
        }
    }
    let mut s = format!(
        r#"<svg class="graph" viewBox="0 0 {w} {h}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
    for (a, b, rel) in edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (pos.get(*a), pos.get(*b)) else {
            continue;
        };
        s.push_str(&format!(
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" class="edge"/><text x="{:.1}" y="{:.1}" class="rel">{}</text>"#,
            (x1 + x2) / 2.0,
            (y1 + y2) / 2.0 - 3.0,
            esc(rel)
        ));
    }
    for (i, n) in nodes.iter().enumerate() {
        let (x, y) = pos[i];
        let r = if n.ring == 0 { 16.0 } else { 11.0 };
        let node = format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" class="node {}"/><text x="{x:.1}" y="{:.1}" class="label">{}</text>"#,
            n.kind,
            y + r + 13.0,
            esc(&n.label)
        );
        match &n.href {
            Some(h) => s.push_str(&format!(r#"<a href="{}">{node}</a>"#, esc(h))),
            None => s.push_str(&node),
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_scale() {
        let s = line(
            "得分<趋势>",
            &[("a&b".into(), 50.0), ("c".into(), 100.0)],
            100.0,
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("得分&lt;趋势&gt;") && s.contains("a&amp;b"));
        assert!(s.contains("<polyline"));
        let sp = spark("缺失率 <最近>", &[0.1, 0.5, 0.0], 1.0);
        assert!(sp.contains("<polyline") && sp.contains("缺失率 &lt;最近&gt;"));
        assert!(
            sp.contains(r#"points="2.0,16.4 45.0,10.0 88.0,18.0""#),
            "{sp}"
        );
        let b = bars("排名", &[("公安局".into(), 90.0)], 100.0);
        assert!(b.contains("公安局") && b.contains("<rect"));
    }
}
