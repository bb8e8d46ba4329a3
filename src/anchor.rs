//! The sourceAnchor: 16 objectGUID bytes in the order AD stores them (.NET `Guid.ToByteArray()`,
//! first three groups little-endian), and every notation an admin meets for them.
//!
//! ImmutableId = base64 (standard alphabet, padded) of those 16 bytes. Base64 of the GUID *text*,
//! of big-endian (RFC 4122) bytes, or in the URL-safe alphabet are all wrong and are rejected or
//! never produced here.

use base64::Engine;
use std::fmt;
use uuid::Uuid;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// 16 bytes in AD/.NET byte order. Equality is byte equality; ImmutableIds are case-sensitive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceAnchor([u8; 16]);

impl SourceAnchor {
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        SourceAnchor(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// From a GUID as AD shows it (`Get-ADUser … ObjectGUID`).
    pub fn from_guid(guid: Uuid) -> Self {
        // uuid's "le" bytes are exactly .NET's ToByteArray() order.
        SourceAnchor(guid.to_bytes_le())
    }

    /// The GUID as AD and PowerShell display it.
    pub fn guid(&self) -> Uuid {
        Uuid::from_bytes_le(self.0)
    }

    /// The value Entra Connect writes to `onPremisesImmutableId`.
    pub fn immutable_id(&self) -> String {
        B64.encode(self.0)
    }

    /// [`SourceAnchor::immutable_id`] written into `buf`, for look-ups that need no `String`.
    pub fn immutable_id_in<'b>(&self, buf: &'b mut [u8; 24]) -> &'b str {
        let n = B64
            .encode_slice(self.0, buf)
            .expect("16 bytes are 24 base64 characters");
        // Base64 is ASCII.
        std::str::from_utf8(&buf[..n]).expect("base64 is ASCII")
    }

    /// Raw octets as 32 lower-case hex digits (csvde's `X'…'` body, ADSI Edit's octet view).
    pub fn octet_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// `\xx\xx…`, for LDAP filters such as `(objectGUID=\06\96…)`.
    pub fn ldap_filter_escape(&self) -> String {
        let mut s = String::with_capacity(48);
        for b in self.0 {
            s.push_str(&format!("\\{b:02x}"));
        }
        s
    }
}

impl fmt::Display for SourceAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.guid().hyphenated())
    }
}

impl fmt::Debug for SourceAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceAnchor({})", self.guid().hyphenated())
    }
}

/// How a value was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notation {
    /// `3ab39606-c642-489b-84b6-58c038d3ef39`, with or without braces, any case.
    GuidText,
    /// 32 hex digits read as .NET "N" format GUID text (only with `HexAs::Guid`).
    GuidHex,
    /// Base64 of the 16 bytes (24 padded or 22 unpadded characters); also ldifde's `objectGUID::`.
    ImmutableId,
    /// 32 hex digits read as raw octets (only with `HexAs::Octets`).
    OctetHex,
    /// `44 31 E2 46 …`
    SpacedHex,
    /// `\44\31\e2…`
    LdapEscape,
    /// `X'4431e2…'`
    CsvdeHex,
    /// `6 150 179 58 …`: the 16 bytes in decimal, as PowerShell prints a byte array joined with
    /// `-join ' '`.
    DecimalBytes,
}

/// How to read 32 plain hex digits, which are ambiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HexAs {
    Guid,
    Octets,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    One {
        anchor: SourceAnchor,
        notation: Notation,
    },
    /// 32 plain hex digits without a [`HexAs`] decision: both readings, caller decides.
    Ambiguous {
        as_guid: SourceAnchor,
        as_octets: SourceAnchor,
    },
}

/// Why a value is not a sourceAnchor. The message is shown to the admin as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("empty value")]
    Empty,
    #[error("{0}")]
    Invalid(String),
}

/// Read any notation. 32 plain hex digits give [`Parsed::Ambiguous`] unless `hex_as` decides.
///
/// Surrounding whitespace (also a BOM or zero-width space picked up by copy and paste) and one pair
/// of CSV double quotes are trimmed, one leading `'` (written by Excel-sanitising exporters in front
/// of `+`, `=`, `-`, `@`) is dropped, and an LDIF attribute prefix such as `objectGUID:: `, a whole
/// LDAP filter `(objectGUID=\06…)`, `urn:uuid:` and a `0x` binary-literal prefix are accepted. Everything else must be exactly
/// one of the [`Notation`]s and exactly 16 bytes; anything doubtful is rejected with the reason,
/// never truncated or guessed. If 32 hex digits read the same both ways (the nil GUID), the answer
/// is [`Parsed::One`] with [`Notation::OctetHex`].
pub fn parse(input: &str, hex_as: Option<HexAs>) -> Result<Parsed, AnchorError> {
    let s = trim(input);
    // A value pasted from a CSV file keeps its quotes.
    let s = s
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .map(trim)
        .unwrap_or(s);
    let s = s.strip_prefix('\'').map(trim).unwrap_or(s);
    if s.is_empty() {
        return Err(AnchorError::Empty);
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii()) {
        return Err(invalid(non_ascii_reason(c)));
    }
    // Everything below works on ASCII, so byte indexing cannot split a character.
    let one = |anchor, notation| Ok(Parsed::One { anchor, notation });

    if let Some(value) = ldif_value(s) {
        if value.is_empty() {
            return Err(invalid("nothing after `::`; the base64 value is missing"));
        }
        return parse_base64(value).and_then(|a| one(a, Notation::ImmutableId));
    }
    if let Some(body) = csvde_body(s) {
        return parse_csvde(body).and_then(|a| one(a, Notation::CsvdeHex));
    }
    if s.contains('\\') {
        return parse_ldap_escape(s).and_then(|a| one(a, Notation::LdapEscape));
    }
    if let Some(bytes) = decimal_bytes(s)? {
        return one(SourceAnchor(bytes), Notation::DecimalBytes);
    }
    if let Some(bytes) = octet_list(s)? {
        return one(SourceAnchor(bytes), Notation::SpacedHex);
    }
    if let Some(inner) = strip_guid_brackets(s) {
        return parse_guid_text(inner, true).and_then(|a| one(a, Notation::GuidText));
    }
    if looks_like_guid_text(s) {
        return parse_guid_text(s, false).and_then(|a| one(a, Notation::GuidText));
    }
    if s.len() != 22 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return parse_plain_hex(s, hex_as);
    }
    // A binary literal (`0x…`, SQL or a hex dump) is still 32 plain hex digits, so just as ambiguous.
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return parse_plain_hex(hex, hex_as);
        }
    }
    parse_base64(s).and_then(|a| one(a, Notation::ImmutableId))
}

