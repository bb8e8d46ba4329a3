//! LDIF (RFC 2849) as ldifde and ldapsearch write it.
//!
//! Real exports bend the RFC, so the reader is strict where a mistake would change an identifier
//! and lenient where it would only drop noise:
//! - a continuation line loses exactly one leading space (or tab, as OpenLDAP allows), so a DN
//!   folded right before a comma or mid-word comes back byte for byte;
//! - a line holding only spaces between entries (Microsoft's own ldifde samples) separates entries,
//!   with a warning, instead of being glued to the line above as a strict reader would;
//! - text before the first `dn:` (`Enter LDAP Password: `, write-up decoration) is skipped with a
//!   warning naming its line; ldapsearch's `search:`/`result:` trailer is skipped silently;
//! - change records other than `add`, the RootDSE (empty DN), and objects that are not user
//!   accounts (groups, GPOs, schema, computers…) are skipped and counted in one warning, so they
//!   never turn into `InvalidInput` rows.
//!
//! Problems inside a user entry (a GUID that is not 16 bytes, two objectGUIDs, a line that is not
//! `attribute: value`) stay with that user; the run goes on. Only a file with no entry at all, or
//! whose user entries all lack userPrincipalName or objectGUID, is an [`InputError`].

use super::AdUser;
use crate::anchor::{self, HexAs, SourceAnchor};
use crate::error::InputError;
use base64::Engine;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

/// Whitespace around base64 must be ignored (RFC 2849 note 8); padding is not always written.
const B64: base64::engine::GeneralPurpose =
    base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;

/// What an admin should run when the file is not a usable user export.
const EXPORT_HINT: &str = "export the users again, e.g. `ldifde -f users.ldf -r \"(&(objectCategory=person)(objectClass=user))\" \
-l \"objectClass,objectGUID,mS-DS-ConsistencyGuid,userPrincipalName,mail,proxyAddresses,displayName,sAMAccountName\"` \
(no spaces in the -l list, and without -m or -n, which drop objectGUID), or `ldapsearch -LLL … objectClass objectGUID userPrincipalName mail`";

/// Parse decoded LDIF text into users. Returns the users and file-level warnings.
pub(crate) fn read(
    path: &Path,
    text: &str,
    hex_as: Option<HexAs>,
) -> Result<(Vec<AdUser>, Vec<String>), InputError> {
    let file = file_label(path);
    // Classic Mac OS line ends (CR only) would make the whole file one line.
    let cr_only;
    let text = if !text.contains('\n') && text.contains('\r') {
        cr_only = text.replace('\r', "\n");
        cr_only.as_str()
    } else {
        text
    };
    let mut parser = Parser::new(text);
    let mut users = Vec::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut entries = 0usize;
    let mut with_upn = 0usize;
    let mut with_guid = 0usize;
    let mut first_user_line = None;

    for entry in parser.by_ref() {
        entries += 1;
        match entry.classify() {
            Class::Skip(reason) => *skipped.entry(reason).or_default() += 1,
            Class::User => {
                first_user_line.get_or_insert(entry.dn_line);
                if entry.has(Field::Upn) {
                    with_upn += 1;
                }
                if entry.has(Field::ObjectGuid) || entry.has(Field::ConsistencyGuid) {
                    with_guid += 1;
                }
                users.push(entry.into_user(&file, hex_as));
            }
        }
    }
    let notes = parser.notes;

    if entries == 0 {
        return Err(match notes.first_content {
            None => InputError::new(
                path,
                "",
                "the file holds no LDIF entries (it is empty or holds only comments)",
                EXPORT_HINT,
            ),
            Some((line, ref excerpt)) => InputError::new(
                path,
                format!("line {line}, column 1"),
                format!(
                    "no LDIF entry: no line starts with `dn:` (the first text, `{excerpt}`, is not part of an entry)"
                ),
                format!(
                    "if the file was cut out of a larger export, keep each entry's `dn:` line; otherwise {EXPORT_HINT}"
                ),
            ),
        });
    }
    if !users.is_empty() && (with_upn == 0 || with_guid == 0) {
        let missing = match (with_upn, with_guid) {
            (0, 0) => "a userPrincipalName or an objectGUID",
            (0, _) => "a userPrincipalName",
            _ => "an objectGUID or mS-DS-ConsistencyGuid",
        };
        let line = first_user_line.unwrap_or(1);
        let n = users.len();
        return Err(InputError::new(
            path,
            format!("line {line}"),
            format!(
                "no user entry has {missing} ({n} user {}, the first on line {line}), so none can be hard-matched",
                plural(n, "entry", "entries")
            ),
            EXPORT_HINT,
        ));
    }

    let mut warnings = notes.into_warnings(&file);
    if !skipped.is_empty() {
        let total: usize = skipped.values().sum();
        let detail: Vec<String> = skipped
            .iter()
            .map(|(why, n)| format!("{n} {why}"))
            .collect();
        warnings.push(format!(
            "{file}: skipped {total} {} that {} not user accounts: {}",
            plural(total, "entry", "entries"),
            if total == 1 { "is" } else { "are" },
            detail.join(", ")
        ));
    }
    Ok((users, warnings))
}

fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn plural<'s>(n: usize, one: &'s str, many: &'s str) -> &'s str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// A line as shown in a message: short, one line, control characters escaped.
fn excerpt(s: &str) -> String {
    const MAX: usize = 60;
    let mut out: String = s
        .chars()
        .take(MAX)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// [`excerpt`] of text that is not LDIF, with anything that looks like a password removed: such
/// text is often the command line that made the file (`ldapsearch … -w Secret`), and warnings
/// end up in the review workbook.
fn excerpt_redacted(s: &str) -> String {
    let mut out = Vec::new();
    let mut hide_next = false;
    for word in s.split(' ') {
        if hide_next && !word.is_empty() {
            out.push("[redacted]".to_string());
            hide_next = false;
            continue;
        }
        let lower = word.to_ascii_lowercase();
        let is_flag = matches!(
            lower.as_str(),
            "-w" | "--password" | "-password" | "/p" | "-p"
        );
        if is_flag {
            out.push(word.to_string());
            hide_next = true;
            continue;
        }
        let Some(i) = lower.find("password").or_else(|| lower.find("pwd")) else {
            out.push(word.to_string());
            continue;
        };
        // `password=x`, `pwd:x` keep their key; a bare `Password:` hides the next word.
        match word[i..].find([':', '=']) {
            Some(j) => {
                let head = &word[..i + j];
                let rest = word[i + j..].trim_start_matches([':', '=']);
                let seps = &word[i + j..word.len() - rest.len()];
                if rest.is_empty() {
                    out.push(word.to_string());
                    hide_next = true;
                } else {
                    out.push(format!("{head}{seps}[redacted]"));
                }
            }
            None => out.push(word.to_string()),
        }
    }
    excerpt(&out.join(" "))
}

// ---------------------------------------------------------------------------------------------
// Physical and logical lines
// ---------------------------------------------------------------------------------------------

/// The physical line starting at byte `pos` (without its CR LF / LF) and where the next one starts.
fn physical_at(text: &str, pos: usize) -> Option<(&str, usize)> {
    let rest = text.get(pos..).filter(|r| !r.is_empty())?;
    let (line, next) = match rest.find('\n') {
        Some(i) => (&rest[..i], pos + i + 1),
        None => (rest, text.len()),
    };
    Some((line.strip_suffix('\r').unwrap_or(line), next))
}

fn is_blank(line: &str) -> bool {
    line.bytes().all(|b| b == b' ' || b == b'\t')
}

/// `dn:` / `DN::` at the start of a physical or logical line.
fn starts_with_dn(line: &str) -> bool {
    line.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("dn:"))
}

