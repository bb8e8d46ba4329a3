//! The Summary sheet: what a change board reads before a single row. Counts per Action (and per
//! Status once apply has recorded results), each with a native chart drawn from those counts,
//! the inputs with their SHA-256, and the warnings.
//!
//! Everything on it is taken from the rows as they are written, so a workbook rewritten by apply
//! with [`super::write_review`] gets its Status chart without asking for it.

use super::writer::{
    action_colour, fit, fit_row_height, set_up_printing, Formats, Orientation, PageLabels,
    SUMMARY_SHEET,
};
use super::ReviewMeta;
use crate::review::{Action, Approval, ReviewRow, Status};
use rust_xlsxwriter::{
    Chart, ChartAxisCrossing, ChartDataLabel, ChartFormat, ChartLine, ChartPoint, ChartSolidFill,
    Color, Worksheet, XlsxError,
};

/// The Status rows of the Summary, in this order, with their chart colours: what is done, what
/// needs a human, what is unknown, and what apply has not touched.
const STATUSES: [(&str, u32); 8] = [
    ("Done", 0x70AD47),
    ("Failed", 0xE04B4B),
    ("Refused", 0xC00000),
    ("In doubt", 0xFFC000),
    ("Skipped", 0xA5A5A5),
    ("Reverted", 0x4472C4),
    ("Other", 0x8064A2),
    ("(no Status)", 0xE7E6E6),
];

fn status_slot(status: &Status) -> usize {
    match status {
        Status::Done => 0,
        Status::Failed => 1,
        Status::Refused => 2,
        Status::InDoubt => 3,
        Status::Skipped => 4,
        Status::Reverted => 5,
        Status::Other(_) => 6,
        Status::Empty => 7,
    }
}

const NO_STATUS: usize = 7;

/// What the Summary sheet counts, gathered as rows are written.
#[derive(Clone, Copy, Default)]
pub(super) struct Tally {
    counts: [usize; Action::ALL.len()],
    no_action: usize,
    statuses: [usize; STATUSES.len()],
    approved: usize,
    pub(super) total: usize,
}

impl Tally {
    pub(super) fn add(&mut self, row: &ReviewRow) {
        match row.plan.action {
            Some(a) => self.counts[Action::ALL.iter().position(|x| *x == a).unwrap_or(0)] += 1,
            None => self.no_action += 1,
        }
        self.statuses[status_slot(&row.status)] += 1;
        if row.approve == Approval::Yes {
            self.approved += 1;
        }
        self.total += 1;
    }

    /// Whether apply has recorded anything yet.
    fn any_status(&self) -> bool {
        self.statuses[NO_STATUS] < self.total
    }
}

/// Summary columns: a label, its count, then two text columns (an Action's meaning, an input's
/// path and SHA-256, the warnings). Excel character widths.
const WIDTHS: [f64; 4] = [24.0, 12.0, 72.0, 68.0];

/// The Inputs table's columns, left to right. The reader finds them by header, so a workbook
/// written with the earlier order (Role, Path, SHA-256, Rows) reads back too.
pub(super) const INPUT_HEADERS: [&str; 4] = ["Role", "Rows", "Path", "SHA-256"];

/// The charts' sizes in pixels (the Summary's columns are about 1,250 wide); the rows under them
/// are kept free.
const CHART_WIDTH: u32 = 600;
const STATUS_CHART_WIDTH: u32 = 480;
const CHART_GAP: u32 = 24;
const CHART_HEIGHT: u32 = 300;
const CHART_ROWS: u32 = CHART_HEIGHT / 20 + 1;

pub(super) fn write_summary(
    ws: &mut Worksheet,
    tally: &Tally,
    plan_sheets: &[(String, usize, usize)],
    unmatched: usize,
    meta: &ReviewMeta,
    f: &Formats,
    labels: &PageLabels,
) -> Result<(), XlsxError> {
    ws.set_name(SUMMARY_SHEET)?;
    for (i, w) in WIDTHS.iter().enumerate() {
        ws.set_column_width(i as u16, *w)?;
    }
    set_up_printing(ws, Orientation::Landscape, labels, false)?;
    let mut r: u32 = 0;
    ws.write_string_with_format(r, 0, "hardmatch plan summary", &f.title)?;
    r += 2;
    for (k, v) in [
        ("Generated at", meta.generated_at.as_str()),
        ("Tool version", meta.tool_version.as_str()),
    ] {
        ws.write_string_with_format(r, 0, k, &f.heading)?;
        ws.write_string_with_format(r, 1, v, &f.text)?;
        r += 1;
    }
    r += 1;

    // The charts come first, right under the title, so that they are on the first page and
    // never cut by a page break; the tables they draw from follow.
    let charts_at = r;
    r += CHART_ROWS + 1;
    let actions = write_action_counts(ws, &mut r, tally, unmatched, f)?;
    let statuses = if tally.any_status() {
        Some(write_status_counts(ws, &mut r, tally, f)?)
    } else {
        None
    };
    write_charts(ws, charts_at, actions, statuses)?;
    write_details(ws, r, plan_sheets, meta, f)
}