fn invalid(msg: impl Into<String>) -> AnchorError {
    AnchorError::Invalid(msg.into())
}

fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\u{feff}' | '\u{200b}'))
}

fn non_ascii_reason(c: char) -> String {
    if c == '\u{fffd}' {
        "contains U+FFFD replacement characters: this looks like a binary objectGUID that was decoded as \
         text and re-encoded, which destroys bytes; export objectGUID again (ldifde, csvde or Get-ADUser)"
            .into()
    } else {
        format!(
            "contains {c:?} (U+{:04X}), which no GUID, ImmutableId or octet notation uses",
            u32::from(c)
        )
    }
}

/// `objectGUID:: BpazOkLGm0iEtljAONPvOQ==` as copied from an LDIF file: the value after `::`.
fn ldif_value(s: &str) -> Option<&str> {
    let (name, value) = s.split_once("::")?;
    let mut chars = name.chars();
    let name_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';');
    name_ok.then(|| trim(value))
}

fn csvde_body(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("X'").or_else(|| s.strip_prefix("x'"))?;
    Some(rest.strip_suffix('\'').unwrap_or(rest))
}

fn hex_nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    match pair {
        [hi, lo] => Some(hex_nibble(*hi)? << 4 | hex_nibble(*lo)?),
        _ => None,
    }
}

/// Decodes an even-length run of hex digits; `None` if any character is not a hex digit.
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes().chunks(2).map(hex_byte).collect()
}

fn sixteen(bytes: &[u8]) -> Option<[u8; 16]> {
    bytes.try_into().ok()
}

fn first_non_hex(s: &str) -> Option<(usize, char)> {
    s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit())
}

fn parse_csvde(body: &str) -> Result<SourceAnchor, AnchorError> {
    if let Some((i, c)) = first_non_hex(body) {
        return Err(invalid(format!(
            "csvde X'…' value has {c:?} at position {} of its hex digits; it must hold 32 hex digits \
             (and end with ')",
            i + 1
        )));
    }
    let Some(bytes) = hex_bytes(body) else {
        return Err(invalid(format!(
            "csvde X'…' value has an odd number of hex digits ({}); it must hold 32",
            body.len()
        )));
    };
    if let Some(arr) = sixteen(&bytes) {
        return Ok(SourceAnchor(arr));
    }
    let text = std::str::from_utf8(&bytes)
        .ok()
        .filter(|t| !t.chars().any(|c| c.is_control() && !c.is_whitespace()));
    Err(invalid(match text {
        // csvde writes non-ASCII and multi-line strings as X'…' too (formats.md E2).
        Some(t) if bytes.len() != 16 => format!(
            "csvde X'…' value is {} bytes of text ({t:?}), not a 16-byte objectGUID; take the objectGUID column",
            bytes.len()
        ),
        _ => format!(
            "csvde X'…' value is {} bytes; an objectGUID is exactly 16 bytes (32 hex digits)",
            bytes.len()
        ),
    }))
}

fn parse_ldap_escape(s: &str) -> Result<SourceAnchor, AnchorError> {
    // Tolerate the whole filter `(objectGUID=\06\96…)` as pasted from an ldifde/ldapsearch command.
    let s = s
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or(s);
    let s = match s.split_once('=') {
        Some((attr, v)) if attr.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => v,
        _ => s,
    };
    let Some(rest) = s.strip_prefix('\\') else {
        return Err(invalid(
            "an LDAP filter escape must be 16 `\\xx` pairs such as \\06\\96\\b3…, with nothing in between",
        ));
    };
    let mut bytes = Vec::with_capacity(16);
    for (i, pair) in rest.split('\\').enumerate() {
        match hex_byte(pair.as_bytes()) {
            Some(b) => bytes.push(b),
            None => {
                return Err(invalid(format!(
                    "LDAP filter escape: part {} is `\\{pair}`; every byte must be `\\` and exactly two hex \
                     digits (a byte below 0x10 keeps its leading zero, e.g. \\0a)",
                    i + 1
                )))
            }
        }
    }
    sixteen(&bytes).map(SourceAnchor).ok_or_else(|| {
        invalid(format!(
            "LDAP filter escape holds {} bytes; an objectGUID is exactly 16 (\\xx × 16)",
            bytes.len()
        ))
    })
}