/// For whitespace-only physical lines starting at byte `pos`: where the run of them ends, and
/// whether what follows it ends the record (a new record, a comment, a blank line or the end of
/// the file) rather than continuing the line above them.
fn blank_run(text: &str, mut pos: usize) -> (usize, bool) {
    loop {
        match physical_at(text, pos) {
            None => return (pos, true),
            Some((n, next)) if !n.is_empty() && is_blank(n) => pos = next,
            Some((n, _)) => {
                return (pos, n.is_empty() || n.starts_with('#') || starts_with_dn(n));
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Logical<'a> {
    /// An empty line. `spaces` when it held only spaces or tabs right after a content line, i.e.
    /// where a strict RFC 2849 reader would have joined it to that line.
    Separator { line: usize, spaces: bool },
    /// A line with its continuation lines joined; `line` is where it starts.
    Content { line: usize, text: Cow<'a, str> },
}

/// Unfolds physical lines into logical ones without copying unless a line was folded.
struct LogicalLines<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    after_content: bool,
}

impl<'a> LogicalLines<'a> {
    fn new(text: &'a str) -> Self {
        LogicalLines {
            text,
            pos: 0,
            line: 0,
            after_content: false,
        }
    }
}

impl<'a> Iterator for LogicalLines<'a> {
    type Item = Logical<'a>;

    fn next(&mut self) -> Option<Logical<'a>> {
        let (first, next) = physical_at(self.text, self.pos)?;
        self.pos = next;
        self.line += 1;
        let start = self.line;
        if is_blank(first) {
            let spaces = !first.is_empty() && self.after_content;
            self.after_content = false;
            return Some(Logical::Separator {
                line: start,
                spaces,
            });
        }
        let mut text = Cow::Borrowed(first);
        // Whitespace-only lines up to here are known to continue the line (decided once per run,
        // so a long run costs linear time).
        let mut continues_until = 0;
        while let Some((cont, after)) = physical_at(self.text, self.pos) {
            let Some(rest) = cont.strip_prefix([' ', '\t']) else {
                break;
            };
            if is_blank(cont) && self.pos >= continues_until {
                let (run_end, ends) = blank_run(self.text, self.pos);
                if ends {
                    break;
                }
                continues_until = run_end;
            }
            text.to_mut().push_str(rest);
            self.pos = after;
            self.line += 1;
        }
        self.after_content = true;
        Some(Logical::Content { line: start, text })
    }
}

// ---------------------------------------------------------------------------------------------
// `attribute: value` lines
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    /// `attr: value`
    Plain,
    /// `attr:: base64`
    Base64,
    /// `attr:< url`: a reference to a file or web resource, never followed here.
    Url,
}

#[derive(Debug)]
struct AttrLine<'t> {
    /// The attribute type without options (`ou` of `ou;lang-ja`).
    base: &'t str,
    /// It carried options (`;lang-ja`, `;binary`, `;range=0-1499`).
    options: bool,
    kind: ValueKind,
    /// Byte range of the value within the line.
    value: std::ops::Range<usize>,
}

/// RFC 2849 `AttributeDescription ":" …`; `None` when the line is not shaped like that.
fn parse_attr_line(line: &str) -> Option<AttrLine<'_>> {
    let colon = line.find(':')?;
    let name = &line[..colon];
    let valid_name = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b';' | b'.' | b'_' | b'='));
    if !valid_name {
        return None;
    }
    let (base, options) = match name.find(';') {
        Some(i) => (&name[..i], true),
        None => (name, false),
    };
    let after = colon + 1;
    let rest = &line[after..];
    let (kind, skip) = match rest.as_bytes().first() {
        Some(b':') => (ValueKind::Base64, 1),
        Some(b'<') => (ValueKind::Url, 1),
        _ => (ValueKind::Plain, 0),
    };
    let body = &rest[skip..];
    // FILL is spaces; base64 and URLs ignore surrounding whitespace, plain values keep trailing spaces.
    let (lead, value) = match kind {
        ValueKind::Plain => {
            let v = body.trim_start_matches(' ');
            (body.len() - v.len(), v)
        }
        _ => {
            let v = body.trim_start_matches([' ', '\t']);
            (body.len() - v.len(), v.trim_end_matches([' ', '\t']))
        }
    };
    let start = after + skip + lead;
    Some(AttrLine {
        base,
        options,
        kind,
        value: start..start + value.len(),
    })
}

/// Lines that decorate captured files (write-up rules, Markdown fences) and hold no data.
fn is_decoration(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty()
        && t != "-"
        && t.chars()
            .all(|c| matches!(c, '-' | '=' | '`' | '~' | '*' | '_'))
}

// ---------------------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------------------