/// The Action table and its totals; returns the first and last row of the Action counts.
/// Plain numbers computed here, not formulas: readers that do not recalculate (calamine,
/// scripts) would see formula results as 0.
fn write_action_counts(
    ws: &mut Worksheet,
    r: &mut u32,
    tally: &Tally,
    unmatched: usize,
    f: &Formats,
) -> Result<(u32, u32), XlsxError> {
    for (i, h) in ["Action", "Rows", "Meaning"].iter().enumerate() {
        ws.write_string_with_format(*r, i as u16, *h, &f.header)?;
    }
    *r += 1;
    let first = *r;
    for (i, a) in Action::ALL.iter().enumerate() {
        ws.write_string_with_format(*r, 0, a.as_str(), &f.text)?;
        ws.write_number_with_format(*r, 1, tally.counts[i] as f64, &f.count)?;
        ws.write_string_with_format(*r, 2, a.meaning(), &f.paragraph)?;
        fit_row_height(ws, *r, a.meaning(), WIDTHS[2])?;
        *r += 1;
    }
    let last = *r - 1;
    if tally.no_action > 0 {
        ws.write_string(*r, 0, "(no action)")?;
        ws.write_number_with_format(*r, 1, tally.no_action as f64, &f.count)?;
        *r += 1;
    }
    for (label, n, format) in [
        ("Total", tally.total, Some(&f.heading)),
        ("Approve = Yes", tally.approved, None),
        ("Unmatched cloud users", unmatched, None),
    ] {
        match format {
            Some(format) => ws.write_string_with_format(*r, 0, label, format)?,
            None => ws.write_string(*r, 0, label)?,
        };
        ws.write_number_with_format(*r, 1, n as f64, &f.count)?;
        *r += 1;
    }
    *r += 1;
    Ok((first, last))
}

/// The Status table, written once apply has recorded a Status; returns its first and last row.
fn write_status_counts(
    ws: &mut Worksheet,
    r: &mut u32,
    tally: &Tally,
    f: &Formats,
) -> Result<(u32, u32), XlsxError> {
    for (i, h) in ["Status", "Rows"].iter().enumerate() {
        ws.write_string_with_format(*r, i as u16, *h, &f.header)?;
    }
    *r += 1;
    let first = *r;
    for (i, (label, _)) in STATUSES.iter().enumerate() {
        ws.write_string(*r, 0, *label)?;
        ws.write_number_with_format(*r, 1, tally.statuses[i] as f64, &f.count)?;
        *r += 1;
    }
    let last = *r - 1;
    *r += 1;
    Ok((first, last))
}

/// Rows per Action, and per Status when there are any, side by side at row `r`.
fn write_charts(
    ws: &mut Worksheet,
    r: u32,
    actions: (u32, u32),
    statuses: Option<(u32, u32)>,
) -> Result<(), XlsxError> {
    let colours: Vec<u32> = Action::ALL.iter().map(|a| action_colour(*a)).collect();
    let chart = counts_chart("Rows per Action", actions, &colours, CHART_WIDTH);
    ws.insert_chart(r, 0, &chart)?;
    if let Some(rows) = statuses {
        let colours: Vec<u32> = STATUSES.iter().map(|(_, c)| *c).collect();
        let chart = counts_chart("Rows per Status", rows, &colours, STATUS_CHART_WIDTH);
        ws.insert_chart_with_offset(r, 0, &chart, CHART_WIDTH + CHART_GAP, 0)?;
    }
    Ok(())
}

