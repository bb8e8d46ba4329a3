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
                format!("the file starts with a {} byte-order mark but is not valid {}", enc.name(), enc.name()),
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
            let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            let warning = format!(
                "{}: not UTF-8 (first invalid byte on line {line}); read as Windows-1252. \
                 If names look wrong, export with -Encoding UTF8 and plan again.",
                path.display()
            );
            Ok((text, Encoding::Windows1252, Some(warning)))
        }
    }
}