/// The attributes hardmatch reads; everything else in an entry is checked for shape and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    ObjectClass,
    ChangeType,
    Upn,
    ObjectGuid,
    ConsistencyGuid,
    Mail,
    ProxyAddresses,
    DisplayName,
    DistinguishedName,
    SamAccountName,
}

impl Field {
    const ALL: [Field; 10] = [
        Field::ObjectClass,
        Field::ChangeType,
        Field::Upn,
        Field::ObjectGuid,
        Field::ConsistencyGuid,
        Field::Mail,
        Field::ProxyAddresses,
        Field::DisplayName,
        Field::DistinguishedName,
        Field::SamAccountName,
    ];

    /// Attribute names are case-insensitive (`objectGUID`, `objectGuid`, `OBJECTGUID`).
    fn from_name(base: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(base))
    }

    fn name(self) -> &'static str {
        match self {
            Field::ObjectClass => "objectClass",
            Field::ChangeType => "changetype",
            Field::Upn => "userPrincipalName",
            Field::ObjectGuid => "objectGUID",
            Field::ConsistencyGuid => "mS-DS-ConsistencyGuid",
            Field::Mail => "mail",
            Field::ProxyAddresses => "proxyAddresses",
            Field::DisplayName => "displayName",
            Field::DistinguishedName => "distinguishedName",
            Field::SamAccountName => "sAMAccountName",
        }
    }
}

#[derive(Debug)]
struct Value<'a> {
    field: Field,
    options: bool,
    kind: ValueKind,
    raw: Cow<'a, str>,
    line: usize,
}

impl Value<'_> {
    /// The value as text: base64 decoded as UTF-8.
    fn text(&self) -> Result<Cow<'_, str>, String> {
        decode_text(self.kind, &self.raw, self.field.name(), self.line)
    }
}

/// A value as text, or the row problem that says why it is not.
fn decode_text<'v>(
    kind: ValueKind,
    raw: &'v str,
    name: &str,
    line: usize,
) -> Result<Cow<'v, str>, String> {
    match kind {
        ValueKind::Plain => Ok(Cow::Borrowed(raw)),
        ValueKind::Base64 => {
            let bytes = decode_base64(raw)
                .map_err(|e| format!("line {line}: {name}:: is not valid base64 ({e})"))?;
            String::from_utf8(bytes)
                .map(Cow::Owned)
                .map_err(|_| format!("line {line}: {name}:: does not decode to UTF-8 text"))
        }
        ValueKind::Url => Err(url_problem(name, line)),
    }
}

fn url_problem(name: &str, line: usize) -> String {
    format!(
        "line {line}: {name} is given as a URL reference (`{name}:<`), which hardmatch does not follow; export the value itself"
    )
}

fn decode_base64(raw: &str) -> Result<Vec<u8>, base64::DecodeError> {
    // A continuation carrying two spaces (OpenLDAP's own example) leaves a space inside the value.
    if raw.bytes().any(|b| b == b' ' || b == b'\t') {
        let compact: String = raw.chars().filter(|c| *c != ' ' && *c != '\t').collect();
        B64.decode(compact)
    } else {
        B64.decode(raw)
    }
}

/// One record of the file, with only the attributes hardmatch reads.
#[derive(Debug)]
struct Entry<'a> {
    /// Physical line of the `dn:` line: the row's location.
    dn_line: usize,
    dn_kind: ValueKind,
    dn_raw: Cow<'a, str>,
    values: Vec<Value<'a>>,
    /// Lines inside the entry that are not `attribute: value`, with an excerpt.
    malformed: Vec<(usize, String)>,
}

enum Class {
    User,
    /// Not a user account; the reason is the warning's wording.
    Skip(String),
}

