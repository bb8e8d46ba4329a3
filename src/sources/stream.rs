//! Text exports read as a stream instead of a whole decoded copy in memory: a million-row CSV is
//! hundreds of MB, and holding it on top of the users parsed from it is what set the peak RSS.
//!
//! Two passes over the file. The first ([`scan`]) hashes the bytes and decides what
//! [`super::text::decode`] and [`super::check_text`] would decide on the whole text (encoding,
//! the Windows-1252 fallback warning, NUL bytes, a blank file), with the same messages. The second
//! ([`Scanned::open`]) decodes on the fly: a UTF-8 file is passed through as is, UTF-16 and
//! Windows-1252 are transcoded to UTF-8 by `encoding_rs`. Pipes and other non-regular files cannot
//! be read twice; they are read whole, as before.

use super::text::Encoding;
use super::{sha256_hex_digest, sniff_bytes, ByteKind};
use crate::error::InputError;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

const CHUNK: usize = 256 * 1024;

/// What the first pass found out about a text file.
#[derive(Clone, Debug)]
pub(crate) struct Scanned {
    pub sha256: String,
    pub encoding: Encoding,
    /// The Windows-1252 fallback warning, as [`super::text::decode`] words it.
    pub warning: Option<String>,
    bom_len: usize,
    /// Only bare CRs end lines (Excel for Mac's "CSV (Macintosh)"): they are read as LFs.
    cr_only: bool,
}

/// How the first bytes of a file want it read.
pub(crate) enum Opened {
    /// A text file, scanned; read it with [`Scanned::open`].
    Text(Scanned),
    /// A zip, or a file that cannot be read twice: read it whole.
    Whole(Vec<u8>),
}

fn cannot_read(path: &Path, e: io::Error) -> InputError {
    InputError::new(
        path,
        "",
        format!("cannot read the file: {e}"),
        "check the path and that the file is not open exclusively in another program",
    )
}

/// Fill `buf` as far as the reader allows (short only at the end of the file).
fn fill<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Line and text facts gathered over the decoded text, chunk by chunk.
#[derive(Default)]
struct TextFacts {
    newlines: u64,
    nul_line: Option<u64>,
    has_lf: bool,
    has_cr: bool,
    nonblank: bool,
}

impl TextFacts {
    /// `chunk` is decoded text (or bytes whose `\n`, `\r` and NUL are the text's).
    fn feed(&mut self, chunk: &[u8]) {
        if self.nul_line.is_none() {
            if let Some(p) = memchr::memchr(0, chunk) {
                self.nul_line = Some(self.newlines + count_lf(&chunk[..p]) + 1);
            }
        }
        let lf = count_lf(chunk);
        self.has_lf |= lf > 0;
        self.has_cr = self.has_cr || memchr::memchr(b'\r', chunk).is_some();
        self.newlines += lf;
    }
}