/// A bar chart of the counts in column B against the labels in column A, rows `first..=last`,
/// read top-down in table order, each bar in its own colour.
fn counts_chart(title: &str, (first, last): (u32, u32), colours: &[u32], width: u32) -> Chart {
    let mut chart = Chart::new_bar();
    chart.title().set_name(title);
    chart.legend().set_hidden();
    let mut border = ChartLine::new();
    border.set_color(Color::RGB(0x7F7F7F));
    let points: Vec<ChartPoint> = colours
        .iter()
        .map(|c| {
            ChartPoint::new().set_format(
                ChartFormat::new()
                    .set_solid_fill(ChartSolidFill::new().set_color(Color::RGB(*c)))
                    .set_border(&border),
            )
        })
        .collect();
    chart
        .add_series()
        .set_name(title)
        .set_categories((SUMMARY_SHEET, first, 0, last, 0))
        .set_values((SUMMARY_SHEET, first, 1, last, 1))
        .set_points(&points)
        .set_data_label(ChartDataLabel::new().show_value())
        .set_gap(40);
    // In a bar chart the categories are the y axis, drawn from the bottom up; reversed, they
    // read like the table. Each bar is labelled with its count, so the count axis, whose ticks
    // would be fractions for small counts, is left out.
    chart
        .y_axis()
        .set_reverse()
        .set_crossing(ChartAxisCrossing::Max);
    chart
        .x_axis()
        .set_min(0)
        .set_major_gridlines(false)
        .set_hidden(true);
    chart.set_width(width).set_height(CHART_HEIGHT);
    chart
}

/// Which Plan sheets hold which rows, the inputs with their SHA-256, and the warnings.
fn write_details(
    ws: &mut Worksheet,
    mut r: u32,
    plan_sheets: &[(String, usize, usize)],
    meta: &ReviewMeta,
    f: &Formats,
) -> Result<(), XlsxError> {
    ws.write_string_with_format(r, 0, "Plan sheets", &f.heading)?;
    r += 1;
    for (name, first, len) in plan_sheets {
        ws.write_string(r, 0, name.as_str())?;
        let span = if *len == 0 {
            "no rows".to_string()
        } else {
            format!("rows {} to {}", first, first + len - 1)
        };
        ws.write_string(r, 1, span)?;
        r += 1;
    }
    r += 1;

    ws.write_string_with_format(r, 0, "Inputs", &f.heading)?;
    r += 1;
    for (i, h) in INPUT_HEADERS.iter().enumerate() {
        ws.write_string_with_format(r, i as u16, *h, &f.header)?;
    }
    r += 1;
    for input in &meta.inputs {
        ws.write_string_with_format(r, 0, fit(&input.role), &f.text)?;
        ws.write_number_with_format(r, 1, input.rows as f64, &f.count)?;
        ws.write_string_with_format(r, 2, fit(&input.path), &f.text)?;
        ws.write_string_with_format(r, 3, fit(&input.sha256), &f.text)?;
        r += 1;
    }
    r += 1;

    ws.write_string_with_format(r, 0, "Warnings", &f.heading)?;
    r += 1;
    if meta.warnings.is_empty() {
        // Column A, so reading the Summary back does not take "none" for a warning.
        ws.write_string(r, 0, "none")?;
    }
    for w in &meta.warnings {
        let w = fit(w);
        ws.write_string_with_format(r, 2, w.as_ref(), &f.paragraph)?;
        fit_row_height(ws, r, &w, WIDTHS[2])?;
        r += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_row() {
        let all = [
            Status::Done,
            Status::Failed,
            Status::Refused,
            Status::InDoubt,
            Status::Skipped,
            Status::Reverted,
            Status::Other("typed".into()),
            Status::Empty,
        ];
        let mut slots: Vec<usize> = all.iter().map(status_slot).collect();
        assert_eq!(STATUSES[status_slot(&Status::Empty)].0, "(no Status)");
        assert_eq!(STATUSES[status_slot(&Status::InDoubt)].0, "In doubt");
        assert_eq!(status_slot(&Status::Empty), NO_STATUS);
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), STATUSES.len());
    }

    #[test]
    fn statuses_are_counted_only_once_apply_has_written_one() {
        let mut tally = Tally::default();
        tally.add(&ReviewRow::default());
        assert!(!tally.any_status());
        tally.add(&ReviewRow {
            status: Status::Failed,
            ..ReviewRow::default()
        });
        assert!(tally.any_status());
        assert_eq!(tally.statuses[1], 1);
        assert_eq!(tally.statuses[NO_STATUS], 1);
    }
}