/// Classes that make an entry a person account.
const USER_CLASSES: [&str; 4] = ["user", "person", "organizationalPerson", "inetOrgPerson"];
/// Classes that are never a hard-matchable user, even when they derive from `user` (computers,
/// managed service accounts) or `person` (contacts).
const NOT_USER_CLASSES: [&str; 20] = [
    "computer",
    "contact",
    "group",
    "container",
    "organizationalUnit",
    "classSchema",
    "attributeSchema",
    "groupPolicyContainer",
    "domainDNS",
    "domain",
    "builtinDomain",
    "foreignSecurityPrincipal",
    "msDS-ManagedServiceAccount",
    "msDS-GroupManagedServiceAccount",
    "msDS-DelegatedManagedServiceAccount",
    "trustedDomain",
    "subSchema",
    "crossRef",
    "dMD",
    "organization",
];
/// RDN types of containers: an entry named like this is not a user even without objectClass.
const CONTAINER_RDNS: [&str; 6] = ["ou", "dc", "o", "c", "l", "st"];

impl<'a> Entry<'a> {
    fn has(&self, field: Field) -> bool {
        self.values.iter().any(|v| v.field == field)
    }

    fn all(&self, field: Field) -> impl Iterator<Item = &Value<'a>> {
        self.values.iter().filter(move |v| v.field == field)
    }

    /// The DN as text, base64 decoded.
    fn dn(&self) -> Result<Cow<'_, str>, String> {
        decode_text(self.dn_kind, &self.dn_raw, "dn", self.dn_line)
    }

    fn classify(&self) -> Class {
        if let Some(ct) = self.all(Field::ChangeType).next() {
            let ct = ct.text().unwrap_or_default();
            let ct = ct.trim();
            // ldifde writes `changetype: add` on every exported entry; adprep uses ntdsSchemaAdd.
            if !ct.eq_ignore_ascii_case("add") && !ct.eq_ignore_ascii_case("ntdsSchemaAdd") {
                return Class::Skip(format!("change record (changetype: {})", excerpt(ct)));
            }
        }
        if let Ok(dn) = self.dn() {
            if dn.trim().is_empty() {
                return Class::Skip("RootDSE (empty dn)".into());
            }
        }
        let classes = || self.all(Field::ObjectClass).filter_map(|v| v.text().ok());
        let is = |set: &[&'static str]| {
            set.iter()
                .copied()
                .find(|s| classes().any(|c| c.trim().eq_ignore_ascii_case(s)))
        };
        let has_upn = self.has(Field::Upn);
        if let Some(last) = classes().last() {
            if let Some(c) = is(&NOT_USER_CLASSES) {
                return Class::Skip(format!("objectClass {c}"));
            }
            if is(&USER_CLASSES).is_some() || has_upn {
                return Class::User;
            }
            // AD lists the most specific class last.
            return Class::Skip(format!("objectClass {}", excerpt(last.trim())));
        }
        if !has_upn && !self.has(Field::ObjectGuid) && !self.has(Field::ConsistencyGuid) {
            Class::Skip("without objectClass, userPrincipalName or objectGUID".into())
        } else if self.named_like_container() {
            Class::Skip("without objectClass named like a container (OU=, DC=…)".into())
        } else {
            Class::User
        }
    }

    /// `OU=…`, `DC=…`: the first RDN's type names a container, not an account.
    fn named_like_container(&self) -> bool {
        let Ok(dn) = self.dn() else { return false };
        let Some((ty, _)) = dn.trim_start().split_once('=') else {
            return false;
        };
        CONTAINER_RDNS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(ty.trim()))
    }

    fn into_user(self, file: &str, hex_as: Option<HexAs>) -> AdUser {
        let mut user = AdUser {
            location: format!("{file}:{}", self.dn_line),
            ..AdUser::default()
        };
        match self.dn() {
            Ok(dn) => user.dn = Some(dn.into_owned()),
            Err(p) => user.problems.push(p),
        }
        for (line, text) in &self.malformed {
            user.problems.push(format!(
                "line {line}: `{text}` is not `attribute: value`; the entry may be cut off or its line folding broken"
            ));
        }

        let mut upns = self.all(Field::Upn);
        match upns.next() {
            None => user.problems.push(format!(
                "no userPrincipalName in the entry starting on line {}",
                self.dn_line
            )),
            Some(first) => {
                match first.text() {
                    Ok(t) => {
                        // Kept as it is (the plan trims blanks); an invisible character
                        // anywhere is reported.
                        user.problems.extend(super::upn_problem(t.trim()));
                        user.upn = t.into_owned();
                    }
                    Err(p) => user.problems.push(p),
                }
                if let Some(second) = upns.next() {
                    user.problems.push(format!(
                        "line {}: a second userPrincipalName (the first is on line {}); it is single-valued, so the file was merged or garbled",
                        second.line, first.line
                    ));
                }
            }
        }

        user.object_guid = self.anchor(Field::ObjectGuid, hex_as, &mut user.problems);
        user.consistency_guid = self.anchor(Field::ConsistencyGuid, hex_as, &mut user.problems);
        if !self.has(Field::ObjectGuid) && !self.has(Field::ConsistencyGuid) {
            user.problems.push(format!(
                "no objectGUID in the entry starting on line {} (ldifde -m and -n leave it out)",
                self.dn_line
            ));
        }

        user.mail = self.single_text(Field::Mail, &mut user.problems);
        user.display_name = self.single_text(Field::DisplayName, &mut user.problems);
        user.sam_account_name = self.single_text(Field::SamAccountName, &mut user.problems);
        for v in self.all(Field::ProxyAddresses) {
            match v.text() {
                Ok(t) => user.proxy_addresses.push(t.into_owned()),
                Err(p) => user.problems.push(p),
            }
        }

        if let (Some(dn), Some(v)) = (&user.dn, self.all(Field::DistinguishedName).next()) {
            match v.text() {
                // Compared without case: a directory may return either spelling of the same DN.
                // Trailing spaces are not part of a DN (RFC 4514 escapes significant ones).
                Ok(t) if !t.trim_end().eq_ignore_ascii_case(dn.trim_end()) => user.problems.push(format!(
                    "line {}: distinguishedName `{}` differs from the entry's dn `{}` (line {}); the line folding may be broken",
                    v.line,
                    excerpt(&t),
                    excerpt(dn),
                    self.dn_line
                )),
                Ok(_) => {}
                Err(p) => user.problems.push(p),
            }
        }
        user
    }

    /// A text attribute read once: the value without options (`displayName`) wins over one with
    /// options (`displayName;lang-ja`).
    fn single_text(&self, field: Field, problems: &mut Vec<String>) -> Option<String> {
        let v = self
            .all(field)
            .find(|v| !v.options)
            .or_else(|| self.all(field).next())?;
        match v.text() {
            Ok(t) => Some(t.into_owned()),
            Err(p) => {
                problems.push(p);
                None
            }
        }
    }

    fn anchor(
        &self,
        field: Field,
        hex_as: Option<HexAs>,
        problems: &mut Vec<String>,
    ) -> Option<SourceAnchor> {
        let mut values = self.all(field);
        let first = values.next()?;
        if let Some(second) = values.next() {
            problems.push(format!(
                "line {}: a second {} (the first is on line {}); it is single-valued, so the file was merged or garbled",
                second.line,
                field.name(),
                first.line
            ));
        }
        let name = field.name();
        let line = first.line;
        let result = match first.kind {
            ValueKind::Base64 => match decode_base64(&first.raw) {
                Ok(bytes) => {
                    anchor_from_bytes(&bytes).map_err(|why| format!("line {line}: {name} {why}"))
                }
                Err(e) => Err(format!("line {line}: {name}:: is not valid base64 ({e})")),
            },
            ValueKind::Url => Err(url_problem(name, line)),
            ValueKind::Plain => {
                let raw: &str = &first.raw;
                if raw.len() == 16 {
                    // ldapsearch writes a binary value as is when all its bytes are printable.
                    anchor_from_bytes(raw.as_bytes())
                        .map_err(|why| format!("line {line}: {name} {why}"))
                } else if raw.trim().is_empty() {
                    Err(format!("line {line}: {name} is empty"))
                } else {
                    anchor::parse_one(raw.trim(), hex_as)
                        .map_err(|e| format!("line {line}: {name} `{}`: {e}", excerpt(raw)))
                }
            }
        };
        match result {
            Ok(a) => Some(a),
            Err(p) => {
                problems.push(p);
                None
            }
        }
    }
}