fn count_lf(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

/// Bytes 0x09–0x0D, space and NBSP are all Windows-1252 decodes to whitespace.
fn blank_1252(b: &[u8]) -> bool {
    b.iter()
        .all(|&c| matches!(c, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' | 0xA0))
}

/// First pass: open the file, refuse what [`sniff_bytes`] refuses, and scan a text file.
pub(crate) fn scan(path: &Path) -> Result<Opened, InputError> {
    let mut file = File::open(path).map_err(|e| cannot_read(path, e))?;
    let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    let mut buf = vec![0u8; CHUNK];
    let n = fill(&mut file, &mut buf).map_err(|e| cannot_read(path, e))?;
    buf.truncate(n);
    let kind = sniff_bytes(path, &buf)?;
    if !regular || kind == ByteKind::Zip {
        file.read_to_end(&mut buf)
            .map_err(|e| cannot_read(path, e))?;
        return Ok(Opened::Whole(buf));
    }
    let mut hasher = Sha256::new();
    hasher.update(&buf);
    let mut facts = TextFacts::default();
    let scanned = if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(&buf) {
        let mut decoder = enc.new_decoder_without_bom_handling();
        let mut out = vec![0u8; CHUNK * 3 + 16];
        let mut pending = buf.split_off(bom_len.min(buf.len()));
        let mut had_errors = false;
        loop {
            let last = pending.is_empty();
            let mut src = &pending[..];
            loop {
                let (res, read, written, errs) = decoder.decode_to_utf8(src, &mut out, last);
                had_errors |= errs;
                let text = &out[..written];
                if !facts.nonblank {
                    // Decoded output is UTF-8, cut at character boundaries.
                    facts.nonblank = std::str::from_utf8(text).is_ok_and(|s| !s.trim().is_empty());
                }
                facts.feed(text);
                src = &src[read..];
                if res == encoding_rs::CoderResult::InputEmpty {
                    break;
                }
            }
            if last {
                break;
            }
            pending.resize(CHUNK, 0);
            let n = fill(&mut file, &mut pending).map_err(|e| cannot_read(path, e))?;
            pending.truncate(n);
            hasher.update(&pending);
        }
        if had_errors {
            return Err(InputError::new(
                path,
                "",
                format!(
                    "the file starts with a {} byte-order mark but is not valid {}",
                    enc.name(),
                    enc.name()
                ),
                "re-export the file, or save it again as \"CSV UTF-8\" / UTF-8",
            ));
        }
        let encoding = if enc == encoding_rs::UTF_8 {
            Encoding::Utf8Bom
        } else if enc == encoding_rs::UTF_16LE {
            Encoding::Utf16Le
        } else {
            Encoding::Utf16Be
        };
        Scanned {
            sha256: String::new(),
            encoding,
            warning: None,
            bom_len,
            cr_only: false,
        }
    } else {
        // No BOM: UTF-8 if every byte sequence is valid, else Windows-1252. `carry` holds a
        // character cut by the chunk boundary.
        let mut invalid_line: Option<u64> = None;
        let mut nonblank_1252 = false;
        let mut carry = 0usize;
        let mut chunk = buf;
        let mut new_from = 0usize;
        loop {
            let fresh = &chunk[new_from..];
            nonblank_1252 = nonblank_1252 || !blank_1252(fresh);
            if invalid_line.is_none() {
                match std::str::from_utf8(&chunk) {
                    Ok(s) => {
                        facts.nonblank = facts.nonblank || !s.trim().is_empty();
                        carry = 0;
                    }
                    Err(e) => {
                        let valid = &chunk[..e.valid_up_to()];
                        if !facts.nonblank {
                            facts.nonblank =
                                std::str::from_utf8(valid).is_ok_and(|s| !s.trim().is_empty());
                        }
                        if e.error_len().is_some() {
                            invalid_line = Some(facts.newlines + count_lf(valid) + 1);
                            carry = 0;
                        } else {
                            carry = chunk.len() - e.valid_up_to();
                        }
                    }
                }
            }
            facts.feed(fresh);
            let at_end = chunk.len() - new_from < CHUNK;
            if at_end {
                if carry > 0 && invalid_line.is_none() {
                    // A character cut off by the end of the file.
                    invalid_line = Some(facts.newlines + 1);
                }
                break;
            }
            let len = chunk.len();
            chunk.copy_within(len - carry.., 0);
            chunk.resize(carry + CHUNK, 0);
            let n = fill(&mut file, &mut chunk[carry..]).map_err(|e| cannot_read(path, e))?;
            chunk.truncate(carry + n);
            hasher.update(&chunk[carry..]);
            new_from = carry;
            if n == 0 {
                if carry > 0 && invalid_line.is_none() {
                    invalid_line = Some(facts.newlines + 1);
                }
                break;
            }
        }
        match invalid_line {
            None => Scanned {
                sha256: String::new(),
                encoding: Encoding::Utf8,
                warning: None,
                bom_len: 0,
                cr_only: false,
            },
            Some(line) => {
                facts.nonblank = nonblank_1252;
                Scanned {
                    sha256: String::new(),
                    encoding: Encoding::Windows1252,
                    warning: Some(format!(
                        "{}: not UTF-8 (first invalid byte on line {line}); read as Windows-1252. \
                         If names look wrong, export with -Encoding UTF8 and plan again.",
                        path.display()
                    )),
                    bom_len: 0,
                    cr_only: false,
                }
            }
        }
    };
    if let Some(line) = facts.nul_line {
        return Err(InputError::new(
            path,
            format!("line {line}"),
            "the file holds NUL bytes: it is binary, or UTF-16 text without a byte-order mark",
            "export it again with Export-Csv -Encoding UTF8 (or save as \"CSV UTF-8\" in Excel)",
        ));
    }
    if !facts.nonblank {
        return Err(InputError::new(
            path,
            "",
            "the file holds only blank lines",
            "export the users again; the export may have failed",
        ));
    }
    Ok(Opened::Text(Scanned {
        sha256: sha256_hex_digest(&hasher.finalize()),
        cr_only: !facts.has_lf && facts.has_cr,
        ..scanned
    }))
}

impl Scanned {
    /// Second pass: the file's text as UTF-8, BOM stripped, bare CRs read as LFs.
    pub(crate) fn open(&self, path: &Path) -> Result<Box<dyn Read>, InputError> {
        let mut file = File::open(path).map_err(|e| cannot_read(path, e))?;
        let mut bom = [0u8; 4];
        fill(&mut file, &mut bom[..self.bom_len]).map_err(|e| cannot_read(path, e))?;
        let file = io::BufReader::with_capacity(CHUNK, file);
        let decoded: Box<dyn Read> = match self.encoding {
            Encoding::Utf8 | Encoding::Utf8Bom => Box::new(file),
            Encoding::Utf16Le => Box::new(Transcode::new(file, encoding_rs::UTF_16LE)),
            Encoding::Utf16Be => Box::new(Transcode::new(file, encoding_rs::UTF_16BE)),
            Encoding::Windows1252 => Box::new(Transcode::new(file, encoding_rs::WINDOWS_1252)),
        };
        Ok(if self.cr_only {
            Box::new(CrAsLf(decoded))
        } else {
            decoded
        })
    }
}

/// Bytes in some encoding → UTF-8 (malformed sequences replaced; the scan has already refused or
/// warned about them).
struct Transcode<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    in_pos: usize,
    eof: bool,
    done: bool,
    output: Vec<u8>,
    out_pos: usize,
}

impl<R: Read> Transcode<R> {
    fn new(inner: R, enc: &'static encoding_rs::Encoding) -> Self {
        Transcode {
            inner,
            decoder: enc.new_decoder_without_bom_handling(),
            input: Vec::with_capacity(CHUNK),
            in_pos: 0,
            eof: false,
            done: false,
            output: Vec::with_capacity(CHUNK * 3 + 16),
            out_pos: 0,
        }
    }
}

impl<R: Read> Read for Transcode<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.output.len() {
                let n = buf.len().min(self.output.len() - self.out_pos);
                buf[..n].copy_from_slice(&self.output[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            if self.in_pos == self.input.len() && !self.eof {
                self.input.resize(CHUNK, 0);
                let n = fill(&mut self.inner, &mut self.input)?;
                self.input.truncate(n);
                self.in_pos = 0;
                self.eof = n == 0;
            }
            self.output.resize(CHUNK * 3 + 16, 0);
            let (res, read, written, _) =
                self.decoder
                    .decode_to_utf8(&self.input[self.in_pos..], &mut self.output, self.eof);
            self.in_pos += read;
            self.output.truncate(written);
            self.out_pos = 0;
            if self.eof && res == encoding_rs::CoderResult::InputEmpty {
                self.done = true;
            }
        }
    }
}

/// Excel for Mac ends lines with a bare CR; as LFs they are lines the CSV reader counts.
struct CrAsLf<R>(R);

impl<R: Read> Read for CrAsLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        for b in &mut buf[..n] {
            if *b == b'\r' {
                *b = b'\n';
            }
        }
        Ok(n)
    }
}

