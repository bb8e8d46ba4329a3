//! A parallel streaming reader for one worksheet's cells: one thread inflates the sheet XML and
//! cuts it into row-aligned chunks, worker threads parse the chunks, and the calling thread gets
//! the rows back in sheet order.
//!
//! calamine's cell reader parses on one thread, which is most of what reading back a
//! million-row plan costs. The small parts (workbook, relationships, shared strings, styles) are
//! read with quick-xml; the sheet's chunks with a hand-written scanner, since sheet data is a few
//! regular element kinds and a general parser's per-event cost dominated.
//!
//! This reader gives the same values as `Raw::from_data` over calamine's cells, and refuses
//! ([`Failure::Unsupported`]) whatever it does not fully understand, so the caller can read that
//! sheet again with calamine.

use super::reader::Raw;
use super::schema::cell_ref;
use crate::error::InputError;
use memchr::memmem;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::mpsc;

/// Why the fast path gave up: never shown to users, only logged, since calamine then reads the
/// sheet and reports any real problem in its own words.
#[derive(Debug)]
pub(super) enum Failure {
    Unsupported(String),
    Input(InputError),
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Self {
        Failure::Input(e)
    }
}

fn unsupported<T>(why: impl Into<String>) -> Result<T, String> {
    Err(why.into())
}

/// How the sheet is cut up; tests shrink the chunks so that small sheets span many of them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Options {
    /// Bytes of sheet XML per chunk (a chunk runs on to the next row end).
    pub chunk_bytes: usize,
    /// Parsing threads.
    pub workers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            // Large enough that per-chunk costs vanish, small enough that a few in flight per
            // worker stay well under the memory the rows themselves take.
            chunk_bytes: 4 << 20,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Cells right of the bound that held a value: counted, with the first and last position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Stray {
    pub count: usize,
    pub first: (u32, u32),
    pub last: (u32, u32),
}

impl Stray {
    fn add(&mut self, other: &Stray) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            self.first = other.first;
        }
        self.count += other.count;
        self.last = other.last;
    }

    fn note(&mut self, at: (u32, u32)) {
        if self.count == 0 {
            self.first = at;
        }
        self.count += 1;
        self.last = at;
    }

    /// The warning `parse_sheet` gives for the same cells.
    pub(super) fn warning(&self, sheet: &str) -> Option<String> {
        (self.count > 0).then(|| {
            format!(
                "{sheet}: ignored {} cell(s) right of the expected columns (first at {}, last at {})",
                self.count,
                cell_ref(sheet, self.first.0, self.first.1),
                cell_ref(sheet, self.last.0, self.last.1)
            )
        })
    }
}

/// What is read once per workbook: where each sheet lives, the shared strings, and which cell
/// styles make a number a date (calamine gives those as dates, which read back as text).
pub(super) struct Book {
    path: std::path::PathBuf,
    /// (sheet name, zip part).
    sheets: Vec<(String, String)>,
    strings: Vec<String>,
    date_styles: Vec<bool>,
}

type Zip = zip::ZipArchive<BufReader<File>>;

fn open_zip(path: &Path) -> Result<Zip, String> {
    let file = File::open(path).map_err(|e| format!("open: {e}"))?;
    zip::ZipArchive::new(BufReader::new(file)).map_err(|e| format!("zip: {e}"))
}

/// A small part as text; `None` when it is not in the archive.
fn read_part(zip: &mut Zip, name: &str) -> Result<Option<String>, String> {
    let mut entry = match zip.by_name(name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return unsupported(format!("{name}: {e}")),
    };
    let mut text = String::new();
    entry
        .read_to_string(&mut text)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(Some(text))
}

fn xml_error(e: quick_xml::Error) -> String {
    format!("xml: {e}")
}

/// The raw (still escaped) value of attribute `key` in a start tag's attribute text.
fn raw_attr<'a>(attrs: &'a str, key: &str) -> Result<Option<&'a str>, String> {
    let mut found = None;
    each_attr(attrs, |k, v| {
        if k == key && found.is_none() {
            found = Some(v);
        }
    })?;
    Ok(found)
}

/// Attributes by hand from the tag's text: quick-xml's attribute iterator is a visible share of
/// the cost at 15 million cells, and a cell only has `r`, `s` and `t` to look at.
fn each_attr<'a>(attrs: &'a str, mut f: impl FnMut(&'a str, &'a str)) -> Result<(), String> {
    let b = attrs.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            return Ok(());
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &attrs[key_start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() || b[i] != b'=' || key.is_empty() {
            return unsupported("malformed attribute");
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let Some(&quote) = b.get(i).filter(|q| **q == b'"' || **q == b'\'') else {
            return unsupported("malformed attribute");
        };
        let start = i + 1;
        let Some(len) = find_byte(quote, &b[start..]) else {
            return unsupported("malformed attribute");
        };
        f(key, &attrs[start..start + len]);
        i = start + len + 1;
    }
}

/// `memchr` for what is usually a few bytes away: a plain loop first, since most searches here
/// (the next tag, a quote, a name's colon) end within a handful of bytes and memchr's set-up
/// was a visible share of the parse.
#[inline]
fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    const NEAR: usize = 16;
    let near = hay.len().min(NEAR);
    if let Some(i) = hay[..near].iter().position(|b| *b == needle) {
        return Some(i);
    }
    if hay.len() > NEAR {
        memchr::memchr(needle, &hay[NEAR..]).map(|i| i + NEAR)
    } else {
        None
    }
}

fn local(name: &[u8]) -> &[u8] {
    match find_byte(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn local_start<'a>(e: &'a BytesStart<'_>) -> &'a [u8] {
    local(e.name().into_inner().as_bytes())
}

/// "C12" → (11, 2), as calamine reads a cell's `r` (letters in either case, then the row).
/// `None` for anything else, so such a sheet goes to calamine.
pub(super) fn parse_cell_ref(s: &[u8]) -> Option<(u32, u32)> {
    let letters = s.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let digits = &s[letters..];
    if letters == 0 || letters > 3 || digits.is_empty() || digits.len() > 9 {
        return None;
    }
    let mut col = 0u32;
    for &b in &s[..letters] {
        col = col * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1;
    }
    let mut row = 0u32;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        row = row * 10 + u32::from(b - b'0');
    }
    Some((row.checked_sub(1)?, col - 1))
}

/// Excel's `_xHHHH_` escapes (a UTF-16 unit each, so surrogate pairs come as two), undone as
/// calamine does: a lone surrogate becomes U+FFFD, `_x005F_` escapes a literal underscore.
pub(super) fn unescape_ooxml(s: &str) -> std::borrow::Cow<'_, str> {
    fn unit_at(s: &[u8], i: usize) -> Option<u16> {
        let e = s.get(i..i + 7)?;
        if e[0] != b'_' || e[1] != b'x' || e[6] != b'_' {
            return None;
        }
        let hex = std::str::from_utf8(&e[2..6]).ok()?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(hex, 16).ok()
    }
    let b = s.as_bytes();
    let find = |from: usize| -> Option<(usize, u16)> {
        let mut at = from;
        while let Some(off) = memchr::memchr(b'_', &b[at..]) {
            let i = at + off;
            if let Some(u) = unit_at(b, i) {
                return Some((i, u));
            }
            at = i + 1;
        }
        None
    };
    let Some((mut i, mut unit)) = find(0) else {
        return std::borrow::Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    loop {
        out.push_str(&s[copied..i]);
        i += 7;
        match unit {
            0xD800..=0xDBFF => match unit_at(b, i) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    let cp =
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    out.push(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER));
                    i += 7;
                }
                _ => out.push(char::REPLACEMENT_CHARACTER),
            },
            0xDC00..=0xDFFF => out.push(char::REPLACEMENT_CHARACTER),
            _ => out.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
        copied = i;
        match find(i) {
            Some(next) => (i, unit) = next,
            None => break,
        }
    }
    out.push_str(&s[copied..]);
    std::borrow::Cow::Owned(out)
}