/// 16 bytes, or why not, in words that point at the usual cause.
fn anchor_from_bytes(bytes: &[u8]) -> Result<SourceAnchor, String> {
    if let Ok(arr) = <[u8; 16]>::try_from(bytes) {
        return Ok(SourceAnchor::from_bytes(arr));
    }
    let n = bytes.len();
    let cause = if bytes.windows(3).any(|w| w == [0xEF, 0xBF, 0xBD]) {
        "; it holds EF BF BD (U+FFFD) sequences: the binary GUID was read as text and re-encoded somewhere. Export it again with ldifde or ldapsearch"
    } else if n == 36 || n == 38 {
        "; it looks like the GUID's text, not its bytes. Export the binary attribute again with ldifde or ldapsearch"
    } else {
        ""
    };
    Err(format!("is {n} bytes, not 16{cause}"))
}

/// How many examples a warning names; the rest are counted.
const SHOWN: usize = 5;

/// Line numbers for a warning: the first few, and how many in all (memory stays bounded on a
/// file that repeats the same oddity a million times).
#[derive(Default)]
struct LineList {
    first: Vec<usize>,
    total: usize,
}

impl LineList {
    fn push(&mut self, line: usize) {
        if self.first.len() < SHOWN {
            self.first.push(line);
        }
        self.total += 1;
    }

    fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// `line 7` / `lines 7, 9 and 12 more`.
    fn describe(&self) -> String {
        let mut s = format!(
            "{} {}",
            plural(self.total, "line", "lines"),
            self.first
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if self.total > self.first.len() {
            s.push_str(&format!(" and {} more", self.total - self.first.len()));
        }
        s
    }
}

/// File-level observations, turned into warnings once the whole file is read.
#[derive(Default)]
struct Notes {
    /// The first blocks of non-LDIF text outside entries: (first line, excerpt, line count).
    noise: Vec<(usize, String, usize)>,
    noise_blocks: usize,
    /// The last noise block goes on until a blank line or an entry.
    noise_open: bool,
    /// Lines holding only spaces that were read as entry separators.
    space_separators: LineList,
    /// `dn:` lines that started a new entry without a blank line before them.
    missing_separator: LineList,
    /// `attr:< url` lines.
    url_values: LineList,
    /// Decoration (`-----`, ```` ``` ````) inside entries.
    decoration: LineList,
    /// A `version:` other than 1.
    bad_version: Option<(usize, String)>,
    /// The first non-comment text, for the error when the file has no entry.
    first_content: Option<(usize, String)>,
}

impl Notes {
    fn into_warnings(self, file: &str) -> Vec<String> {
        let mut w = Vec::new();
        for (line, text, count) in &self.noise {
            let more = match count {
                1 => String::new(),
                2 => " and the line after it".to_string(),
                n => format!(" and the {} lines after it", n - 1),
            };
            w.push(format!(
                "{file}:{line}: skipped text that is not part of an LDIF entry: `{text}`{more}"
            ));
        }
        if self.noise_blocks > self.noise.len() {
            w.push(format!(
                "{file}: skipped {} more blocks of text that are not LDIF entries",
                self.noise_blocks - self.noise.len()
            ));
        }
        if let Some((line, v)) = self.bad_version {
            w.push(format!(
                "{file}:{line}: `version: {v}` is not LDIF version 1; read as version 1"
            ));
        }
        if !self.space_separators.is_empty() {
            let one = self.space_separators.total == 1;
            w.push(format!(
                "{file}: {} {} only spaces; read as {} between entries (a strict RFC 2849 reader would join {} to the line above)",
                self.space_separators.describe(),
                if one { "holds" } else { "hold" },
                if one { "a blank line" } else { "blank lines" },
                if one { "it" } else { "them" },
            ));
        }
        if !self.missing_separator.is_empty() {
            w.push(format!(
                "{file}: `dn:` on {} without a blank line before it; read as the start of a new entry",
                self.missing_separator.describe()
            ));
        }
        if !self.url_values.is_empty() {
            w.push(format!(
                "{file}: ignored URL-referenced values (`attr:< url`) on {}; hardmatch does not follow them",
                self.url_values.describe()
            ));
        }
        if !self.decoration.is_empty() {
            w.push(format!(
                "{file}: ignored decoration lines (`-----`, code fences) inside entries on {}",
                self.decoration.describe()
            ));
        }
        w
    }

