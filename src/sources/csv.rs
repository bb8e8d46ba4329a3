//! CSV as PowerShell and Excel write it. The `csv` crate does the quoting; this file handles what
//! is Windows-specific around it: Windows PowerShell 5.1's `#TYPE …` first line, Excel's `sep=;`
//! hint, a delimiter that depends on the exporting machine's culture (`,` `;` or tab, sniffed from
//! the header line), and record locations that stay right across quoted multi-line fields.

use super::table::{file_label, Header, Row, TableVisitor, Value};
use crate::error::InputError;
use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

/// How a CSV text is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dialect {
    pub delimiter: u8,
    /// Byte offset of the header line (after `#TYPE` / `sep=` lines).
    pub body_start: usize,
    /// Physical lines before the header line.
    pub lines_before: u64,
}

/// The first line of `s` (without its terminator) and the offset just past it.
fn first_line(s: &str) -> (&str, usize) {
    match s.find('\n') {
        Some(i) => (s[..i].trim_end_matches('\r'), i + 1),
        None => (s.trim_end_matches('\r'), s.len()),
    }
}

/// `sep=;` or `"sep=;"` → the delimiter.
fn sep_line(line: &str) -> Option<u8> {
    let l = line.trim().trim_matches('"');
    let prefix = l.get(..4)?;
    match l.as_bytes() {
        [_, _, _, _, d] if prefix.eq_ignore_ascii_case("sep=") => Some(*d),
        _ => None,
    }
}

fn is_type_line(line: &str) -> bool {
    let l = line.trim_start();
    l.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("#type"))
}

/// Find the preamble and the delimiter.
pub(crate) fn sniff(text: &str) -> Dialect {
    let mut body_start = 0;
    let mut lines_before = 0;
    let mut delimiter = None;
    // `#TYPE` and `sep=` lines, in either order, at most one of each.
    for _ in 0..2 {
        let (line, next) = first_line(&text[body_start..]);
        let sep = sep_line(line).filter(|_| delimiter.is_none());
        if sep.is_none() && !is_type_line(line) {
            break;
        }
        delimiter = delimiter.or(sep);
        body_start += next;
        lines_before += 1;
    }
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(&text[body_start..]));
    Dialect {
        delimiter,
        body_start,
        lines_before,
    }
}