/// The beginning of a decoded stream, long enough for [`super::detect_text`] (200 lines) and
/// [`super::csv::sniff`] (two preamble lines and the header line) to see what they would see in
/// the whole text: at least 256 complete lines and a complete non-blank line after the first two,
/// or the whole stream. Returns the bytes read (cut at a line end unless the stream ended) and
/// how many of them form complete lines.
pub(crate) fn read_prefix(r: &mut dyn Read) -> io::Result<(Vec<u8>, usize)> {
    let mut prefix = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = fill(r, &mut buf)?;
        prefix.extend_from_slice(&buf[..n]);
        if n == 0 {
            let len = prefix.len();
            return Ok((prefix, len));
        }
        let complete = memchr::memrchr(b'\n', &prefix).map_or(0, |i| i + 1);
        if count_lf(&prefix[..complete]) >= 256 {
            let nonblank_after_two = prefix[..complete]
                .split(|&b| b == b'\n')
                .skip(2)
                .any(|l| std::str::from_utf8(l).is_ok_and(|s| !s.trim().is_empty()));
            if nonblank_after_two {
                return Ok((prefix, complete));
            }
        }
    }
}

/// [`read_prefix`] of `path`'s decoded stream, with the read error said as every reader says it.
pub(crate) fn read_prefix_of(
    path: &Path,
    r: &mut dyn Read,
) -> Result<(Vec<u8>, usize), InputError> {
    read_prefix(r).map_err(|e| cannot_read(path, e))
}