/// `6 150 179 58 …` (or `,`-separated): byte values in decimal, as PowerShell prints a byte
/// array such as mS-DS-ConsistencyGuid joined with `-join ' '`. Told from hex octets by a
/// three-digit or one-digit value (hex octets are two digits each); `Ok(None)` otherwise.
fn decimal_bytes(s: &str) -> Result<Option<[u8; 16]>, AnchorError> {
    // Every GUID text and ImmutableId leaves here, before anything is allocated.
    if !s.starts_with(|c: char| c.is_ascii_digit())
        || !s.contains(|c: char| c.is_ascii_whitespace() || c == ',')
    {
        return Ok(None);
    }
    let tokens: Vec<&str> = s
        .split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    let decimal = tokens.len() >= 2
        && tokens
            .iter()
            .all(|t| t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()))
        && tokens.iter().any(|t| t.len() != 2);
    if !decimal {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(16);
    for (i, t) in tokens.iter().enumerate() {
        match t.parse::<u8>() {
            Ok(b) => bytes.push(b),
            Err(_) => {
                return Err(invalid(format!(
                "decimal byte values: value {} is {t}, over 255, so this is not a list of bytes",
                i + 1
            )))
            }
        }
    }
    sixteen(&bytes).map(Some).ok_or_else(|| {
        invalid(format!(
            "{} decimal byte values (PowerShell's -join ' ' of a byte array?); an objectGUID is exactly 16 bytes",
            bytes.len()
        ))
    })
}

/// `44 31 E2 …`, also `44-31-E2-…` (BitConverter.ToString), `44:31:…` and `0x44, 0x31, …`.
/// `Ok(None)` when the value is not a list of octets at all.
fn octet_list(s: &str) -> Result<Option<[u8; 16]>, AnchorError> {
    let is_sep = |c: char| c.is_ascii_whitespace() || matches!(c, ',' | ':' | '-');
    if !s.contains(is_sep) {
        return Ok(None);
    }
    let tokens: Vec<&str> = s
        .split(is_sep)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t)
        })
        .collect();
    let octet_like =
        |t: &&str| (1..=2).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_hexdigit());
    if tokens.len() < 2 || !tokens.iter().all(octet_like) {
        return Ok(None);
    }
    if let Some((i, t)) = tokens.iter().enumerate().find(|(_, t)| t.len() != 2) {
        return Err(invalid(format!(
            "octet {} is `{t}`; every octet must be two hex digits (a byte below 0x10 keeps its leading \
             zero, e.g. 0{t}) — otherwise the bytes cannot be told apart",
            i + 1
        )));
    }
    let bytes: Vec<u8> = tokens
        .iter()
        .filter_map(|t| hex_byte(t.as_bytes()))
        .collect();
    match sixteen(&bytes) {
        Some(arr) => Ok(Some(arr)),
        None => Err(invalid(format!(
            "octet string holds {} bytes; an objectGUID is exactly 16",
            bytes.len()
        ))),
    }
}

fn strip_guid_brackets(s: &str) -> Option<&str> {
    [('{', '}'), ('(', ')')]
        .iter()
        .find_map(|&(open, close)| s.strip_prefix(open)?.strip_suffix(close))
        .or_else(|| {
            s.get(..9)
                .filter(|p| p.eq_ignore_ascii_case("urn:uuid:"))
                .map(|_| &s[9..])
        })
        .or_else(|| {
            // A brace on one side only is a copy-and-paste accident of GUID text, not another notation.
            (s.starts_with('{') || s.ends_with('}'))
                .then(|| s.trim_start_matches('{').trim_end_matches('}'))
        })
}

/// Five dash-separated groups of letters and digits, roughly GUID-long: meant as GUID text,
/// so a bad character is reported as such rather than as broken base64.
fn looks_like_guid_text(s: &str) -> bool {
    (30..=40).contains(&s.len())
        && s.split('-').count() == 5
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn parse_guid_text(s: &str, bracketed: bool) -> Result<SourceAnchor, AnchorError> {
    let groups: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let simple = bracketed && groups.len() == 1 && s.len() == 32;
    if let Some((i, c)) = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_hexdigit() || *c == '-'))
    {
        return Err(invalid(format!(
            "invalid GUID text: {c:?} at position {} is not a hex digit (0-9, a-f); was the GUID retyped \
             from a screenshot or document? Copy it again from AD",
            i + 1
        )));
    }
    if !simple && lens != [8, 4, 4, 4, 12] {
        let shape = lens
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("-");
        return Err(invalid(format!(
            "invalid GUID text: {} characters in groups of {shape}; a GUID is 8-4-4-4-12 hex digits \
             (36 characters with dashes); a digit was lost or added",
            s.len()
        )));
    }
    Uuid::try_parse(s)
        .map(SourceAnchor::from_guid)
        .map_err(|e| invalid(format!("invalid GUID text: {e}")))
}

fn parse_plain_hex(s: &str, hex_as: Option<HexAs>) -> Result<Parsed, AnchorError> {
    let bytes = hex_bytes(s).and_then(|b| sixteen(&b));
    let Some(octets) = bytes else {
        return Err(invalid(format!(
            "{} hex digits; an objectGUID is 32 hex digits (16 bytes). If a converter dropped the leading \
             zero of bytes below 0x10, the value cannot be repaired: export it again",
            s.len()
        )));
    };
    let as_octets = SourceAnchor(octets);
    // .NET "N" format is the GUID's display text without dashes, so its bytes come out big-endian.
    let as_guid = SourceAnchor::from_guid(Uuid::from_bytes(octets));
    Ok(match hex_as {
        Some(HexAs::Guid) => Parsed::One {
            anchor: as_guid,
            notation: Notation::GuidHex,
        },
        Some(HexAs::Octets) => Parsed::One {
            anchor: as_octets,
            notation: Notation::OctetHex,
        },
        None if as_guid == as_octets => Parsed::One {
            anchor: as_octets,
            notation: Notation::OctetHex,
        },
        None => Parsed::Ambiguous { as_guid, as_octets },
    })
}

