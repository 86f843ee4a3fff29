//! Line charts drawn on the server as SVG coordinates, so the metrics page needs no script
//! (the CSP allows none inline) and shows the same in every browser.

/// The chart's drawing area, in SVG user units (the SVG scales to the page's width).
pub const WIDTH: f64 = 600.0;
pub const HEIGHT: f64 = 160.0;

/// One line: its points as a path, and each point as a dot (a single point draws no line).
pub struct Line {
    pub label: &'static str,
    pub colour: &'static str,
    pub path: String,
    pub dots: Vec<(String, String)>,
}

pub struct Chart {
    pub title: String,
    /// What the top of the chart stands for (`12 req/min`, `250 ms`).
    pub top_label: String,
    pub lines: Vec<Line>,
}

impl Chart {
    pub fn has_data(&self) -> bool {
        self.lines.iter().any(|l| !l.dots.is_empty())
    }
}

/// Points as (minutes from the window's start, value) over a window `span` minutes wide and
/// values up to `top` (at least 1, so an all-zero line sits on the bottom edge).
pub fn line(
    label: &'static str,
    colour: &'static str,
    points: &[(f64, f64)],
    span: f64,
    top: f64,
) -> Line {
    let top = top.max(1.0);
    let span = span.max(1.0);
    let dots: Vec<(String, String)> = points
        .iter()
        .map(|(x, y)| {
            let x = (x / span).clamp(0.0, 1.0) * WIDTH;
            let y = HEIGHT - (y / top).clamp(0.0, 1.0) * HEIGHT;
            (format!("{x:.1}"), format!("{y:.1}"))
        })
        .collect();
    let path = dots
        .iter()
        .enumerate()
        .map(|(i, (x, y))| format!("{}{x} {y}", if i == 0 { "M" } else { "L" }))
        .collect::<Vec<_>>()
        .join(" ");
    Line {
        label,
        colour,
        path,
        dots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_scale_to_the_drawing_area() {
        let l = line(
            "2xx",
            "#000",
            &[(0.0, 0.0), (30.0, 5.0), (60.0, 10.0)],
            60.0,
            10.0,
        );
        assert_eq!(l.path, "M0.0 160.0 L300.0 80.0 L600.0 0.0");
        assert_eq!(l.dots.len(), 3);
        // Out of range values stay inside the chart; an empty series draws nothing.
        let l = line("x", "#000", &[(90.0, 50.0)], 60.0, 10.0);
        assert_eq!(l.path, "M600.0 0.0");
        assert!(line("x", "#000", &[], 60.0, 0.0).path.is_empty());
    }
}
