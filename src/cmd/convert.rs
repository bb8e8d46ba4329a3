//! `hardmatch convert VALUE...`: show one objectGUID in every notation an admin meets (GUID,
//! ImmutableId, octet hex, LDAP filter escape) with the commands that find its owner in AD and Entra ID.
//!
//! Each VALUE may be in any notation [`hardmatch::anchor::parse`] reads; `-` reads one value per line
//! from stdin. Invalid values get their reason and the others are still converted. Exit code 0 only
//! if every value converted to exactly one objectGUID; 2 if any was invalid or ambiguous (32 plain
//! hex digits without `--hex-as`).
//!
//! `--json` prints one JSON array with one object per value, in input order. Field names are stable:
//!
//! - `input`: the value as given;
//! - `status`: `"ok"`, `"ambiguous"` or `"invalid"`;
//! - `error`: the reason (only when `invalid`);
//! - when `ok`: `notation` (`guid_text`, `guid_hex`, `immutable_id`, `octet_hex`, `spaced_hex`,
//!   `ldap_escape`, `csvde_hex`) and the reading's fields below;
//! - when `ambiguous`: `readings`, two objects, each with `as` (`"guid"` or `"octets"`) and the
//!   reading's fields below.
//!
//! A reading's fields: `guid`, `immutable_id`, `octet_hex`, `ldap_filter_escape`, `get_aduser`,
//! `ldifde`, `get_mguser`, `graph_url`.

use hardmatch::anchor::{self, AnchorError, HexAs, Notation, Parsed, SourceAnchor};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use std::io::{BufRead, Write};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Accepted notations (surrounding spaces, quotes and a leading ' are ignored):
  3ab39606-c642-489b-84b6-58c038d3ef39     GUID text, any case, with or without {braces}
  BpazOkLGm0iEtljAONPvOQ==                 ImmutableId (also 22 characters without ==)
  objectGUID:: BpazOkLGm0iEtljAONPvOQ==    a line from an ldifde/ldapsearch LDIF file
  06 96 B3 3A 42 C6 9B 48 84 B6 58 C0 ...  octets, spaced (or - : , separated)
  \\06\\96\\b3\\3a\\42\\c6\\9b\\48...              LDAP filter escape
  X'0696b33a42c69b4884b658c038d3ef39'      csvde
  0696b33a42c69b4884b658c038d3ef39         32 plain hex digits: ambiguous, use --hex-as

Exit code: 0 if every value converted, 2 if any was invalid or ambiguous."
)]
pub struct Args {
    /// GUIDs, ImmutableIds or octet strings in any notation (`-` reads one per line from stdin;
    /// put `--` before a value that starts with `-`).
    #[arg(required = true, value_name = "VALUE")]
    pub values: Vec<String>,
    /// Print a JSON array instead of text.
    #[arg(long)]
    pub json: bool,
    /// How to read 32 plain hex digits: .NET "N" GUID text or raw octets (csvde/ADSI Edit order).
    /// Same name as in `plan`; `--as` is the old spelling, still accepted.
    #[arg(long = "hex-as", alias = "as", value_enum, value_name = "READING")]
    pub hex_as: Option<HexAsArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HexAsArg {
    Guid,
    Octets,
}

impl From<HexAsArg> for HexAs {
    fn from(a: HexAsArg) -> Self {
        match a {
            HexAsArg::Guid => HexAs::Guid,
            HexAsArg::Octets => HexAs::Octets,
        }
    }
}

/// Every notation of one objectGUID and where to look it up.
#[derive(Debug, Serialize)]
struct Reading {
    guid: String,
    immutable_id: String,
    octet_hex: String,
    ldap_filter_escape: String,
    get_aduser: String,
    ldifde: String,
    get_mguser: String,
    graph_url: String,
}

#[derive(Debug, Serialize)]
struct AsReading {
    #[serde(rename = "as")]
    reading_as: &'static str,
    #[serde(flatten)]
    reading: Reading,
}

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Outcome {
    Ok {
        #[serde(skip)]
        kind: Notation,
        notation: &'static str,
        #[serde(flatten)]
        reading: Reading,
    },
    Ambiguous {
        readings: Box<[AsReading; 2]>,
    },
    Invalid {
        error: String,
    },
}

#[derive(Debug, Serialize)]
struct Converted {
    input: String,
    #[serde(flatten)]
    outcome: Outcome,
}

/// Characters that must be escaped inside a URL query value; base64's `+` would otherwise mean space.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn reading(a: &SourceAnchor) -> Reading {
    let guid = a.guid().hyphenated().to_string();
    let immutable_id = a.immutable_id();
    let escape = a.ldap_filter_escape();
    let filter = format!("onPremisesImmutableId eq '{immutable_id}'");
    Reading {
        get_aduser: format!("Get-ADUser -Filter \"ObjectGUID -eq '{guid}'\""),
        ldifde: format!("ldifde -f user.ldf -r \"(objectGUID={escape})\""),
        get_mguser: format!(
            "Get-MgUser -Filter \"{filter}\" -Property Id,UserPrincipalName,OnPremisesImmutableId,OnPremisesSyncEnabled"
        ),
        graph_url: format!(
            "https://graph.microsoft.com/v1.0/users?$filter={}&$select=id,userPrincipalName,onPremisesImmutableId,onPremisesSyncEnabled",
            utf8_percent_encode(&filter, QUERY_VALUE)
        ),
        octet_hex: a.octet_hex(),
        ldap_filter_escape: escape,
        immutable_id,
        guid,
    }
}