/// The complete lines of a prefix as text, and the bytes after them (a line cut by the prefix,
/// read again from the stream by chaining them in front of it).
pub(crate) fn split_prefix<'a>(
    path: &Path,
    prefix: &'a [u8],
    complete: usize,
) -> Result<(&'a str, &'a [u8]), InputError> {
    let (head, tail) = prefix.split_at(complete);
    let head = std::str::from_utf8(head).map_err(|e| {
        InputError::new(
            path,
            "",
            format!("the file is not valid UTF-8: {e}"),
            "save it as UTF-8",
        )
    })?;
    Ok((head, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8], enc: &'static encoding_rs::Encoding) -> String {
        let mut s = String::new();
        Transcode::new(bytes, enc)
            .read_to_string(&mut s)
            .expect("transcode");
        s
    }

    #[test]
    fn transcoding_matches_whole_file_decoding() {
        let utf16: Vec<u8> = "Renée,Zoë\r\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(decoded(&utf16, encoding_rs::UTF_16LE), "Renée,Zoë\r\n");
        assert_eq!(decoded(b"Ren\xE9", encoding_rs::WINDOWS_1252), "René");
        let big: Vec<u8> = std::iter::repeat_n(0xE9u8, CHUNK * 2 + 7).collect();
        assert_eq!(
            decoded(&big, encoding_rs::WINDOWS_1252),
            "é".repeat(CHUNK * 2 + 7)
        );
    }

    #[test]
    fn prefix_stops_after_enough_lines() {
        let text = "a,b\n".repeat(100_000);
        let (p, complete) = read_prefix(&mut text.as_bytes()).expect("prefix");
        assert!(p.len() < text.len());
        assert!(count_lf(&p[..complete]) >= 256);
        assert_eq!(p[complete - 1], b'\n');
        let (p, complete) = read_prefix(&mut "x\ny".as_bytes()).expect("prefix");
        assert_eq!((p.as_slice(), complete), (&b"x\ny"[..], 3));
    }
}