/// A `<t>`'s text, just appended to `out` from `start`, as calamine keeps it: trimmed unless
/// `xml:space="preserve"`, then with `_xHHHH_` escapes undone.
fn finish_t(out: &mut String, start: usize, preserve: bool) {
    let text = &out[start..];
    let kept = if preserve {
        text
    } else {
        text.trim_matches([' ', '\t', '\r', '\n'])
    };
    let clean = unescape_ooxml(kept);
    if clean.len() != text.len() || matches!(clean, std::borrow::Cow::Owned(_)) {
        let clean = clean.into_owned();
        out.truncate(start);
        out.push_str(&clean);
    }
}

/// The text of an `<si>` or `<is>`, after its start tag, up to its end tag: every `<t>` outside
/// phonetic `<rPh>` runs, concatenated. Mirrors calamine, including trimming `<t>` text that is
/// not `xml:space="preserve"`.
fn read_rich(xml: &mut Reader<&[u8]>, closing: &[u8], out: &mut String) -> Result<(), String> {
    let mut phonetic = false;
    loop {
        match xml.read_event().map_err(xml_error)? {
            Event::Start(e) => match local_start(&e) {
                b"rPh" => phonetic = true,
                b"t" if !phonetic => {
                    let preserve = raw_attr(e.attributes_raw(), "xml:space")? == Some("preserve");
                    let name = e.name().into_inner();
                    // Straight into `out`: most texts need neither trimming nor unescaping, and
                    // this is one allocation fewer per text cell.
                    let start = out.len();
                    loop {
                        match xml.read_event().map_err(xml_error)? {
                            Event::Text(t) => out.push_str(&t.xml10_content()),
                            Event::CData(t) => out.push_str(&t.xml10_content()),
                            Event::GeneralRef(r) => push_entity_name(&r, out)?,
                            Event::End(end) if end.name().into_inner() == name => break,
                            Event::Eof => return unsupported("unclosed <t>"),
                            _ => {}
                        }
                    }
                    finish_t(out, start, preserve);
                }
                _ => {}
            },
            // An empty rPh opens and closes: not phonetic afterwards.
            Event::Empty(e) if local_start(&e) == b"rPh" => phonetic = false,
            Event::End(e) if local(e.name().into_inner().as_bytes()) == b"rPh" => phonetic = false,
            Event::End(e) if local(e.name().into_inner().as_bytes()) == closing => return Ok(()),
            Event::Eof => return unsupported("unclosed string"),
            _ => {}
        }
    }
}

/// The formats calamine treats as dates or durations (`CellFormat::DateTime`/`TimeDelta`).
fn builtin_is_date(id: &str) -> bool {
    matches!(
        id,
        "14" | "15"
            | "16"
            | "17"
            | "18"
            | "19"
            | "20"
            | "21"
            | "22"
            | "45"
            | "46"
            | "47"
            | "27"
            | "28"
            | "29"
            | "30"
            | "31"
            | "32"
            | "33"
            | "34"
            | "35"
            | "36"
            | "50"
            | "51"
            | "52"
            | "53"
            | "54"
            | "55"
            | "56"
            | "57"
            | "58"
    )
}

/// calamine's reading of a custom number format: date, time or duration, or not.
fn custom_is_date(format: &str) -> bool {
    let mut escaped = false;
    let mut is_quote = false;
    let mut brackets = 0u8;
    let mut prev = ' ';
    let mut hms = false;
    let mut ap = false;
    for s in format.chars() {
        match (s, escaped, is_quote, ap, brackets) {
            (_, true, ..) => escaped = false,
            ('_' | '\\' | '*', ..) => escaped = true,
            ('"', _, true, _, _) => is_quote = false,
            (_, _, true, _, _) => (),
            ('"', _, _, _, _) => is_quote = true,
            (';', ..) => return false,
            ('[', ..) => brackets += 1,
            (']', .., 1) if hms => return true,
            (']', ..) => brackets = brackets.saturating_sub(1),
            ('a' | 'A', _, _, false, 0) => ap = true,
            ('p' | 'm' | '/' | 'P' | 'M', _, _, true, 0) => return true,
            ('d' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S', _, _, false, 0) => {
                return true
            }
            _ => {
                if !(hms && s.eq_ignore_ascii_case(&prev)) {
                    hms = prev == '[' && matches!(s, 'm' | 'h' | 's' | 'M' | 'H' | 'S');
                }
            }
        }
        prev = s;
    }
    false
}

fn reader_for(text: &str, expand_empty: bool) -> Reader<&[u8]> {
    let mut xml = Reader::from_str(text);
    xml.config_mut().expand_empty_elements = expand_empty;
    xml
}