fn notation_name(n: Notation) -> &'static str {
    match n {
        Notation::GuidText => "guid_text",
        Notation::GuidHex => "guid_hex",
        Notation::ImmutableId => "immutable_id",
        Notation::OctetHex => "octet_hex",
        Notation::SpacedHex => "spaced_hex",
        Notation::LdapEscape => "ldap_escape",
        Notation::CsvdeHex => "csvde_hex",
        Notation::DecimalBytes => "decimal_bytes",
    }
}

fn notation_label(n: Notation) -> &'static str {
    match n {
        Notation::GuidText => "GUID text",
        Notation::GuidHex => "32 hex digits read as .NET \"N\" GUID text (--hex-as guid)",
        Notation::ImmutableId => "base64 ImmutableId / LDIF objectGUID::",
        Notation::OctetHex => "32 hex digits read as raw octets",
        Notation::SpacedHex => "octet string",
        Notation::LdapEscape => "LDAP filter escape",
        Notation::CsvdeHex => "csvde X'…' hex",
        Notation::DecimalBytes => "decimal bytes (PowerShell -join ' ')",
    }
}

fn convert(input: &str, hex_as: Option<HexAs>) -> Converted {
    let outcome = match anchor::parse(input, hex_as) {
        Ok(Parsed::One { anchor, notation }) => Outcome::Ok {
            kind: notation,
            notation: notation_name(notation),
            reading: reading(&anchor),
        },
        Ok(Parsed::Ambiguous { as_guid, as_octets }) => Outcome::Ambiguous {
            readings: Box::new([
                AsReading {
                    reading_as: "guid",
                    reading: reading(&as_guid),
                },
                AsReading {
                    reading_as: "octets",
                    reading: reading(&as_octets),
                },
            ]),
        },
        Err(AnchorError::Empty) => Outcome::Invalid {
            error: "empty value".into(),
        },
        Err(AnchorError::Invalid(msg)) => Outcome::Invalid { error: msg },
    };
    Converted {
        input: input.to_string(),
        outcome,
    }
}

fn write_reading(out: &mut impl Write, r: &Reading, indent: &str) -> std::io::Result<()> {
    writeln!(out, "{indent}GUID           {}", r.guid)?;
    writeln!(out, "{indent}ImmutableId    {}", r.immutable_id)?;
    writeln!(out, "{indent}octet hex      {}", r.octet_hex)?;
    writeln!(out, "{indent}LDAP escape    {}", r.ldap_filter_escape)?;
    writeln!(out, "{indent}find it:")?;
    writeln!(out, "{indent}  {}", r.get_aduser)?;
    writeln!(out, "{indent}  {}", r.ldifde)?;
    writeln!(out, "{indent}  {}", r.get_mguser)?;
    writeln!(out, "{indent}  GET {}", r.graph_url)
}

fn write_text(out: &mut impl Write, c: &Converted) -> std::io::Result<()> {
    match &c.outcome {
        Outcome::Ok { kind, reading, .. } => {
            writeln!(
                out,
                "input          {}  ({})",
                c.input,
                notation_label(*kind)
            )?;
            write_reading(out, reading, "")?;
        }
        Outcome::Ambiguous { readings } => {
            writeln!(
                out,
                "input          {}  (32 hex digits: AMBIGUOUS)",
                c.input
            )?;
            writeln!(
                out,
                "  32 plain hex digits are either .NET \"N\" GUID text or raw octets; both readings follow.\n  \
                 Rerun with --hex-as guid or --hex-as octets once you know which tool wrote the value."
            )?;
            for r in readings.iter() {
                let what = match r.reading_as {
                    "guid" => "as .NET \"N\" GUID text (--hex-as guid):",
                    _ => "as raw octets, AD byte order (--hex-as octets):",
                };
                writeln!(out, "  {what}")?;
                write_reading(out, &r.reading, "    ")?;
            }
        }
        Outcome::Invalid { error } => {
            writeln!(out, "input          {}", c.input)?;
            writeln!(out, "INVALID        {error}")?;
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let hex_as = args.hex_as.map(HexAs::from);
    let mut inputs = Vec::new();
    for v in args.values {
        if v == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line?;
                if !line.trim().is_empty() {
                    inputs.push(line);
                }
            }
        } else {
            inputs.push(v);
        }
    }

    let results: Vec<Converted> = inputs.iter().map(|i| convert(i, hex_as)).collect();
    let failed = results
        .iter()
        .filter(|c| !matches!(c.outcome, Outcome::Ok { .. }))
        .count();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &results)?;
        writeln!(out)?;
    } else {
        for (i, c) in results.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write_text(&mut out, c)?;
        }
    }
    out.flush()?;
    if failed == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "hardmatch convert: {failed} of {} values did not convert to exactly one objectGUID (invalid or ambiguous)",
        results.len()
    );
    Ok(ExitCode::from(2))
}