const B64_PAD_INDIFFERENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::general_purpose::PAD_INDIFFERENT,
);
const B64_URL_SAFE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::general_purpose::PAD_INDIFFERENT,
);

fn parse_base64(s: &str) -> Result<SourceAnchor, AnchorError> {
    if let Some((i, c)) = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_')))
    {
        return Err(invalid(format!(
            "{c:?} at position {} is not part of a GUID, ImmutableId or octet string: the value is not GUID-based \
             (an e-mail address or employeeID, say)",
            i + 1
        )));
    }
    let url_safe = s.contains(['-', '_']);
    let standard = s.contains(['+', '/']);
    if url_safe && standard {
        let body = s.trim_end_matches('-');
        if body.len() < s.len() && !body.contains(['-', '_']) {
            let guess = format!("{body}{}", "=".repeat((4 - body.len() % 4) % 4));
            let hint = match guid_based(&guess) {
                Some(_) => format!(" If the dashes stand for `=`, the value would be {guess}; check it against the source."),
                None => String::new(),
            };
            return Err(invalid(format!(
                "broken base64: it ends in `{}`, but `-` is not a base64 character; the `=` padding seems to \
                 have been rendered as dashes by a web page or editor.{hint}",
                &s[body.len()..]
            )));
        }
        return Err(invalid(
            "broken base64: it mixes the standard (`+`, `/`) and URL-safe (`-`, `_`) alphabets",
        ));
    }
    if url_safe {
        let same_bytes = B64_URL_SAFE
            .decode(s)
            .ok()
            .and_then(|b| sixteen(&b))
            .map(|b| {
                format!(
                    " The same 16 bytes in the standard alphabet are {}.",
                    B64.encode(b)
                )
            })
            .unwrap_or_default();
        return Err(invalid(format!(
            "URL-safe base64 (`-`/`_`, \"ShortGuid\" style): ImmutableId uses the standard alphabet \
             (`+`/`/`) and Graph forbids `$` and `_` in onPremisesImmutableId.{same_bytes}"
        )));
    }
    let data = s.trim_end_matches('=');
    if data.contains('=') || s.len() - data.len() > 2 {
        return Err(invalid(
            "broken base64: `=` may only appear as padding, at most twice, at the very end",
        ));
    }
    let bytes = B64_PAD_INDIFFERENT.decode(s).map_err(|e| {
        invalid(match e {
            base64::DecodeError::InvalidLastSymbol { .. } => {
                "non-canonical base64: the last character carries bits that are not part of any byte, so \
                 this is not what base64 of any GUID looks like (an ImmutableId's 22nd character is A, Q, g \
                 or w); was it mistyped or truncated?"
                    .to_string()
            }
            base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => format!(
                "broken base64: {} characters is not a whole base64 value; an ImmutableId is 24 characters \
                 ending in `==` (or 22 without them)",
                s.len()
            ),
            base64::DecodeError::InvalidByte(at, b'=') => {
                let short = 22usize.saturating_sub(at);
                if short > 0 {
                    format!(
                        "broken base64: the `=` padding starts after {at} characters, but an ImmutableId has 22 \
                         before its `==`; {short} character{} missing: was it cut off when it was copied?",
                        if short == 1 { " is" } else { "s are" }
                    )
                } else {
                    format!(
                        "broken base64: `=` at position {} is padding in the middle of the value",
                        at + 1
                    )
                }
            }
            base64::DecodeError::InvalidByte(at, b) => format!(
                "broken base64: {:?} at position {} is not a base64 character",
                char::from(b),
                at + 1
            ),
        })
    })?;
    match sixteen(&bytes) {
        Some(arr) if s.len() == 24 || s.len() == 22 => Ok(SourceAnchor(arr)),
        Some(_) => Err(invalid(
            "broken base64 padding: an ImmutableId is 24 characters ending in `==`, or 22 without padding",
        )),
        None => Err(invalid(wrong_length_reason(&bytes))),
    }
}

/// Why base64 that decodes cleanly is still not an objectGUID.
fn wrong_length_reason(bytes: &[u8]) -> String {
    let n = bytes.len();
    if bytes.windows(3).any(|w| w == [0xef, 0xbf, 0xbd]) {
        return format!(
            "decodes to {n} bytes containing EF BF BD (U+FFFD): it looks like a binary objectGUID that was \
             decoded as text and re-encoded, which destroyed bytes; an objectGUID is exactly 16 bytes. \
             Export objectGUID again (ldifde, csvde or Get-ADUser)"
        );
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Some(Ok(Parsed::One { anchor, .. })) = Some(text)
            .filter(|t| !t.contains(['\\', ':']) && t.len() >= 32 && t.len() <= 40)
            .map(|t| parse(t, Some(HexAs::Guid)))
        {
            return format!(
                "this is base64 of the GUID *text* {:?} ({n} characters), not of its 16 bytes (the \
                 AADInternals Get-AADIntImmutableID mistake); the ImmutableId of GUID {} is {}",
                text,
                anchor.guid().hyphenated(),
                anchor.immutable_id()
            );
        }
        if !text.is_empty() && !text.chars().any(char::is_control) {
            return format!(
                "decodes to the {n}-byte text {text:?}, not to a 16-byte objectGUID: the value is not GUID-based"
            );
        }
    }
    format!("decodes to {n} bytes; an objectGUID is exactly 16 bytes (24 base64 characters ending in `==`)")
}