fn parse_styles(text: &str) -> Result<Vec<bool>, String> {
    let mut xml = reader_for(text, true);
    let mut formats = std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut in_xfs = false;
    loop {
        match xml.read_event().map_err(xml_error)? {
            Event::Start(e) => match local_start(&e) {
                b"numFmt" => {
                    let attrs = e.attributes_raw();
                    if let (Some(id), Some(code)) =
                        (raw_attr(attrs, "numFmtId")?, raw_attr(attrs, "formatCode")?)
                    {
                        let code = quick_xml::escape::unescape(code)
                            .map_err(|e| format!("formatCode: {e}"))?;
                        formats.insert(id.to_string(), custom_is_date(&code));
                    }
                }
                b"cellXfs" => in_xfs = true,
                b"xf" if in_xfs => {
                    let id = raw_attr(e.attributes_raw(), "numFmtId")?;
                    out.push(id.is_some_and(|id| {
                        formats
                            .get(id)
                            .copied()
                            .unwrap_or_else(|| builtin_is_date(id))
                    }));
                }
                _ => {}
            },
            Event::End(e) if local(e.name().into_inner().as_bytes()) == b"cellXfs" => {
                in_xfs = false
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

fn parse_shared_strings(text: &str) -> Result<Vec<String>, String> {
    let mut xml = reader_for(text, true);
    let mut out = Vec::new();
    loop {
        match xml.read_event().map_err(xml_error)? {
            Event::Start(e) if local_start(&e) == b"si" => {
                let mut s = String::new();
                read_rich(&mut xml, b"si", &mut s)?;
                out.push(s);
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

/// A relationship target as a zip part name ("worksheets/sheet1.xml" is relative to xl/).
fn part_name(target: &str) -> String {
    match target.strip_prefix('/') {
        Some(abs) => abs.to_string(),
        None => format!("xl/{target}"),
    }
}

impl Book {
    pub(super) fn open(path: &Path) -> Result<Book, String> {
        let mut zip = open_zip(path)?;
        // calamine finds parts whatever their case or slashes; a missing styles part here would
        // quietly turn its dates into numbers, so such a workbook is left to calamine.
        for name in zip.file_names() {
            let name = name.map_err(|e| format!("zip: {e}"))?;
            let plain = name.replace('\\', "/");
            let odd = ["xl/styles.xml", "xl/sharedStrings.xml", "xl/workbook.xml"]
                .iter()
                .any(|p| plain.eq_ignore_ascii_case(p) && name.as_ref() != *p);
            if odd {
                return unsupported(format!("part name {name:?}"));
            }
        }
        let rels = read_part(&mut zip, "xl/_rels/workbook.xml.rels")?
            .ok_or("no xl/_rels/workbook.xml.rels")?;
        let mut targets = std::collections::HashMap::new();
        let mut strings_part = None;
        let mut xml = reader_for(&rels, true);
        loop {
            match xml.read_event().map_err(xml_error)? {
                Event::Start(e) if local_start(&e) == b"Relationship" => {
                    let attrs = e.attributes_raw();
                    let id = raw_attr(attrs, "Id")?.unwrap_or_default();
                    let target = raw_attr(attrs, "Target")?.unwrap_or_default();
                    let typ = raw_attr(attrs, "Type")?.unwrap_or_default();
                    if typ.ends_with("/sharedStrings") {
                        strings_part = Some(part_name(target));
                    }
                    targets.insert(id.to_string(), (part_name(target), typ.to_string()));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        // calamine reads xl/sharedStrings.xml whatever the relationship says; a workbook whose
        // strings live elsewhere is left to it.
        if strings_part
            .as_deref()
            .is_some_and(|p| p != "xl/sharedStrings.xml")
        {
            return unsupported("shared strings outside xl/sharedStrings.xml");
        }
        let workbook = read_part(&mut zip, "xl/workbook.xml")?.ok_or("no xl/workbook.xml")?;
        let mut sheets = Vec::new();
        let mut xml = reader_for(&workbook, true);
        loop {
            match xml.read_event().map_err(xml_error)? {
                Event::Start(e) if local_start(&e) == b"sheet" => {
                    let mut name = None;
                    let mut rel = None;
                    each_attr(e.attributes_raw(), |k, v| {
                        if k == "name" {
                            name = Some(v);
                        } else if local(k.as_bytes()) == b"id" {
                            rel = Some(v);
                        }
                    })?;
                    let name = quick_xml::escape::unescape(name.ok_or("sheet without a name")?)
                        .map_err(|e| format!("sheet name: {e}"))?;
                    let (part, typ) = targets
                        .get(rel.ok_or("sheet without r:id")?)
                        .ok_or("sheet relationship not found")?;
                    if typ.ends_with("/worksheet") {
                        sheets.push((name.into_owned(), part.clone()));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let strings = match read_part(&mut zip, "xl/sharedStrings.xml")? {
            Some(text) => parse_shared_strings(&text)?,
            None => Vec::new(),
        };
        let date_styles = match read_part(&mut zip, "xl/styles.xml")? {
            Some(text) => parse_styles(&text)?,
            None => Vec::new(),
        };
        Ok(Book {
            path: path.to_path_buf(),
            sheets,
            strings,
            date_styles,
        })
    }

    /// Stream `sheet` row by row in sheet order, as `stream_sheet` in reader.rs does: `each_row`
    /// gets each row's index and its non-empty cells left of `bound`; cells at or right of it are
    /// only counted. An error from `each_row` stops the read and comes back as
    /// [`Failure::Input`]; rows may have been delivered before a [`Failure::Unsupported`].
    pub(super) fn stream_sheet(
        &self,
        sheet: &str,
        bound: u32,
        opts: Options,
        mut each_row: impl FnMut(u32, &mut Vec<(u32, Raw)>) -> Result<(), InputError>,
    ) -> Result<Stray, Failure> {
        let part = self
            .sheets
            .iter()
            .find(|(n, _)| n == sheet)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Failure::Unsupported(format!("no worksheet {sheet:?}")))?;
        let zip = open_zip(&self.path).map_err(Failure::Unsupported)?;
        let workers = opts.workers.max(1);
        // Chunks in flight (being filled, queued, parsed, or parsed but waiting for an earlier
        // one): the buffers go round, so memory stays bounded and is not reallocated per chunk.
        let in_flight = workers * 2 + 2;
        let ctx = ParseCtx {
            strings: &self.strings,
            date_styles: &self.date_styles,
            bound,
        };
        let (chunk_tx, chunk_rx) = mpsc::channel::<(u64, Vec<u8>)>();
        let chunk_rx = std::sync::Mutex::new(chunk_rx);
        let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
        let (done_tx, done_rx) = mpsc::channel::<(u64, Result<Parsed, String>)>();
        std::thread::scope(|scope| {
            let inflater = scope.spawn(move || {
                inflate(zip, &part, opts.chunk_bytes, in_flight, &chunk_tx, &free_rx)
            });
            let mut parsers = Vec::with_capacity(workers);
            for _ in 0..workers {
                let done_tx = done_tx.clone();
                let chunk_rx = &chunk_rx;
                let ctx = &ctx;
                parsers.push(scope.spawn(move || loop {
                    let next = match chunk_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, chunk)) = next else { return };
                    // A parser that panicked would leave its chunk missing and the reader
                    // waiting for it; a bug here should cost speed (calamine reads the sheet),
                    // not hang the run.
                    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        parse_chunk(ctx, chunk)
                    }))
                    .unwrap_or_else(|_| unsupported("the chunk parser panicked"));
                    if done_tx.send((seq, parsed)).is_err() {
                        return;
                    }
                }));
            }
            drop(done_tx);

            let result = deliver(&done_rx, &free_tx, &mut each_row);
            // Hanging up stops the inflater (waiting for a free buffer) and, through it, the
            // parsers (waiting for chunks).
            drop(free_tx);
            drop(done_rx);
            for p in parsers {
                p.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            }
            let inflated = inflater
                .join()
                .unwrap_or_else(|_| unsupported("the inflater panicked"));
            let (delivered, stray) = result?;
            match inflated {
                Ok(chunks) if chunks == delivered => Ok(stray),
                Ok(_) => Err(Failure::Unsupported("chunks went missing".into())),
                Err(why) => Err(Failure::Unsupported(why)),
            }
        })
    }
}

/// The rows of one chunk, in document order, grouped as `parse_sheet` groups calamine's cells.
struct Parsed {
    /// (row, how many cells) per group of consecutive cells on the same row.
    rows: Vec<(u32, u32)>,
    cells: Vec<(u32, Raw)>,
    stray: Stray,
    /// The chunk's buffer, handed back to the inflater once the rows are delivered.
    buffer: Vec<u8>,
}

/// Hand chunks' rows to `each_row` in sequence order; returns how many chunks were delivered.
fn deliver(
    done_rx: &mpsc::Receiver<(u64, Result<Parsed, String>)>,
    free_tx: &mpsc::Sender<Vec<u8>>,
    each_row: &mut impl FnMut(u32, &mut Vec<(u32, Raw)>) -> Result<(), InputError>,
) -> Result<(u64, Stray), Failure> {
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    let mut stray = Stray::default();
    let mut last_row: Option<u32> = None;
    let mut row_cells = Vec::new();
    for (seq, parsed) in done_rx.iter() {
        pending.insert(seq, parsed);
        while let Some(parsed) = pending.remove(&next) {
            let parsed = parsed.map_err(Failure::Unsupported)?;
            next += 1;
            stray.add(&parsed.stray);
            if let (Some(prev), Some((first, _))) = (last_row, parsed.rows.first()) {
                // calamine would have run these two groups together into one row.
                if prev == *first {
                    return Err(Failure::Unsupported(format!(
                        "row {} continues across chunks",
                        first + 1
                    )));
                }
            }
            let mut cells = parsed.cells.into_iter();
            for &(row, n) in &parsed.rows {
                row_cells.clear();
                row_cells.extend(cells.by_ref().take(n as usize));
                each_row(row, &mut row_cells)?;
            }
            if let Some((r, _)) = parsed.rows.last() {
                last_row = Some(*r);
            }
            // The inflater may be gone already (it finished); then the buffer is simply freed.
            let _ = free_tx.send(parsed.buffer);
        }
    }
    // Chunks still pending (or never parsed) only when the inflater stopped early; the caller
    // compares the count with the inflater's and takes its error.
    Ok((next, stray))
}

/// Read more of `entry` into `buf` until `find` finds what it looks for; its position, or
/// `None` at the end of the entry. The whole buffer is searched each time, so a tag split
/// between two reads is found once complete (this only reads the sheet's head, a few KB).
fn fill_until(
    entry: &mut impl Read,
    buf: &mut Vec<u8>,
    find: impl Fn(&[u8]) -> Option<usize>,
    step: usize,
) -> Result<Option<usize>, String> {
    loop {
        if let Some(i) = find(buf) {
            return Ok(Some(i));
        }
        let n = entry
            .by_ref()
            .take(step as u64)
            .read_to_end(buf)
            .map_err(|e| format!("inflate: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
    }
}

/// Where the `<sheetData ...>` start tag is, as (tag start, just after its `>`, self-closing).
fn find_sheet_data_start(buf: &[u8]) -> Option<(usize, usize, bool)> {
    for at in memmem::find_iter(buf, b"sheetData") {
        let open = match at.checked_sub(1).map(|i| buf[i]) {
            Some(b'<') => at - 1,
            Some(b':') => {
                let name_start = buf[..at - 1]
                    .iter()
                    .rposition(|b| !is_name_byte(*b))
                    .map_or(0, |i| i + 1);
                if name_start == 0 || buf[name_start - 1] != b'<' || name_start == at - 1 {
                    continue;
                }
                name_start - 1
            }
            _ => continue,
        };
        let after = at + b"sheetData".len();
        match buf.get(after) {
            Some(b) if b.is_ascii_whitespace() || *b == b'>' || *b == b'/' => {}
            _ => continue,
        }
        let close = memchr::memchr(b'>', &buf[after..])? + after;
        let self_closing = buf[close - 1] == b'/';
        return Some((open, close + 1, self_closing));
    }
    None
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Whether the `row>` at `at` closes a `</row>` or `</prefix:row>` end tag.
fn is_row_end(buf: &[u8], at: usize) -> bool {
    let before = &buf[..at];
    if before.ends_with(b"</") {
        return true;
    }
    if !before.ends_with(b":") {
        return false;
    }
    let name = &before[..before.len() - 1];
    let start = name
        .iter()
        .rposition(|b| !is_name_byte(*b))
        .map_or(0, |i| i + 1);
    start > 0 && start < name.len() && name[..start].ends_with(b"</")
}

/// Just after the last `</row>` or `</prefix:row>` end tag in `buf`.
pub(super) fn last_row_end(buf: &[u8]) -> Option<usize> {
    memmem::rfind_iter(buf, b"row>")
        .find(|at| is_row_end(buf, *at))
        .map(|at| at + 4)
}

/// Where to end a chunk: after the first row end past `size` bytes, so a buffer holding many
/// chunks' worth (the first read, or tiny chunks in tests) is still cut small; else after the
/// last row end.
fn chunk_end(buf: &[u8], size: usize) -> Option<usize> {
    let from = size.saturating_sub(4).min(buf.len());
    memmem::find_iter(&buf[from..], b"row>")
        .map(|i| from + i)
        .find(|at| is_row_end(buf, *at))
        .map(|at| at + 4)
        .or_else(|| last_row_end(buf))
}

/// Where `</sheetData>` (or a prefixed one) starts in `buf`.
fn sheet_data_end(buf: &[u8]) -> Option<usize> {
    for at in memmem::find_iter(buf, b"sheetData>") {
        let before = &buf[..at];
        if before.ends_with(b"</") {
            return Some(at - 2);
        }
        if before.ends_with(b":") {
            let name = &before[..before.len() - 1];
            let start = name
                .iter()
                .rposition(|b| !is_name_byte(*b))
                .map_or(0, |i| i + 1);
            if start >= 2 && start < name.len() && name[..start].ends_with(b"</") {
                return Some(start - 2);
            }
        }
    }
    None
}

/// Inflate the sheet part and send the inside of `<sheetData>` as chunks that end right after a
/// row's end tag. Returns how many chunks were sent.
fn inflate(
    mut zip: Zip,
    part: &str,
    chunk_bytes: usize,
    in_flight: usize,
    chunk_tx: &mpsc::Sender<(u64, Vec<u8>)>,
    free_rx: &mpsc::Receiver<Vec<u8>>,
) -> Result<u64, String> {
    let chunk_bytes = chunk_bytes.max(1);
    let mut entry = zip.by_name(part).map_err(|e| format!("{part}: {e}"))?;
    let mut head = Vec::new();
    let start = fill_until(
        &mut entry,
        &mut head,
        |b| {
            find_sheet_data_start(b)
                .map(|(open, _, _)| open)
                .filter(|open| memchr::memchr(b'>', &b[*open..]).is_some())
        },
        64 << 10,
    )?;
    let Some(start) = start else {
        return unsupported("no <sheetData>");
    };
    let (_, content, self_closing) =
        find_sheet_data_start(&head[start..]).ok_or("no <sheetData>")?;
    if self_closing {
        return Ok(0);
    }
    let mut carry = head.split_off(start + content);
    drop(head);
    let mut allocated = 0;
    let mut seq = 0u64;
    loop {
        let mut buf = if allocated < in_flight {
            allocated += 1;
            Vec::with_capacity(chunk_bytes + chunk_bytes / 4 + 4096)
        } else {
            match free_rx.recv() {
                Ok(b) => b,
                // The reader stopped; whatever it stopped on is the answer.
                Err(_) => return Ok(seq),
            }
        };
        buf.clear();
        buf.extend_from_slice(&carry);
        carry.clear();
        let want = chunk_bytes.saturating_sub(buf.len());
        let mut eof = false;
        if want > 0 {
            let n = entry
                .by_ref()
                .take(want as u64)
                .read_to_end(&mut buf)
                .map_err(|e| format!("inflate: {e}"))?;
            eof = n < want;
        }
        // Rows end where the last row end tag is; what follows goes with the next chunk. A row
        // longer than the chunk makes this chunk longer.
        let mut cut = chunk_end(&buf, chunk_bytes);
        while cut.is_none() && !eof && sheet_data_end(&buf).is_none() {
            if buf.len() > chunk_bytes.max(1 << 20) * 64 {
                return unsupported("a row too long to cut");
            }
            let n = entry
                .by_ref()
                .take(chunk_bytes as u64)
                .read_to_end(&mut buf)
                .map_err(|e| format!("inflate: {e}"))?;
            eof = n == 0;
            cut = chunk_end(&buf, chunk_bytes);
        }
        let cut = cut.unwrap_or(0);
        let end =
            sheet_data_end(&buf[cut..]).filter(|e| last_row_end(&buf[cut..cut + e]).is_none());
        if let Some(end) = end {
            buf.truncate(cut + end);
            if chunk_tx.send((seq, buf)).is_err() {
                return Ok(seq);
            }
            return Ok(seq + 1);
        }
        if cut == 0 {
            // Neither a row end nor the end of sheetData, and nothing more to read.
            return unsupported("no </sheetData>");
        }
        carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        if chunk_tx.send((seq, buf)).is_err() {
            return Ok(seq);
        }
        seq += 1;
    }
}

struct ParseCtx<'a> {
    strings: &'a [String],
    date_styles: &'a [bool],
    bound: u32,
}

fn parse_chunk(ctx: &ParseCtx<'_>, buffer: Vec<u8>) -> Result<Parsed, String> {
    // Generous guesses (a row is rarely under 200 bytes, a cell under 40) save regrowing.
    let mut parsed = Parsed {
        rows: Vec::with_capacity(buffer.len() / 200),
        cells: Vec::with_capacity(buffer.len() / 40),
        stray: Stray::default(),
        buffer: Vec::new(),
    };
    let text = std::str::from_utf8(&buffer).map_err(|e| format!("not UTF-8: {e}"))?;
    parse_rows(ctx, text, &mut parsed)?;
    parsed.buffer = buffer;
    Ok(parsed)
}

/// The cell's type attribute, checked once per cell.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CellType {
    Number,
    Shared,
    Bool,
    Error,
    Str,
    Date,
    Inline,
}

fn cell_type(t: Option<&str>) -> Result<CellType, String> {
    Ok(match t {
        None | Some("n") => CellType::Number,
        Some("s") => CellType::Shared,
        Some("b") => CellType::Bool,
        Some("e") => CellType::Error,
        Some("str") => CellType::Str,
        Some("d") => CellType::Date,
        Some("inlineStr") | Some("is") => CellType::Inline,
        Some(other) => return unsupported(format!("cell type {other:?}")),
    })
}

/// A number as calamine's float parser reads it; only the plain forms, anything fancier
/// (`+1`, `inf`, hex…) is left to calamine.
fn parse_number(v: &str) -> Option<f64> {
    let b = v.as_bytes();
    let plain = !b.is_empty()
        && b.iter().enumerate().all(|(i, c)| match c {
            b'0'..=b'9' | b'.' | b'e' | b'E' => true,
            b'-' => i == 0 || matches!(b[i - 1], b'e' | b'E'),
            b'+' => i > 0 && matches!(b[i - 1], b'e' | b'E'),
            _ => false,
        });
    if !plain {
        return None;
    }
    v.parse().ok()
}

/// One tag of a chunk.
enum Tag<'a> {
    Start {
        local: &'a [u8],
        attrs: &'a str,
        empty: bool,
    },
    End {
        local: &'a [u8],
    },
}

/// A hand-written cursor over a chunk of sheet XML. The sheet data is a few regular element
/// kinds, and a general XML parser's per-event costs were most of the parse: this scans with
/// `memchr` and refuses (so calamine reads the sheet) any comment, CDATA, processing instruction
/// or element it does not expect.
struct Scan<'a> {
    s: &'a str,
    i: usize,
}

fn is_name_byte_or_colon(b: u8) -> bool {
    is_name_byte(b) || b == b':' || b >= 0x80
}

impl<'a> Scan<'a> {
    /// The text up to the next tag, and that tag; `None` at the end of the chunk.
    fn next(&mut self) -> Result<Option<(&'a str, Tag<'a>)>, String> {
        let b = self.s.as_bytes();
        let Some(off) = find_byte(b'<', &b[self.i..]) else {
            self.i = b.len();
            return Ok(None);
        };
        let lt = self.i + off;
        let text = &self.s[self.i..lt];
        let mut i = lt + 1;
        let closing = b.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let name_start = i;
        while i < b.len() && is_name_byte_or_colon(b[i]) {
            i += 1;
        }
        let name = &b[name_start..i];
        if name.is_empty() || name[0].is_ascii_digit() || matches!(name[0], b'-' | b'.') {
            return unsupported("comment, CDATA, processing instruction or a stray '<'");
        }
        if closing {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if b.get(i) != Some(&b'>') {
                return unsupported("malformed end tag");
            }
            self.i = i + 1;
            return Ok(Some((text, Tag::End { local: local(name) })));
        }
        let attrs_start = i;
        // The tag ends at the first '>' outside a quoted value.
        loop {
            match b.get(i) {
                None => return unsupported("unclosed tag"),
                Some(b'>') => break,
                Some(&q @ (b'"' | b'\'')) => match find_byte(q, &b[i + 1..]) {
                    Some(o) => i += o + 2,
                    None => return unsupported("unclosed attribute value"),
                },
                Some(_) => i += 1,
            }
        }
        let empty = i > attrs_start && b[i - 1] == b'/';
        let attrs = &self.s[attrs_start..if empty { i - 1 } else { i }];
        self.i = i + 1;
        Ok(Some((
            text,
            Tag::Start {
                local: local(name),
                attrs,
                empty,
            },
        )))
    }

    /// The text of a leaf element whose start tag was just read, up to its end tag.
    fn leaf(&mut self, name: &[u8]) -> Result<&'a str, String> {
        match self.next()? {
            Some((text, Tag::End { local })) if local == name => Ok(text),
            _ => unsupported("an element inside a leaf element"),
        }
    }

    /// An `<is>`'s text, as [`read_rich`] reads it.
    fn rich(&mut self, out: &mut String) -> Result<(), String> {
        let mut phonetic = false;
        loop {
            let Some((_, tag)) = self.next()? else {
                return unsupported("unclosed <is>");
            };
            match tag {
                Tag::End { local: b"is" } => return Ok(()),
                Tag::End { local: b"rPh" } => phonetic = false,
                Tag::Start {
                    local: b"rPh",
                    empty,
                    ..
                } => phonetic = !empty,
                Tag::Start {
                    local: b"t",
                    attrs,
                    empty: false,
                } if !phonetic => {
                    let preserve = raw_attr(attrs, "xml:space")? == Some("preserve");
                    let raw = self.leaf(b"t")?;
                    let start = out.len();
                    push_text(raw, out)?;
                    finish_t(out, start, preserve);
                }
                // Runs, their properties and phonetic text hold no text of the string.
                _ => {}
            }
        }
    }
}

/// Element text as quick-xml gives it to calamine: entities resolved, line ends normalised.
fn push_text(raw: &str, out: &mut String) -> Result<(), String> {
    let b = raw.as_bytes();
    let mut last = 0;
    let mut i = 0;
    while let Some(off) = memchr::memchr2(b'&', b'\r', &b[i..]) {
        let at = i + off;
        out.push_str(&raw[last..at]);
        if b[at] == b'\r' {
            out.push('\n');
            i = at + 1;
            if b.get(i) == Some(&b'\n') {
                i += 1;
            }
        } else {
            let semi = memchr::memchr(b';', &b[at + 1..]).ok_or("'&' without ';'")? + at + 1;
            push_entity_name(&raw[at + 1..semi], out)?;
            i = semi + 1;
        }
        last = i;
    }
    out.push_str(&raw[last..]);
    Ok(())
}

/// `&amp;`, `&#10;`, … as calamine resolves them; anything else is not ours to guess.
fn push_entity_name(name: &str, out: &mut String) -> Result<(), String> {
    if let Some(s) = quick_xml::escape::resolve_xml_entity(name) {
        out.push_str(s);
        return Ok(());
    }
    // quick-xml's character references: no sign, not NUL, a valid char.
    let c = name.strip_prefix('#').and_then(|num| {
        let (digits, radix) = match num.strip_prefix('x') {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        if digits.starts_with(['+', '-']) {
            return None;
        }
        u32::from_str_radix(digits, radix)
            .ok()
            .filter(|c| *c != 0)
            .and_then(char::from_u32)
    });
    match c {
        Some(c) => {
            out.push(c);
            Ok(())
        }
        None => unsupported(format!("entity &{name};")),
    }
}

fn parse_rows(ctx: &ParseCtx<'_>, text: &str, out: &mut Parsed) -> Result<(), String> {
    let mut scan = Scan { s: text, i: 0 };
    let mut in_row = false;
    let mut current: Option<u32> = None;
    let mut group_start = 0usize;
    let mut value_text = String::new();
    while let Some((_, tag)) = scan.next()? {
        let (attrs, empty) = match tag {
            Tag::End { local: b"row" } if in_row => {
                in_row = false;
                continue;
            }
            Tag::Start {
                local: b"row",
                empty,
                ..
            } if !in_row => {
                in_row = !empty;
                continue;
            }
            Tag::Start {
                local: b"c",
                attrs,
                empty,
            } if in_row => (attrs, empty),
            _ => return unsupported("unexpected element in sheetData"),
        };
        let mut r = None;
        let mut s = None;
        let mut t = None;
        each_attr(attrs, |k, v| match k {
            "r" => r = Some(v),
            "s" => s = Some(v),
            "t" => t = Some(v),
            _ => {}
        })?;
        let (row, col) = r
            .and_then(|r| parse_cell_ref(r.as_bytes()))
            .ok_or("cell without a usable r")?;
        let typ = cell_type(t)?;
        // As in calamine, each child sets the value: the last one wins, `<f>` clears it.
        let mut value = None;
        if !empty {
            loop {
                let Some((_, tag)) = scan.next()? else {
                    return unsupported("chunk ends inside a cell");
                };
                let Tag::Start {
                    local: child,
                    empty: child_empty,
                    ..
                } = tag
                else {
                    match tag {
                        Tag::End { local: b"c" } => break,
                        _ => return unsupported("unexpected end tag in a cell"),
                    }
                };
                let raw = if child_empty || child == b"is" {
                    ""
                } else {
                    scan.leaf(child)?
                };
                value = match child {
                    b"f" => None,
                    b"is" => {
                        let mut s = String::new();
                        if !child_empty {
                            scan.rich(&mut s)?;
                        }
                        (!s.is_empty()).then_some(Raw::Text(s))
                    }
                    b"v" => match typ {
                        CellType::Inline => None,
                        CellType::Str | CellType::Date => {
                            value_text.clear();
                            push_text(raw, &mut value_text)?;
                            if typ == CellType::Date {
                                Some(Raw::Odd(value_text.clone()))
                            } else {
                                let s = unescape_ooxml(&value_text);
                                (!s.is_empty()).then(|| Raw::Text(s.into_owned()))
                            }
                        }
                        _ if raw.is_empty() => None,
                        // calamine reads these from the raw text, up to the first entity.
                        _ if raw.contains('&') => return unsupported("an entity in a <v>"),
                        _ => plain_value(ctx, typ, s, raw)?,
                    },
                    _ => return unsupported("unexpected element in a cell"),
                };
            }
        }
        if col >= ctx.bound {
            if value.is_some() {
                out.stray.note((row, col));
            }
            continue;
        }
        if current != Some(row) {
            if let Some(prev) = current {
                out.rows
                    .push((prev, (out.cells.len() - group_start) as u32));
                group_start = out.cells.len();
            }
            current = Some(row);
        }
        if let Some(v) = value {
            out.cells.push((col, v));
        }
    }
    if in_row {
        return unsupported("chunk ends inside a row");
    }
    if let Some(prev) = current {
        out.rows
            .push((prev, (out.cells.len() - group_start) as u32));
    }
    Ok(())
}

/// A `<v>` of a number, shared string, boolean or error cell, as calamine maps it.
fn plain_value(
    ctx: &ParseCtx<'_>,
    typ: CellType,
    style: Option<&str>,
    v: &str,
) -> Result<Option<Raw>, String> {
    Ok(match typ {
        CellType::Shared => {
            let idx: usize = v.parse().map_err(|_| "shared string index")?;
            if !v.bytes().all(|b| b.is_ascii_digit()) {
                return unsupported("shared string index");
            }
            let s = ctx.strings.get(idx).ok_or("shared string index")?;
            (!s.is_empty()).then(|| Raw::Text(s.clone()))
        }
        CellType::Bool => match v.trim() {
            "" => None,
            "0" => Some(Raw::Bool(false)),
            "1" => Some(Raw::Bool(true)),
            t if t.eq_ignore_ascii_case("false") => Some(Raw::Bool(false)),
            t if t.eq_ignore_ascii_case("true") => Some(Raw::Bool(true)),
            _ => return unsupported("boolean value"),
        },
        CellType::Error => match v {
            "#DIV/0!" | "#N/A" | "#NAME?" | "#NULL!" | "#NUM!" | "#REF!" | "#VALUE!" => {
                Some(Raw::Odd(v.to_string()))
            }
            _ => return unsupported("error value"),
        },
        _ => match parse_number(v) {
            Some(f) => {
                let date = match style {
                    None => false,
                    Some(s) => {
                        if !s.bytes().all(|b| b.is_ascii_digit()) || s.is_empty() {
                            return unsupported("style index");
                        }
                        let i: usize = s.parse().map_err(|_| "style index")?;
                        ctx.date_styles.get(i).copied().unwrap_or(false)
                    }
                };
                Some(if date {
                    Raw::Odd(format!("{f}"))
                } else {
                    Raw::Number(f)
                })
            }
            // calamine's float parser takes more forms than the plain ones above, and without a
            // type gives text for what it cannot read; which of the two it is, is its call.
            None => return unsupported("number value"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{open_workbook, Xlsx};
    use proptest::prelude::*;
    use rust_xlsxwriter::{Format, Formula, Workbook, Worksheet};
    use std::io::Write;

    type Rows = Vec<(u32, Vec<(u32, Raw)>)>;

    /// Small chunks and more workers than cores, so rows cross many chunk ends and come back
    /// out of order before they are put back in order.
    const SMALL: Options = Options {
        chunk_bytes: 300,
        workers: 3,
    };

    fn fast(
        path: &Path,
        sheet: &str,
        bound: u32,
        opts: Options,
    ) -> Result<(Rows, Option<String>), Failure> {
        let book = Book::open(path).map_err(Failure::Unsupported)?;
        let mut rows = Vec::new();
        let stray = book.stream_sheet(sheet, bound, opts, |r, cells| {
            rows.push((r, std::mem::take(cells)));
            Ok(())
        })?;
        Ok((rows, stray.warning(sheet)))
    }

    fn slow(path: &Path, sheet: &str, bound: u32) -> (Rows, Option<String>) {
        let mut xlsx: Xlsx<_> = open_workbook(path).expect("calamine opens the workbook");
        let mut rows = Vec::new();
        let stray =
            super::super::reader::stream_sheet(&mut xlsx, path, sheet, bound, |r, cells| {
                rows.push((r, std::mem::take(cells)));
                Ok(())
            })
            .expect("calamine reads the sheet");
        (rows, stray)
    }

    fn assert_same(path: &Path, sheet: &str, bound: u32) -> usize {
        let expected = slow(path, sheet, bound);
        for opts in [
            SMALL,
            Options {
                chunk_bytes: 1,
                workers: 2,
            },
            Options::default(),
        ] {
            let got = fast(path, sheet, bound, opts).expect("the fast reader reads the sheet");
            assert_eq!(got.1, expected.1, "stray warning, {opts:?}");
            assert_eq!(got.0.len(), expected.0.len(), "rows, {opts:?}");
            for (g, e) in got.0.iter().zip(&expected.0) {
                assert_eq!(g, e, "{opts:?}");
            }
        }
        expected.0.len()
    }

    const TEXTS: &[&str] = &[
        "plain",
        "a&b<c>d\"e'f",
        "  leading and trailing  ",
        "\ttab",
        "line\nbreak",
        "cr\r\nlf",
        "_x000D_ literal escape",
        "_x005F_ and _xD83D__xDE00_",
        "Zoë Ünïcødé 日本語 😀",
        "=1+1",
        "+abc",
        "-1",
        "123",
        "1e5",
        "TRUE",
        "#N/A",
        "",
        " ",
    ];

    fn fill(ws: &mut Worksheet, rows: u32) -> Result<(), rust_xlsxwriter::XlsxError> {
        ws.set_name("Plan")?;
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let text = Format::new().set_num_format("@");
        for r in 0..rows {
            let t = TEXTS[r as usize % TEXTS.len()];
            ws.write_string(r, 0, t)?;
            ws.write_string_with_format(r, 1, format!("{t}#{r}"), &text)?;
            ws.write_number(r, 2, f64::from(r) * 1.5 - 7.25)?;
            ws.write_boolean(r, 3, r % 2 == 0)?;
            if r % 3 == 0 {
                ws.write_blank(r, 4, &text)?;
            }
            ws.write_formula(
                r,
                5,
                Formula::new("=\"a\"&\"b\"").set_result(format!("res {t}")),
            )?;
            ws.write_formula(r, 6, Formula::new("=1+1").set_result("2"))?;
            ws.write_formula(r, 7, Formula::new("=NA()").set_result("#N/A"))?;
            ws.write_formula(r, 8, Formula::new("=1=1").set_result("TRUE"))?;
            ws.write_number_with_format(r, 9, 45000.5 + f64::from(r), &date)?;
            ws.write_number(r, 10, 1e20 + f64::from(r))?;
            if r % 5 == 0 {
                // Stray cells: right of the bound, counted only.
                ws.write_string(r, 30, "stray")?;
                ws.write_number(r, 40, 1.0)?;
            }
            if r % 7 == 0 {
                ws.write_string(r + 1, 15, t)?;
            }
        }
        Ok(())
    }

    fn workbook(dir: &Path, constant_memory: bool, rows: u32) -> std::path::PathBuf {
        let path = dir.join(format!("oracle-{constant_memory}.xlsx"));
        let mut wb = Workbook::new();
        wb.add_worksheet().set_name("First").expect("name");
        if constant_memory {
            let ws = wb.add_worksheet_with_constant_memory().expect("worksheet");
            fill(ws, rows).expect("fill");
        } else {
            fill(wb.add_worksheet(), rows).expect("fill");
        }
        wb.save(&path).expect("save");
        path
    }

    #[test]
    fn both_readers_agree_with_shared_strings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = workbook(dir.path(), false, 300);
        assert!(assert_same(&path, "Plan", 20) > 250);
    }

    #[test]
    fn both_readers_agree_with_inline_strings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = workbook(dir.path(), true, 300);
        assert!(assert_same(&path, "Plan", 20) > 250);
        // A bound inside the used columns makes more of them stray.
        assert_same(&path, "Plan", 3);
    }

    fn write_zip(path: &Path, parts: &[(&str, &str)]) {
        let file = File::create(path).expect("create");
        let mut zip = zip::ZipWriter::new(file);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in parts {
            zip.start_file(*name, opts).expect("start");
            zip.write_all(text.as_bytes()).expect("write");
        }
        zip.finish().expect("finish");
    }

    const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#;
    const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<x:workbook xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><x:sheets><x:sheet name="Plan" sheetId="1" r:id="rId7"/></x:sheets></x:workbook>"#;
    const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId8" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="/xl/sharedStrings.xml"/><Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/sheet1.xml"/><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;
    const SHARED: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<x:sst xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="4" uniqueCount="4"><x:si><x:t>Row id</x:t></x:si><x:si><x:r><x:rPr><x:b/></x:rPr><x:t xml:space="preserve">bold </x:t></x:r><x:r><x:t>and plain</x:t></x:r><x:rPh sb="0" eb="1"><x:t>ふりがな</x:t></x:rPh></x:si><x:si><x:t>  trimmed &amp; _x0041_  </x:t></x:si><x:si><x:t/></x:si></x:sst>"#;
    const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<x:styleSheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:numFmts count="1"><x:numFmt numFmtId="164" formatCode="dd/mm/yyyy&quot;!&quot;"/></x:numFmts><x:cellXfs count="3"><x:xf numFmtId="0"/><x:xf numFmtId="164"/><x:xf numFmtId="14"/></x:cellXfs></x:styleSheet>"#;

    fn excel_like_sheet(rows: u32) -> String {
        let mut s = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:dimension ref="A1:Q9"/><x:sheetViews><x:sheetView workbookViewId="0"/></x:sheetViews><x:sheetData>"#,
        );
        for r in 1..=rows {
            s.push_str(&format!(
                "<x:row r=\"{r}\" spans=\"1:17\" x14ac:dyDescent=\"0.25\">\
                 <x:c r=\"A{r}\" t=\"s\"><x:v>{}</x:v></x:c>\
                 <x:c r=\"B{r}\"><x:v>{r}.25</x:v></x:c>\
                 <x:c r=\"C{r}\" s=\"1\"><x:v>45000</x:v></x:c>\
                 <x:c r=\"D{r}\" s=\"2\"><x:v>1E+20</x:v></x:c>\
                 <x:c r=\"E{r}\" t=\"b\"><x:v>0</x:v></x:c>\
                 <x:c r=\"F{r}\" t=\"e\"><x:v>#REF!</x:v></x:c>\
                 <x:c r=\"G{r}\" t=\"str\"><x:f>A1&amp;\"x\"</x:f><x:v>a &lt;b&gt; _x000D_</x:v></x:c>\
                 <x:c r=\"H{r}\" t=\"inlineStr\"><x:is><x:t xml:space=\"preserve\"> in&#x20AC;line&#10;</x:t></x:is></x:c>\
                 <x:c r=\"I{r}\" s=\"0\"/>\
                 <x:c r=\"J{r}\" t=\"d\"><x:v>2024-01-02T03:04:05</x:v></x:c>\
                 <x:c r=\"Q{r}\" t=\"s\"><x:v>0</x:v></x:c>\
                 </x:row>\n",
                r % 4
            ));
        }
        s.push_str("</x:sheetData><x:pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" bottom=\"0.75\" header=\"0.3\" footer=\"0.3\"/></x:worksheet>");
        s
    }

    fn excel_like(path: &Path, sheet: &str) {
        write_zip(
            path,
            &[
                ("[Content_Types].xml", CONTENT_TYPES),
                ("_rels/.rels", ROOT_RELS),
                ("xl/workbook.xml", WORKBOOK),
                ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                ("xl/sharedStrings.xml", SHARED),
                ("xl/styles.xml", STYLES),
                ("xl/worksheets/sheet1.xml", sheet),
            ],
        );
    }

    #[test]
    fn a_workbook_saved_like_excel_reads_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("excel.xlsx");
        excel_like(&path, &excel_like_sheet(60));
        assert_eq!(assert_same(&path, "Plan", 12), 60);
        let (rows, stray) = fast(&path, "Plan", 12, SMALL).expect("fast");
        assert_eq!(
            stray.as_deref(),
            Some("Plan: ignored 60 cell(s) right of the expected columns (first at Plan!Q1, last at Plan!Q60)")
        );
        let (r, cells) = &rows[0];
        assert_eq!(*r, 0);
        assert_eq!(
            cells,
            &vec![
                (0, Raw::Text("bold and plain".into())),
                (1, Raw::Number(1.25)),
                (2, Raw::Odd("45000".into())),
                (3, Raw::Odd("100000000000000000000".into())),
                (4, Raw::Bool(false)),
                (5, Raw::Odd("#REF!".into())),
                (6, Raw::Text("a <b> \r".into())),
                (7, Raw::Text(" in€line\n".into())),
                (9, Raw::Odd("2024-01-02T03:04:05".into())),
            ]
        );
        assert_eq!(rows[1].1[0], (0, Raw::Text("trimmed & A".into())));
        // An empty shared string is no cell.
        assert_eq!(rows[2].1[0], (1, Raw::Number(3.25)));
    }

    #[test]
    fn shared_strings_join_rich_runs_and_skip_phonetic_ones() {
        let strings = parse_shared_strings(SHARED).expect("parse");
        assert_eq!(strings, vec!["Row id", "bold and plain", "trimmed & A", ""]);
        let plain = parse_shared_strings(
            "<sst><si><t>a</t><rPh><t>x</t></rPh><t>b</t></si><si><r><t>c</t></r><r><t xml:space=\"preserve\"> d</t></r></si></sst>",
        )
        .expect("parse");
        assert_eq!(plain, vec!["ab", "c d"]);
    }

    #[test]
    fn cell_references_read_as_calamine_reads_them() {
        assert_eq!(parse_cell_ref(b"A1"), Some((0, 0)));
        assert_eq!(parse_cell_ref(b"C12"), Some((11, 2)));
        assert_eq!(parse_cell_ref(b"AA10"), Some((9, 26)));
        assert_eq!(parse_cell_ref(b"xfd1048576"), Some((1_048_575, 16_383)));
        for bad in ["", "A", "1", "1A", "A0", "$A$1", "ABCD1", "A1B", "A-1"] {
            assert_eq!(parse_cell_ref(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn entities_and_excel_escapes_are_undone() {
        assert_eq!(unescape_ooxml("a_x000D_b"), "a\rb");
        assert_eq!(unescape_ooxml("_x005F_x000D_"), "_x000D_");
        assert_eq!(unescape_ooxml("_xD83D__xDE00_"), "😀");
        assert_eq!(unescape_ooxml("_xD83D_x"), "\u{FFFD}x");
        assert_eq!(unescape_ooxml("_x00zz_ _x41_ no"), "_x00zz_ _x41_ no");
        let ctx = ParseCtx {
            strings: &[],
            date_styles: &[],
            bound: 10,
        };
        let mut parsed = Parsed {
            rows: Vec::new(),
            cells: Vec::new(),
            stray: Stray::default(),
            buffer: Vec::new(),
        };
        parse_rows(
            &ctx,
            "<row><c r=\"A1\" t=\"inlineStr\"><is><t>a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42;_x0043_</t></is></c>\
             <c r=\"B1\" t=\"str\"><v>&#x1F600;</v></c></row>",
            &mut parsed,
        )
        .expect("parse");
        assert_eq!(
            parsed.cells,
            vec![
                (0, Raw::Text("a&b<>\"'ABC".into())),
                (1, Raw::Text("😀".into()))
            ]
        );
        let mut out = String::new();
        let unknown = parse_rows(
            &ctx,
            "<row><c r=\"A1\" t=\"str\"><v>&nbsp;</v></c></row>",
            &mut parsed,
        );
        assert!(unknown.is_err());
        assert!(push_entity_name("#0", &mut out).is_err());
    }

    #[test]
    fn row_ends_are_found_with_and_without_a_prefix() {
        assert_eq!(last_row_end(b"<row><c/></row><row>"), Some(15));
        assert_eq!(last_row_end(b"<x:row></x:row>  "), Some(15));
        assert_eq!(last_row_end(b"<row>arrow></row"), None);
        assert_eq!(last_row_end(b"text:row> </ :row>"), None);
        assert_eq!(
            sheet_data_end(b"</row></x:sheetData></x:worksheet>"),
            Some(6)
        );
        assert_eq!(sheet_data_end(b"</row></sheetData>"), Some(6));
        assert_eq!(
            find_sheet_data_start(b"<x:sheetPr/><x:sheetData><x:row>"),
            Some((12, 25, false))
        );
        assert_eq!(find_sheet_data_start(b"<sheetData/>"), Some((0, 12, true)));
    }

    /// The inflater's chunks, joined, are exactly the inside of `<sheetData>`, and each ends
    /// right after a row.
    fn chunks_of(sheet: &str, chunk_bytes: usize) -> Vec<Vec<u8>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("chunks.xlsx");
        excel_like(&path, sheet);
        let zip = open_zip(&path).expect("zip");
        let (chunk_tx, chunk_rx) = mpsc::channel();
        let (free_tx, free_rx) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            inflate(
                zip,
                "xl/worksheets/sheet1.xml",
                chunk_bytes,
                2,
                &chunk_tx,
                &free_rx,
            )
        });
        let mut chunks = Vec::new();
        for (seq, chunk) in chunk_rx.iter() {
            assert_eq!(seq, chunks.len() as u64);
            chunks.push(chunk);
            // Once the last chunk is out the inflater is gone; nothing to hand back then.
            let _ = free_tx.send(Vec::new());
        }
        let n = handle.join().expect("join").expect("inflate");
        assert_eq!(n, chunks.len() as u64);
        chunks
    }

    #[test]
    fn sheet_data_is_cut_after_row_ends() {
        let sheet = excel_like_sheet(40);
        let start = sheet.find("<x:sheetData>").expect("start") + "<x:sheetData>".len();
        let end = sheet.find("</x:sheetData>").expect("end");
        for size in [1, 50, 700, 5_000, 1 << 20] {
            let chunks = chunks_of(&sheet, size);
            assert_eq!(
                chunks.concat(),
                &sheet.as_bytes()[start..end],
                "size {size}"
            );
            for c in &chunks[..chunks.len() - 1] {
                assert!(c.ends_with(b"</x:row>"), "size {size}");
            }
            // A row is some 650 bytes: a row per chunk, then two, then several, then one chunk.
            let expected = match size {
                1 | 50 => 40..=40,
                700 => 20..=20,
                5_000 => 4..=8,
                _ => 1..=1,
            };
            assert!(
                expected.contains(&chunks.len()),
                "size {size}: {}",
                chunks.len()
            );
        }
        let empty = sheet.replace(
            &sheet[start - "<x:sheetData>".len()..end + "</x:sheetData>".len()],
            "<x:sheetData/>",
        );
        assert!(chunks_of(&empty, 100).is_empty());
    }

    #[test]
    fn what_it_does_not_know_is_left_to_calamine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("odd.xlsx");
        let sheet = excel_like_sheet(30);
        let odd = [
            sheet.replacen("<x:c r=\"B20\">", "<x:c>", 1),
            sheet.replacen("<x:c r=\"B20\">", "<x:c r=\"B20\" t=\"x\">", 1),
            sheet.replacen("<x:row r=\"20\"", "<!-- note --><x:row r=\"20\"", 1),
            sheet.replacen("<x:v>20.25</x:v>", "<x:v>+20.25</x:v>", 1),
            sheet.replacen("<x:v>20.25</x:v>", "<x:v>abc</x:v>", 1),
            // Two row elements with the same row number run together in calamine.
            sheet
                .replacen("<x:row r=\"21\"", "<x:row r=\"20\"", 1)
                .replace("r=\"A21\"", "r=\"A20\""),
        ];
        for (i, sheet) in odd.iter().enumerate() {
            excel_like(&path, sheet);
            for opts in [
                SMALL,
                Options {
                    chunk_bytes: 1,
                    workers: 2,
                },
                Options::default(),
            ] {
                let got = fast(&path, "Plan", 12, opts);
                if i == 5 && opts.chunk_bytes != 1 {
                    // Within a chunk the rows run together as calamine runs them; only where
                    // they are in different chunks (always, with 1-byte chunks) is it refused.
                    if let Ok(got) = got {
                        assert_eq!(got.0, slow(&path, "Plan", 12).0);
                    }
                    continue;
                }
                assert!(
                    matches!(got, Err(Failure::Unsupported(_))),
                    "case {i}, {opts:?}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn parts_calamine_would_find_by_another_spelling_are_left_to_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("case.xlsx");
        let sheet = excel_like_sheet(3);
        write_zip(
            &path,
            &[
                ("[Content_Types].xml", CONTENT_TYPES),
                ("_rels/.rels", ROOT_RELS),
                ("xl/workbook.xml", WORKBOOK),
                ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                ("xl/sharedStrings.xml", SHARED),
                ("xl/Styles.xml", STYLES),
                ("xl/worksheets/sheet1.xml", &sheet),
            ],
        );
        assert!(Book::open(&path).is_err());
    }

    #[test]
    fn an_error_from_the_row_callback_stops_the_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = workbook(dir.path(), true, 200);
        let book = Book::open(&path).expect("open");
        let mut seen = 0;
        let got = book.stream_sheet("Plan", 20, SMALL, |r, _| {
            seen += 1;
            if r == 50 {
                return Err(InputError::new(&path, "Plan", "stop", "here"));
            }
            Ok(())
        });
        assert!(matches!(got, Err(Failure::Input(_))));
        assert_eq!(seen, 51);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn random_cells_read_the_same(
            cells in proptest::collection::vec(
                (0u32..40, 0u16..24, prop_oneof![
                    "\\PC{0,12}".prop_map(Some),
                    // What Excel escapes and entities are made of, and control characters.
                    "(\\PC|[\t\r\n\x01\x1f_x0Dd&;<>\"' ]){0,16}".prop_map(Some),
                    any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| Some(f.to_string())),
                    Just(None),
                ]),
                1..200,
            ),
            constant_memory in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("random.xlsx");
            let mut wb = Workbook::new();
            let ws = if constant_memory {
                wb.add_worksheet_with_constant_memory().expect("worksheet")
            } else {
                wb.add_worksheet()
            };
            ws.set_name("Plan").expect("name");
            let mut sorted = cells.clone();
            // constant_memory mode needs rows in order.
            sorted.sort_by_key(|(r, _, _)| *r);
            for (r, c, v) in sorted {
                match v {
                    Some(s) => match s.parse::<f64>() {
                        Ok(f) if s.chars().any(|c| c.is_ascii_digit()) => ws.write_number(r, c, f),
                        _ => ws.write_string(r, c, s),
                    },
                    None => ws.write_boolean(r, c, c % 2 == 0),
                }
                .expect("write");
            }
            wb.save(&path).expect("save");
            let expected = slow(&path, "Plan", 20);
            let got = fast(&path, "Plan", 20, SMALL).expect("fast");
            prop_assert_eq!(got.0, expected.0);
            prop_assert_eq!(got.1, expected.1);
        }
    }
}