/// The delimiter that occurs most often outside quotes in the first non-blank line; `,` on a tie.
fn sniff_delimiter(body: &str) -> u8 {
    let header = body
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut counts = [0usize; 3];
    let mut in_quotes = false;
    for b in header.bytes() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => counts[0] += 1,
            b';' if !in_quotes => counts[1] += 1,
            b'\t' if !in_quotes => counts[2] += 1,
            _ => {}
        }
    }
    let mut best = (b',', counts[0]);
    for (d, n) in [(b';', counts[1]), (b'\t', counts[2])] {
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

/// Physical line (1-based) where the record starting at or after `byte` really starts: the csv
/// crate reports the position after the previous record, before any blank lines.
fn record_line(body: &[u8], byte: usize, line: u64) -> u64 {
    let mut line = line;
    for b in body.get(byte..).unwrap_or_default() {
        match b {
            b'\n' => line += 1,
            b'\r' => {}
            _ => break,
        }
    }
    line
}

/// Read `text` (already decoded) and feed the visitor. Returns the number of data rows.
pub(crate) fn visit(
    path: &Path,
    text: &str,
    visitor: &mut dyn TableVisitor,
) -> Result<usize, InputError> {
    // Excel for Mac's "CSV (Macintosh)" ends lines with a bare CR; make them lines we can count.
    let text: Cow<'_, str> = if !text.contains('\n') && text.contains('\r') {
        Cow::Owned(text.replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    };
    visit_stream(path, &text, &mut std::io::empty(), visitor)
}

/// The bytes the CSV reader has been given and not yet parsed past: enough to see where a record
/// really starts (the csv crate reports the end of the previous record, before blank lines).
#[derive(Default)]
struct Window {
    /// Stream offset of `bytes[0]`.
    base: u64,
    bytes: Vec<u8>,
}

/// Passes the stream to the CSV reader and keeps a copy in the shared [`Window`].
struct Tap<R> {
    inner: R,
    window: Rc<RefCell<Window>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.window.borrow_mut().bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Physical line of the record whose parse started at stream offset `byte` on line `line`; bytes
/// before `byte` are no longer needed.
fn record_line_in(window: &RefCell<Window>, byte: u64, line: u64) -> u64 {
    let mut w = window.borrow_mut();
    let at = byte.saturating_sub(w.base) as usize;
    let found = record_line(&w.bytes, at, line);
    // Drop what was parsed, in bulk, so the copy stays amortised.
    if at > 1 << 20 {
        w.bytes.drain(..at);
        w.base += at as u64;
    }
    found
}

/// Read a decoded CSV and feed the visitor: `prefix` is the start of the text, at least as much as
/// [`super::stream::read_prefix`] reads (or all of it), `rest` the remainder. Bare-CR line ends
/// must already be LFs. Returns the number of data rows.
pub(crate) fn visit_stream(
    path: &Path,
    prefix: &str,
    rest: &mut dyn Read,
    visitor: &mut dyn TableVisitor,
) -> Result<usize, InputError> {
    let dialect = sniff(prefix);
    let window = Rc::new(RefCell::new(Window::default()));
    let body = Tap {
        inner: prefix.as_bytes()[dialect.body_start..].chain(rest),
        window: Rc::clone(&window),
    };
    let label = file_label(path);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(dialect.delimiter)
        .buffer_capacity(64 * 1024)
        .from_reader(body);
    let mut record = ::csv::StringRecord::new();
    let read_err = |e: ::csv::Error| {
        let (position, what) = match e.kind() {
            ::csv::ErrorKind::Io(io) => (None, format!("the file cannot be read: {io}")),
            _ => (e.position(), format!("the file cannot be read as CSV: {e}")),
        };
        InputError::new(
            path,
            position
                .map(|p| format!("line {}", p.line() + dialect.lines_before))
                .unwrap_or_default(),
            what,
            "export it again with Export-Csv, or save it from Excel as \"CSV UTF-8\"",
        )
    };
    // Header: the first record with any content.
    let header_line;
    loop {
        if !reader.read_record(&mut record).map_err(read_err)? {
            return Err(InputError::new(
                path,
                "",
                "the file has no header line and no rows",
                "export the users again, e.g. Get-ADUser -Filter * -Properties mail | Select-Object \
                 UserPrincipalName,ObjectGUID,mail | Export-Csv users.csv -NoTypeInformation",
            ));
        }
        if record.iter().any(|f| !f.trim().is_empty()) {
            let pos = record
                .position()
                .map(|p| (p.byte(), p.line()))
                .unwrap_or((0, 1));
            header_line = record_line_in(&window, pos.0, pos.1) + dialect.lines_before;
            break;
        }
    }
    let names: Vec<String> = record.iter().map(|s| s.trim().to_owned()).collect();
    let single_column = names.len() == 1;
    visitor
        .header(&Header {
            names,
            place: format!("line {header_line}"),
        })
        .map_err(|mut e| {
            if single_column {
                e.fix.push_str(
                    "; the header line has no `,` `;` or tab: if this is console output \
                     (Format-Table, Format-List, Out-File), export with Export-Csv instead",
                );
            }
            e
        })?;
    let mut rows = 0;
    while reader.read_record(&mut record).map_err(read_err)? {
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let pos = record
            .position()
            .map(|p| (p.byte(), p.line()))
            .unwrap_or((0, 1));
        let line = record_line_in(&window, pos.0, pos.1) + dialect.lines_before;
        let cells = record
            .iter()
            .map(|f| {
                if f.is_empty() {
                    Value::Empty
                } else {
                    Value::Text(Cow::Borrowed(f))
                }
            })
            .collect();
        rows += 1;
        visitor.row(Row {
            location: format!("{label}:{line}"),
            cells,
            fields: Some(record.len()),
            sheet_row: None,
            first_col: 0,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_and_sep_lines_are_skipped_and_counted() {
        let d = sniff("#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\nsep=;\r\n\"a\";\"b\"\r\n");
        assert_eq!(d.delimiter, b';');
        assert_eq!(d.lines_before, 2);
        let d = sniff("sep=,\n#TYPE X\na;b;c\n");
        assert_eq!((d.delimiter, d.lines_before), (b',', 2));
    }

    #[test]
    fn delimiter_is_sniffed_outside_quotes() {
        assert_eq!(sniff("\"a,b\";\"c\"\n").delimiter, b';');
        assert_eq!(sniff("a\tb\tc\n").delimiter, b'\t');
        assert_eq!(sniff("a,b\n").delimiter, b',');
        assert_eq!(sniff("single\n").delimiter, b',');
        assert_eq!(sniff("").delimiter, b',');
    }

    #[test]
    fn record_line_skips_blank_lines() {
        assert_eq!(record_line(b"\r\n\r\nx", 0, 3), 5);
        assert_eq!(record_line(b"x", 0, 3), 3);
    }
}