/// Read a value that must be unambiguous (e.g. a cell in a column named objectGUID).
/// 32 plain hex digits are an error here unless `hex_as` decides.
pub fn parse_one(input: &str, hex_as: Option<HexAs>) -> Result<SourceAnchor, AnchorError> {
    parse_one_as(input, hex_as).map(|(anchor, _)| anchor)
}

/// [`parse_one`], saying which notation the value was in.
pub fn parse_one_as(
    input: &str,
    hex_as: Option<HexAs>,
) -> Result<(SourceAnchor, Notation), AnchorError> {
    match parse(input, hex_as)? {
        Parsed::One { anchor, notation } => Ok((anchor, notation)),
        Parsed::Ambiguous { .. } => Err(AnchorError::Invalid(
            "32 hex digits are ambiguous: .NET \"N\" GUID text or raw octets; write the GUID with dashes, \
             or say which they are with --hex-as guid or --hex-as octets"
                .into(),
        )),
    }
}

/// A cloud `onPremisesImmutableId` as stored. `Some` only when it is canonical base64 of 16 bytes;
/// anything else (an e-mail address, an employeeID) is a legitimate but non-GUID anchor.
pub fn guid_based(immutable_id: &str) -> Option<SourceAnchor> {
    let bytes = B64.decode(immutable_id).ok()?;
    let arr: [u8; 16] = bytes.try_into().ok()?;
    let a = SourceAnchor(arr);
    // Only the canonical form counts: base64 with non-zero trailing bits would not round-trip.
    (a.immutable_id() == immutable_id).then_some(a)
}

/// How a stored ImmutableId can hold a GUID in a notation earlier tools wrote by mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrongNotation {
    /// Base64 of the GUID's bytes in RFC 4122 (big-endian) order, the classic byte-order mistake.
    BigEndian,
    /// Base64 without its `==` padding.
    Unpadded,
    /// Base64 of the GUID's *text* (AADInternals' Get-AADIntImmutableID).
    Base64OfText,
    /// Base64 in the URL-safe alphabet (`-`, `_`).
    UrlSafe,
    /// The GUID as text or hex digits, not base64 at all.
    GuidText,
}

impl WrongNotation {
    /// What the mistake is, for a Check.
    pub fn describe(self) -> &'static str {
        match self {
            WrongNotation::BigEndian => {
                "base64 of its bytes in RFC 4122 (big-endian) order instead of AD's byte order"
            }
            WrongNotation::Unpadded => "base64 without the == padding",
            WrongNotation::Base64OfText => "base64 of the GUID's text instead of its 16 bytes",
            WrongNotation::UrlSafe => "URL-safe base64 (- and _) instead of the standard alphabet",
            WrongNotation::GuidText => "the GUID as text instead of base64 of its bytes",
        }
    }
}

