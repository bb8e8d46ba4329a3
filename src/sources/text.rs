//! Bytes → text the way Windows tools wrote them: a BOM decides (UTF-8, UTF-16LE/BE); without
//! one, UTF-8 if valid, else Windows-1252 (Excel "Save as CSV", `Set-Content`) with a warning.

use crate::error::InputError;
use std::borrow::Cow;
use std::path::Path;

/// The encoding a file was read with, for the Summary sheet and warnings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

/// Decode a whole file. The BOM is stripped. Returns a warning when the encoding had to be guessed.
pub fn decode<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(Cow<'a, str>, Encoding, Option<String>), InputError> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let body = &bytes[bom_len..];
        let (text, had_errors) = enc.decode_without_bom_handling(body);
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
        let kind = if enc == encoding_rs::UTF_8 {
            Encoding::Utf8Bom
        } else if enc == encoding_rs::UTF_16LE {
            Encoding::Utf16Le
        } else {
            Encoding::Utf16Be
        };
        return Ok((text, kind, None));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok((Cow::Borrowed(s), Encoding::Utf8, None)),
        Err(e) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            // Count the line of the first invalid byte so the admin can look at it.
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            let warning = format!(
                "{}: not UTF-8 (first invalid byte on line {line}); read as Windows-1252. \
                 If names look wrong, export with -Encoding UTF8 and plan again.",
                path.display()
            );
            Ok((text, Encoding::Windows1252, Some(warning)))
        }
    }
}

/// [`decode`] for callers that own the bytes: the result no longer borrows them, and the bytes
/// are either reused (UTF-8) or freed once decoded, so a large UTF-16 export is not held twice.
pub(crate) fn decode_owned(
    path: &Path,
    bytes: Vec<u8>,
) -> Result<(String, Encoding, Option<String>), InputError> {
    let (text, encoding, warning) = decode(path, &bytes)?;
    let skip = match text {
        Cow::Owned(s) => return Ok((s, encoding, warning)),
        Cow::Borrowed(s) => bytes.len() - s.len(),
    };
    let mut bytes = bytes;
    bytes.drain(..skip);
    let text = String::from_utf8(bytes).map_err(|e| {
        InputError::new(
            path,
            "",
            format!("the file is not valid UTF-8: {e}"),
            "save it as UTF-8",
        )
    })?;
    Ok((text, encoding, warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_decoding_strips_the_bom_and_keeps_the_text() {
        let p = Path::new("x.csv");
        let (t, e, w) = decode_owned(p, b"\xEF\xBB\xBFa,b\n".to_vec()).expect("utf8");
        assert_eq!((t.as_str(), e, w), ("a,b\n", Encoding::Utf8Bom, None));
        let (t, e, _) = decode_owned(p, vec![0xFF, 0xFE, b'a', 0]).expect("utf16");
        assert_eq!((t.as_str(), e), ("a", Encoding::Utf16Le));
        let (t, e, w) = decode_owned(p, b"Ren\xE9".to_vec()).expect("1252");
        assert_eq!((t.as_str(), e), ("René", Encoding::Windows1252));
        assert!(w.is_some());
    }
}