    fn noise(&mut self, line: usize, text: &str) {
        if self.noise_open {
            // Counted only while the open block is one of those kept.
            let kept = self.noise_blocks <= SHOWN;
            if let Some((_, _, count)) = self.noise.last_mut().filter(|_| kept) {
                *count += 1;
            }
        } else {
            self.noise_blocks += 1;
            if self.noise.len() < SHOWN {
                self.noise.push((line, excerpt_redacted(text), 1));
            }
        }
        self.noise_open = true;
    }
}

/// Turns logical lines into entries, collecting file-level notes on the way.
struct Parser<'a> {
    lines: LogicalLines<'a>,
    notes: Notes,
    /// A `dn:` line that ended the previous entry, to start the next one with.
    pending: Option<(usize, Cow<'a, str>)>,
    seen_entry: bool,
    seen_version: bool,
}

/// Cuts `range` out of a logical line, borrowing from the file when the line was not folded.
fn cut<'a>(text: &Cow<'a, str>, range: std::ops::Range<usize>) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[range]),
        Cow::Owned(s) => Cow::Owned(s[range].to_string()),
    }
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            lines: LogicalLines::new(text),
            notes: Notes::default(),
            pending: None,
            seen_entry: false,
            seen_version: false,
        }
    }

    fn start(&mut self, line: usize, text: Cow<'a, str>) -> Entry<'a> {
        self.seen_entry = true;
        self.notes.noise_open = false;
        let (kind, range) = match parse_attr_line(&text) {
            Some(a) => (a.kind, a.value),
            None => (ValueKind::Plain, text.len()..text.len()),
        };
        if kind == ValueKind::Url {
            self.notes.url_values.push(line);
        }
        Entry {
            dn_line: line,
            dn_kind: kind,
            dn_raw: cut(&text, range),
            values: Vec::new(),
            malformed: Vec::new(),
        }
    }

    /// A content line outside any entry.
    fn outside(&mut self, line: usize, text: &str) {
        if text.starts_with('#') {
            return;
        }
        if let Some(a) = parse_attr_line(text) {
            let value = text[a.value.clone()].trim();
            if a.base.eq_ignore_ascii_case("version") && !self.seen_entry && !self.seen_version {
                self.seen_version = true;
                if value != "1" {
                    self.notes.bad_version = Some((line, excerpt(value)));
                }
                return;
            }
            // ldapsearch's trailer (`search: 2`, `result: 0 Success`) and search references.
            if ["search", "result", "ref", "matchedDN", "text"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(a.base))
            {
                return;
            }
        }
        if self.notes.first_content.is_none() {
            self.notes.first_content = Some((line, excerpt_redacted(text)));
        }
        self.notes.noise(line, text);
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        let mut entry = self
            .pending
            .take()
            .map(|(line, text)| self.start(line, text));
        while let Some(logical) = self.lines.next() {
            match logical {
                Logical::Separator { line, spaces } => {
                    self.notes.noise_open = false;
                    if spaces {
                        self.notes.space_separators.push(line);
                    }
                    if entry.is_some() {
                        return entry;
                    }
                }
                Logical::Content { line, text } => {
                    let Some(e) = entry.as_mut() else {
                        if starts_with_dn(&text) {
                            entry = Some(self.start(line, text));
                        } else {
                            self.outside(line, &text);
                        }
                        continue;
                    };
                    if text.starts_with('#') || text.trim_end() == "-" {
                        continue;
                    }
                    if starts_with_dn(&text) {
                        self.notes.missing_separator.push(line);
                        self.pending = Some((line, text));
                        return entry;
                    }
                    match parse_attr_line(&text) {
                        Some(a) => {
                            if a.kind == ValueKind::Url {
                                self.notes.url_values.push(line);
                            }
                            if let Some(field) = Field::from_name(a.base) {
                                e.values.push(Value {
                                    field,
                                    options: a.options,
                                    kind: a.kind,
                                    raw: cut(&text, a.value),
                                    line,
                                });
                            }
                        }
                        None if is_decoration(&text) => self.notes.decoration.push(line),
                        None => e.malformed.push((line, excerpt_redacted(&text))),
                    }
                }
            }
        }
        entry
    }
}

#[cfg(test)]
mod tests;
