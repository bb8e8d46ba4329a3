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
pub fn parse(input: &str, hex_as: Option<HexAs>) -> Result<Parsed, AnchorError> {
    let _ = (input, hex_as);
    todo!("anchor::parse")
}

/// Read a value that must be unambiguous (e.g. a cell in a column named objectGUID).
/// 32 plain hex digits are an error here unless `hex_as` decides.
pub fn parse_one(input: &str, hex_as: Option<HexAs>) -> Result<SourceAnchor, AnchorError> {
    match parse(input, hex_as)? {
        Parsed::One { anchor, .. } => Ok(anchor),
        Parsed::Ambiguous { .. } => Err(AnchorError::Invalid(
            "32 hex digits are ambiguous: .NET \"N\" GUID text or raw octets; write the GUID with dashes"
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