/// `stored` (a cloud `onPremisesImmutableId`) names the same object as `anchor`, but in a
/// notation no sync engine matches on: `None` when it is the right value or another object.
/// Entra Connect compares ImmutableIds exactly, so such a value matches no AD object, and
/// replacing it with `anchor`'s is safe.
pub fn same_guid_in_wrong_notation(stored: &str, anchor: SourceAnchor) -> Option<WrongNotation> {
    let s = trim(stored);
    let right = anchor.immutable_id();
    if s == right || s.is_empty() {
        return None;
    }
    if s == right.trim_end_matches('=') {
        return Some(WrongNotation::Unpadded);
    }
    let big_endian = B64.encode(anchor.guid().as_bytes());
    if s == big_endian || s == big_endian.trim_end_matches('=') {
        return Some(WrongNotation::BigEndian);
    }
    if B64_URL_SAFE
        .decode(s)
        .is_ok_and(|b| b.as_slice() == anchor.as_bytes())
        && s.contains(['-', '_'])
    {
        return Some(WrongNotation::UrlSafe);
    }
    let text_names_it = |t: &str| {
        matches!(parse(t, Some(HexAs::Guid)), Ok(Parsed::One { anchor: a, notation })
            if a == anchor && matches!(notation, Notation::GuidText | Notation::GuidHex))
    };
    if text_names_it(s) {
        return Some(WrongNotation::GuidText);
    }
    let decoded = B64_PAD_INDIFFERENT.decode(s).ok()?;
    let text = std::str::from_utf8(&decoded).ok()?;
    text_names_it(text).then_some(WrongNotation::Base64OfText)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &str) -> (SourceAnchor, Notation) {
        match parse(input, None) {
            Ok(Parsed::One { anchor, notation }) => (anchor, notation),
            other => panic!("{input:?}: expected one anchor, got {other:?}"),
        }
    }

    fn reason(input: &str) -> String {
        match parse(input, None) {
            Err(AnchorError::Invalid(msg)) => msg,
            other => panic!("{input:?}: expected a rejection, got {other:?}"),
        }
    }

    const V01_GUID: &str = "3ab39606-c642-489b-84b6-58c038d3ef39";
    const V01_ID: &str = "BpazOkLGm0iEtljAONPvOQ==";

    #[test]
    fn guid_text_in_every_spelling_is_the_same_anchor() {
        let (a, n) = one(V01_GUID);
        assert_eq!(n, Notation::GuidText);
        assert_eq!(a.immutable_id(), V01_ID);
        for s in [
            "{3AB39606-C642-489B-84B6-58C038D3EF39}",
            "(3ab39606-c642-489b-84b6-58c038d3ef39)",
            "{3ab39606c642489b84b658c038d3ef39}",
            "urn:uuid:3ab39606-c642-489b-84b6-58c038d3ef39",
            "  3AB39606-c642-489B-84b6-58C038D3EF39\t",
            "\u{feff}3ab39606-c642-489b-84b6-58c038d3ef39\r\n",
        ] {
            assert_eq!(one(s), (a, Notation::GuidText), "{s:?}");
        }
    }

    #[test]
    fn immutable_id_padded_unpadded_ldif_and_apostrophe() {
        let (a, n) = one(V01_ID);
        assert_eq!(
            (a.guid().hyphenated().to_string().as_str(), n),
            (V01_GUID, Notation::ImmutableId)
        );
        for s in [
            "BpazOkLGm0iEtljAONPvOQ",
            "objectGUID:: BpazOkLGm0iEtljAONPvOQ==",
            "mS-DS-ConsistencyGuid::BpazOkLGm0iEtljAONPvOQ==",
            "'BpazOkLGm0iEtljAONPvOQ==",
            " ' BpazOkLGm0iEtljAONPvOQ== ",
            "\"BpazOkLGm0iEtljAONPvOQ==\"",
            "\"'BpazOkLGm0iEtljAONPvOQ==\"",
        ] {
            assert_eq!(one(s), (a, Notation::ImmutableId), "{s:?}");
        }
    }

    #[test]
    fn immutable_ids_starting_with_plus_or_slash_a4() {
        // V51 (public ldapsearch dump) and V28 (Microsoft Sch36.ldf), formats.md A4.
        for s in [
            "+7Byu5JQuU2TfrLSegT8VQ==",
            "/Ygcqvawn0Kyyp2QImboCA==",
            "+W/bvN0OPkWmWWupohoYJw==",
        ] {
            let (a, _) = one(s);
            assert_eq!(a.immutable_id(), s);
            // The apostrophe an Excel-sanitising exporter prepends (formats.md F5) is not part of it.
            assert_eq!(one(&format!("'{s}")).0, a);
        }
        assert_eq!(
            one("+7Byu5JQuU2TfrLSegT8VQ==")
                .0
                .guid()
                .hyphenated()
                .to_string(),
            "bb72b0fb-5092-4db9-937e-b2d27a04fc55"
        );
    }

    #[test]
    fn bytes_below_0x10_keep_their_zero_a5() {
        let (a, _) = one("00010203-0405-0607-0809-0a0b0c0d0e0f");
        assert_eq!(
            a.octet_hex(),
            "03020100050407060809 0a0b0c0d0e0f".replace(' ', "")
        );
        assert_eq!(
            a.ldap_filter_escape(),
            "\\03\\02\\01\\00\\05\\04\\07\\06\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f"
        );
        assert_eq!(a.immutable_id(), "AwIBAAUEBwYICQoLDA0ODw==");
        assert_eq!(one(&a.ldap_filter_escape()).0, a);
        // ldapjs #120 / pypykatz #50: a dropped zero must be rejected, never re-padded by guessing.
        let msg = reason("aabbaabb-0bb-aabb-aabb-aabbaabbaa4");
        assert!(msg.contains("8-4-4-4-12"), "{msg}");
        let msg = reason("\\3\\02\\01\\00\\05\\04\\07\\06\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f");
        assert!(msg.contains("leading zero"), "{msg}");
        let msg = reason("3 02 01 00 05 04 07 06 08 09 0a 0b 0c 0d 0e 0f");
        assert!(msg.contains("leading zero"), "{msg}");
        let msg = reason("3020100050407060809a0b0c0d0e0f");
        assert!(msg.contains("30 hex digits"), "{msg}");
    }

    #[test]
    fn nil_guid_in_every_notation() {
        let nil = SourceAnchor::from_bytes([0; 16]);
        assert_eq!(nil.immutable_id(), "AAAAAAAAAAAAAAAAAAAAAA==");
        for s in [
            "00000000-0000-0000-0000-000000000000",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "AAAAAAAAAAAAAAAAAAAAAA",
            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
            "X'00000000000000000000000000000000'",
        ] {
            assert_eq!(one(s).0, nil, "{s:?}");
        }
        // Both readings of 32 zeros agree, so there is nothing to ask.
        assert_eq!(one("00000000000000000000000000000000").0, nil);
    }

    #[test]
    fn octet_notations() {
        let want = one("46e23144-8377-483e-a87e-b6769db62eed").0;
        for (s, n) in [
            ("44 31 E2 46 77 83 3E 48 A8 7E B6 76 9D B6 2E ED", Notation::SpacedHex),
            ("44-31-E2-46-77-83-3E-48-A8-7E-B6-76-9D-B6-2E-ED", Notation::SpacedHex),
            ("0x44, 0x31, 0xe2, 0x46, 0x77, 0x83, 0x3e, 0x48, 0xa8, 0x7e, 0xb6, 0x76, 0x9d, 0xb6, 0x2e, 0xed", Notation::SpacedHex),
            ("\\44\\31\\E2\\46\\77\\83\\3E\\48\\A8\\7E\\B6\\76\\9D\\B6\\2E\\ED", Notation::LdapEscape),
            ("\\44\\31\\e2\\46\\77\\83\\3e\\48\\a8\\7e\\b6\\76\\9d\\b6\\2e\\ed", Notation::LdapEscape),
            ("(objectGUID=\\44\\31\\e2\\46\\77\\83\\3e\\48\\a8\\7e\\b6\\76\\9d\\b6\\2e\\ed)", Notation::LdapEscape),
            ("X'4431e24677833e48a87eb6769db62eed'", Notation::CsvdeHex),
            ("x'4431E24677833E48A87EB6769DB62EED'", Notation::CsvdeHex),
        ] {
            assert_eq!(one(s), (want, n), "{s:?}");
        }
    }

    #[test]
    fn a_cut_off_immutable_id_is_explained_in_words() {
        for (value, missing) in [
            ("BpazOkLGm0iEtljAONPvO==", "1 character is missing"),
            ("BpazOkLGm0iEtljAONPv==", "2 characters are missing"),
        ] {
            let Err(AnchorError::Invalid(why)) = parse(value, None) else {
                panic!("{value} accepted");
            };
            assert!(
                why.contains(missing) && why.contains("cut off"),
                "{value}: {why}"
            );
            assert!(!why.contains("Invalid symbol"), "{why}");
        }
    }

    #[test]
    fn plain_32_hex_is_ambiguous_unless_decided() {
        let s = "32c34a8c5f971747ad7bba4a4e968fff"; // V09: raw octets
        let Ok(Parsed::Ambiguous { as_guid, as_octets }) = parse(s, None) else {
            panic!("32 hex must be ambiguous");
        };
        assert_eq!(as_octets.immutable_id(), "MsNKjF+XF0ete7pKTpaP/w==");
        assert_eq!(as_guid.guid().simple().to_string(), s);
        assert_eq!(
            parse(s, Some(HexAs::Octets)),
            Ok(Parsed::One {
                anchor: as_octets,
                notation: Notation::OctetHex
            })
        );
        assert_eq!(
            parse(s, Some(HexAs::Guid)),
            Ok(Parsed::One {
                anchor: as_guid,
                notation: Notation::GuidHex
            })
        );
        assert!(parse_one(s, None).is_err());
        // A binary literal is just as ambiguous.
        assert_eq!(parse(&format!("0x{s}"), None), parse(s, None));
        assert_eq!(
            parse(&format!("0X{s}"), Some(HexAs::Octets)),
            parse(s, Some(HexAs::Octets))
        );
    }

    #[test]
    fn rejects_u_fffd_corrupted_value_a2() {
        // V41: 24 bytes with EF BF BD, a binary GUID decoded as text and re-encoded.
        let msg = reason("77+9O++/vVEhb3hJ77+9alnvv71oKmlJ");
        assert!(msg.contains("24 bytes"), "{msg}");
        assert!(msg.contains("decoded as text"), "{msg}");
        // The same corruption pasted as text.
        let msg = reason("\u{fffd}Q!oxI\u{fffd}jY\u{fffd}h*iI");
        assert!(msg.contains("decoded as text"), "{msg}");
    }

    #[test]
    fn rejects_base64_of_guid_text_and_shows_the_guid_a5() {
        // AADInternals Get-AADIntImmutableID: base64 of the UTF-8 GUID text, 48 characters.
        let wrong = B64.encode(V01_GUID);
        assert_eq!(wrong.len(), 48);
        let msg = reason(&wrong);
        assert!(msg.contains("GUID *text*"), "{msg}");
        assert!(msg.contains(V01_GUID), "{msg}");
        assert!(msg.contains(V01_ID), "shows the right ImmutableId: {msg}");
        let braced = B64.encode("{3AB39606-C642-489B-84B6-58C038D3EF39}");
        assert!(reason(&braced).contains(V01_GUID));
    }

    #[test]
    fn rejects_broken_base64_a3() {
        // V56: every `=` rendered as `-`.
        let msg = reason("+BvWnS9ShECZOKC//54xHQ----");
        assert!(msg.contains("broken base64"), "{msg}");
        assert!(
            msg.contains("+BvWnS9ShECZOKC//54xHQ=="),
            "offers the likely value: {msg}"
        );
        for s in [
            "BpazOkLGm0iEtljAONPvOQ=",    // one `=` only
            "BpazOkLGm0iEtljAONPvOQ===",  // three
            "BpazOkLGm0iEtl=jAONPvOQ==",  // `=` inside
            "BpazOkLGm0iEtljAONPvO",      // 21 characters
            "BpazOkLGm0iEtljAONPvOQ==AA", // extra after padding
        ] {
            assert!(
                matches!(parse(s, None), Err(AnchorError::Invalid(_))),
                "{s:?}"
            );
        }
        assert!(reason("BpazOkLGm0iEtljAONPvOQAAAA==").contains("19 bytes"));
    }

    #[test]
    fn rejects_non_canonical_base64() {
        // `R` instead of `Q`: same 16 bytes if trailing bits were ignored, but no encoder writes it.
        let msg = reason("BpazOkLGm0iEtljAONPvOR==");
        assert!(msg.contains("non-canonical"), "{msg}");
        assert!(reason("BpazOkLGm0iEtljAONPvOR").contains("non-canonical"));
        assert_eq!(guid_based("BpazOkLGm0iEtljAONPvOR=="), None);
    }

    #[test]
    fn rejects_url_safe_base64() {
        let id = "+7Byu5JQuU2TfrLSegT8VQ==";
        let url = id.replace('+', "-").replace('/', "_");
        let msg = reason(&url);
        assert!(msg.contains("URL-safe"), "{msg}");
        assert!(msg.contains("`$` and `_`"), "{msg}");
        assert!(msg.contains(id), "shows the standard form: {msg}");
        assert!(reason("_Ygcqvawn0Kyyp2QImboCA").contains("URL-safe"));
    }

    #[test]
    fn rejects_invalid_guid_text_a6() {
        // V14 (Posh365 help) and a 35-character GUID (V05b).
        let msg = reason("e6b4csdc-des6-4d34-bdfe-9adff2cbc017");
        assert!(
            msg.contains("invalid GUID text") && msg.contains("'s'"),
            "{msg}"
        );
        let msg = reason("3ab39606-c642-489b-84b6-58c038d3ef3");
        assert!(
            msg.contains("35 characters") && msg.contains("8-4-4-4-11"),
            "{msg}"
        );
        // A brace on one side only is a copy-and-paste accident, tolerated.
        assert_eq!(
            one("{3ab39606-c642-489b-84b6-58c038d3ef39").0,
            one(V01_GUID).0
        );
    }

    #[test]
    fn rejects_other_lengths_and_garbage() {
        assert_eq!(parse("", None), Err(AnchorError::Empty));
        assert_eq!(parse("  '  ", None), Err(AnchorError::Empty));
        for s in [
            "john@contoso.com",
            "12345",
            "X'4431e2'",
            "\\44\\31",
            "44 31 E2",
            "objectGUID::",
            "Rm9vQmFy",
            "ünïcode",
            "X'zz'",
            "{}",
        ] {
            assert!(
                matches!(parse(s, None), Err(AnchorError::Invalid(_))),
                "{s:?}"
            );
        }
        assert!(reason("john@contoso.com").contains("not GUID-based"));
        // csvde writes non-ASCII strings as X'…' too (formats.md E2).
        assert!(reason("X'4ac3b67267'").contains("text"));
    }

    #[test]
    fn guid_based_agrees_with_parse() {
        for s in [
            "+7Byu5JQuU2TfrLSegT8VQ==",
            V01_ID,
            "AAAAAAAAAAAAAAAAAAAAAA==",
        ] {
            assert_eq!(guid_based(s), Some(one(s).0));
        }
        // Cloud anchors must be stored canonically: unpadded or apostrophe-prefixed are not.
        assert_eq!(guid_based("BpazOkLGm0iEtljAONPvOQ"), None);
        assert_eq!(guid_based("john@contoso.com"), None);
    }

    #[test]
    fn immutable_id_in_a_buffer_is_the_same_text() {
        for b in [[0u8; 16], [0xfb; 16], *one(V01_ID).0.as_bytes()] {
            let a = SourceAnchor::from_bytes(b);
            assert_eq!(a.immutable_id_in(&mut [0; 24]), a.immutable_id());
        }
    }

    #[test]
    fn the_same_guid_in_a_wrong_notation_is_recognised() {
        // Issue 7 §6: 3ab39606-c642-489b-84b6-58c038d3ef39 is BpazOkLGm0iEtljAONPvOQ==.
        let a = SourceAnchor::from_guid(
            Uuid::parse_str("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap(),
        );
        assert_eq!(a.immutable_id(), "BpazOkLGm0iEtljAONPvOQ==");
        for (stored, want) in [
            ("OrOWBsZCSJuEtljAONPvOQ==", WrongNotation::BigEndian),
            ("OrOWBsZCSJuEtljAONPvOQ", WrongNotation::BigEndian),
            ("BpazOkLGm0iEtljAONPvOQ", WrongNotation::Unpadded),
            (
                "M2FiMzk2MDYtYzY0Mi00ODliLTg0YjYtNThjMDM4ZDNlZjM5",
                WrongNotation::Base64OfText,
            ),
            (
                "3ab39606-c642-489b-84b6-58c038d3ef39",
                WrongNotation::GuidText,
            ),
            (
                "{3AB39606-C642-489B-84B6-58C038D3EF39}",
                WrongNotation::GuidText,
            ),
        ] {
            assert_eq!(
                same_guid_in_wrong_notation(stored, a),
                Some(want),
                "{stored}"
            );
        }
        let url_safe = SourceAnchor::from_bytes([0xfb; 16]);
        assert_eq!(
            same_guid_in_wrong_notation(
                &url_safe.immutable_id().replace('+', "-").replace('/', "_"),
                url_safe
            ),
            Some(WrongNotation::UrlSafe)
        );
        // The right value, another object's value, and non-GUID anchors are not this mistake.
        let other = SourceAnchor::from_bytes([7; 16]);
        for stored in [
            "BpazOkLGm0iEtljAONPvOQ==",
            &other.immutable_id(),
            "pat@contoso.com",
            "",
        ] {
            assert_eq!(same_guid_in_wrong_notation(stored, a), None, "{stored}");
        }
    }

    #[test]
    fn decimal_bytes_as_powershell_joins_them_are_read_in_ad_order() {
        // Issue 7 §11: `$_.'mS-DS-ConsistencyGuid' -join ' '` of 3ab39606-c642-489b-84b6-58c038d3ef39.
        let a = SourceAnchor::from_guid(
            Uuid::parse_str("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap(),
        );
        let joined: Vec<String> = a.as_bytes().iter().map(u8::to_string).collect();
        let spaced = joined.join(" ");
        assert!(spaced.starts_with("6 150 179 58 "), "{spaced}");
        assert_eq!(one(&spaced), (a, Notation::DecimalBytes));
        assert_eq!(one(&joined.join(",")).0, a);
        assert!(reason("6 150 179 58").contains("4 decimal byte values"));
        assert!(reason(&spaced.replace("150", "350")).contains("over 255"));
        // Two hex digits each stay hex octets.
        assert_eq!(
            one("44 31 E2 46 77 83 3E 48 A8 7E B6 76 9D B6 2E ED").1,
            Notation::SpacedHex
        );
    }
}
