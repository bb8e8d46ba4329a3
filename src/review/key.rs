//! The operator's plan key, and the fingerprint it puts on every planned row.
//!
//! A workbook passes through many hands between `plan` and `apply`. Setting a privileged cloud
//! user's ImmutableId to the anchor of an AD account someone controls hands them that cloud
//! account at the next sync, so a planned value must not be changeable by whoever edits the
//! workbook, even deliberately. An unkeyed hash stops accidents only: anyone who reads the source
//! can recompute it. So each row carries an HMAC-SHA256 of its planned values under a key that
//! stays on the operator's machine (created at the first `plan`, in the user's config folder, or
//! `--key-file`), never in the workbook. A row whose values or tag were changed, or that was
//! signed with another key, fails [`PlanKey::verify`].

use super::{PlanRow, ReviewRow};
use crate::error::InputError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Fingerprints written with a key read `k1-<key id>-<tag>`.
const SCHEME: &str = "k1";
/// Domain separation: a tag made for one purpose never verifies for another.
const DOMAIN: &[u8] = b"hardmatch-fingerprint-k1";
/// Result fingerprints: what apply recorded about a row, signed so revert can trust it.
const RESULT_DOMAIN: &[u8] = b"hardmatch-result-k1";
/// The unkeyed scheme of hardmatch 0.1 (32 hex digits, no prefix).
const UNKEYED_DOMAIN: &[u8] = b"hardmatch-fingerprint-v1";
const KEY_BYTES: usize = 32;
/// The file's first word, so a stray file is never taken for a key.
const KEY_FILE_TAG: &str = "hardmatch-plan-key-v1";

/// The operator's secret key for row fingerprints. Its [`PlanKey::id`] (not secret) is written
/// into every fingerprint, so a workbook planned elsewhere is recognised as such.
#[derive(Clone)]
pub struct PlanKey {
    key: [u8; KEY_BYTES],
    id: String,
}

impl std::fmt::Debug for PlanKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("PlanKey").field("id", &self.id).finish()
    }
}

/// What [`PlanKey::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Signed with this key over exactly these planned values.
    Valid,
    /// Signed with this key, but a planned value (or the tag) was changed after planning.
    Edited,
    /// Signed with another key: planned on another machine or by another operator.
    OtherKey { key_id: String },
    /// Written by hardmatch 0.1, whose fingerprint was an unkeyed hash anyone can recompute.
    /// `consistent`: the values still match that hash (no accidental edit).
    Unkeyed { consistent: bool },
    /// No fingerprint, or text hardmatch never writes there.
    Missing,
}

impl Verdict {
    /// Why a row with this verdict is refused, in words an operator can act on; `None` if valid.
    pub fn refusal(&self, own_key_id: &str) -> Option<String> {
        match self {
            Verdict::Valid => None,
            Verdict::Edited => Some(
                "a planned value (or its fingerprint) was changed after planning; plan again instead of editing planned cells".into(),
            ),
            Verdict::OtherKey { key_id } => Some(format!(
                "planned with another operator's key ({key_id}; this machine's key is {own_key_id}): run apply where plan ran, pass that key with --key-file, or re-plan here"
            )),
            Verdict::Unkeyed { .. } => Some(
                "planned by hardmatch 0.1, whose fingerprints anyone can recompute; plan again with this version".into(),
            ),
            Verdict::Missing => Some(
                "no fingerprint: the row was not written by hardmatch plan (or its hidden Fingerprint cell was cleared)".into(),
            ),
        }
    }
}

impl PlanKey {
    /// A key from raw bytes (tests, and keys read from a file).
    pub fn from_bytes(key: [u8; KEY_BYTES]) -> PlanKey {
        let digest = Sha256::digest([b"hardmatch-key-id".as_slice(), &key].concat());
        let id = hex(&digest[..4]);
        PlanKey { key, id }
    }

    /// A fresh random key.
    pub fn generate() -> Result<PlanKey, getrandom::Error> {
        let mut key = [0u8; KEY_BYTES];
        getrandom::fill(&mut key)?;
        Ok(PlanKey::from_bytes(key))
    }

    /// 8 hex digits naming the key (a hash of it; reveals nothing about the key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the key lives unless `--key-file` says otherwise: `$XDG_CONFIG_HOME/hardmatch/plan.key`
    /// (or `~/.config/…`) on Unix, `%APPDATA%\hardmatch\plan.key` on Windows.
    pub fn default_path() -> Option<PathBuf> {
        let base = if cfg!(windows) {
            std::env::var_os("APPDATA").map(PathBuf::from)
        } else {
            std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        }?;
        Some(base.join("hardmatch").join("plan.key"))
    }

    /// The key at `path`, created (readable by this user only) if there is none yet. The bool
    /// says whether it was created, so `plan` can tell the operator where it is.
    pub fn load_or_create(path: &Path) -> Result<(PlanKey, bool), InputError> {
        match std::fs::read_to_string(path) {
            Ok(text) => return parse_key_file(path, &text).map(|k| (k, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(key_io_error(path, "cannot read the plan key", &e)),
        }
        let key = PlanKey::generate().map_err(|e| {
            InputError::new(
                path,
                "",
                format!("the system gave no random bytes for a new plan key: {e}"),
                "run plan again; if it persists, create the key elsewhere and pass --key-file",
            )
        })?;
        match write_new_key_file(path, &key) {
            Ok(()) => Ok((key, true)),
            // Another plan created it a moment ago: use that one, so both agree.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(path).map(|k| (k, false))
            }
            Err(e) => Err(key_io_error(path, "cannot create the plan key", &e)),
        }
    }

    /// The key at `path`, which must exist (apply never creates one: a new key would only
    /// refuse every row).
    pub fn load(path: &Path) -> Result<PlanKey, InputError> {
        match std::fs::read_to_string(path) {
            Ok(text) => parse_key_file(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(InputError::new(
                path,
                "",
                "there is no plan key here, so no planned row can be verified",
                "run apply on the machine and account where plan ran, or pass that machine's key with --key-file",
            )),
            Err(e) => Err(key_io_error(path, "cannot read the plan key", &e)),
        }
    }

    /// The fingerprint of `row`'s planned values: `k1-<key id>-<32 hex>`.
    pub fn sign(&self, row: &PlanRow) -> String {
        format!("{SCHEME}-{}-{}", self.id, self.tag(row))
    }

    /// Checks `fingerprint` (as read from the workbook) against `row`'s planned values.
    pub fn verify(&self, row: &PlanRow, fingerprint: &str) -> Verdict {
        let fp = fingerprint.trim();
        match self.check_tag(fp, || self.tag(row)) {
            Some(v) => v,
            None if is_hex(fp, 32) => Verdict::Unkeyed {
                consistent: fp == unkeyed_fingerprint(row),
            },
            None => Verdict::Missing,
        }
    }

    /// `k1-<id>-<tag>` checked against `expected`; `None` when `fp` is not of that form.
    fn check_tag(&self, fp: &str, expected: impl FnOnce() -> String) -> Option<Verdict> {
        let mut parts = fp.splitn(3, '-');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(SCHEME), Some(id), Some(tag)) if is_hex(id, 8) && is_hex(tag, 32) => {
                Some(if id != self.id {
                    Verdict::OtherKey {
                        key_id: id.to_string(),
                    }
                } else if constant_time_eq(tag.as_bytes(), expected().as_bytes()) {
                    Verdict::Valid
                } else {
                    Verdict::Edited
                })
            }
            _ => None,
        }
    }

    /// The Result fingerprint apply writes beside a row's result: a keyed tag over the Row id,
    /// the plan fingerprint, the Status and the Previous ImmutableId. `revert` sends the Previous
    /// ImmutableId to the tenant, and anyone who unprotects the sheet can type one; with this tag
    /// a typed value (or a Status changed to Done) is refused instead of written.
    pub fn sign_result(&self, row: &ReviewRow) -> String {
        format!("{SCHEME}-{}-{}", self.id, self.result_tag(row))
    }

    /// Checks `row.result_fingerprint` against the row's recorded result: `Valid`, `Edited`
    /// (Status, Previous ImmutableId or the tag changed), `OtherKey` (applied elsewhere) or
    /// `Missing`.
    pub fn verify_result(&self, row: &ReviewRow) -> Verdict {
        self.check_tag(row.result_fingerprint.trim(), || self.result_tag(row))
            .unwrap_or(Verdict::Missing)
    }

    fn result_tag(&self, row: &ReviewRow) -> String {
        let previous = match &row.previous_immutable_id {
            None => "unknown".to_string(),
            Some(p) => format!("value:{p}"),
        };
        let fields = [
            row.plan.row_id.to_string(),
            row.fingerprint.trim().to_string(),
            row.status.as_str().to_string(),
            previous,
        ];
        self.mac(RESULT_DOMAIN, &fields)
    }

    fn tag(&self, row: &PlanRow) -> String {
        self.mac(DOMAIN, &planned_values(row))
    }

    fn mac(&self, domain: &[u8], fields: &[String]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(domain);
        for f in fields {
            mac.update(&(f.len() as u64).to_le_bytes());
            mac.update(f.as_bytes());
        }
        // 128 bits is plenty against forgery here (an attacker gets one try per apply run) and
        // keeps the hidden column narrow.
        hex(&mac.finalize().into_bytes()[..16])
    }
}

/// The values a fingerprint covers: what apply acts on. Free text for people (Reason, Checks,
/// names) is not part of it. The Cloud UPN counts as the sheet shows it.
fn planned_values(row: &PlanRow) -> [String; 9] {
    [
        row.row_id.to_string(),
        row.action.map_or("", |a| a.as_str()).to_string(),
        row.upn.clone(),
        row.onprem_guid.clone(),
        row.new_immutable_id.clone(),
        row.cloud_object_id.clone(),
        row.shown_cloud_upn().to_string(),
        row.cloud_immutable_id.clone(),
        row.holder_object_id.clone(),
    ]
}

/// hardmatch 0.1's fingerprint: SHA-256 over the same values, no key. Only for recognising
/// (and explaining the refusal of) workbooks planned before keyed fingerprints.
pub(crate) fn unkeyed_fingerprint(row: &PlanRow) -> String {
    let mut h = Sha256::new();
    h.update(UNKEYED_DOMAIN);
    for f in planned_values(row) {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    hex(&h.finalize()[..16])
}

fn parse_key_file(path: &Path, text: &str) -> Result<PlanKey, InputError> {
    let mut words = text.split_whitespace();
    let key = match (words.next(), words.next(), words.next()) {
        (Some(KEY_FILE_TAG), Some(h), None) if is_hex(h, 2 * KEY_BYTES) => {
            let mut key = [0u8; KEY_BYTES];
            for (i, b) in key.iter_mut().enumerate() {
                *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            key
        }
        _ => {
            return Err(InputError::new(
                path,
                "",
                "this is not a hardmatch plan key (it should read 'hardmatch-plan-key-v1' and 64 hex digits)",
                "restore the key from your backup, or point --key-file at the right file",
            ))
        }
    };
    Ok(PlanKey::from_bytes(key))
}

/// Writes a new key file, never replacing one: the key is written in full to a private temp
/// file beside it and linked into place only if no key exists yet, so a concurrent `plan` never
/// reads a half-written key and two plans never end with different keys.
fn write_new_key_file(path: &Path, key: &PlanKey) -> std::io::Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)?;
    // tempfile creates it readable by this user only (0600).
    let mut tmp = tempfile::Builder::new()
        .prefix(".plan.key.")
        .tempfile_in(dir)?;
    writeln!(tmp, "{KEY_FILE_TAG} {}", hex(&key.key))?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map(|_| ()).map_err(|e| e.error)
}

fn key_io_error(path: &Path, what: &str, e: &std::io::Error) -> InputError {
    InputError::new(
        path,
        "",
        format!("{what}: {e}"),
        "check the folder's permissions, or pass --key-file with a path you can use",
    )
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::Action;

    fn row() -> PlanRow {
        PlanRow {
            row_id: 7,
            action: Some(Action::Set),
            upn: "a@contoso.com".into(),
            onprem_guid: "0b7a1c2e-3d4f-4a5b-8c9d-0e1f2a3b4c5d".into(),
            new_immutable_id: "LhxaC089W0qMnQ4fKjtMXQ==".into(),
            cloud_object_id: "11111111-2222-3333-4444-555555555555".into(),
            cloud_upn: "a@contoso.com".into(),
            ..PlanRow::default()
        }
    }

    fn key(b: u8) -> PlanKey {
        PlanKey::from_bytes([b; KEY_BYTES])
    }

    #[test]
    fn a_signed_row_verifies_and_every_planned_value_is_covered() {
        let k = key(1);
        let fp = k.sign(&row());
        assert!(fp.starts_with(&format!("k1-{}-", k.id())), "{fp}");
        assert_eq!(fp.len(), 2 + 1 + 8 + 1 + 32);
        assert_eq!(k.verify(&row(), &fp), Verdict::Valid);
        let edits: [fn(&mut PlanRow); 9] = [
            |r| r.row_id = 8,
            |r| r.action = Some(Action::Replace),
            |r| r.upn = "b@contoso.com".into(),
            |r| r.onprem_guid.push('0'),
            |r| r.new_immutable_id = "x".into(),
            |r| r.cloud_object_id.clear(),
            |r| r.cloud_upn = "c@contoso.com".into(),
            |r| r.cloud_immutable_id = "y".into(),
            |r| r.holder_object_id = "z".into(),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut r = row();
            edit(&mut r);
            assert_eq!(k.verify(&r, &fp), Verdict::Edited, "edit {i} not detected");
        }
        // Free text for people is not part of the plan apply executes.
        let mut r = row();
        r.reason = "other words".into();
        r.checks = vec!["x".into()];
        r.display_name_cloud = "Someone".into();
        r.cloud_upn = "A@Contoso.COM".into();
        assert_eq!(k.verify(&r, &fp), Verdict::Valid);
    }

    #[test]
    fn without_the_key_a_forger_cannot_make_a_valid_fingerprint() {
        let mine = key(1);
        let theirs = key(2);
        let mut forged = row();
        forged.new_immutable_id = "AAAAAAAAAAAAAAAAAAAAAA==".into();
        // Recomputing the old unkeyed hash, or signing with any other key, does not pass.
        assert_eq!(
            mine.verify(&forged, &unkeyed_fingerprint(&forged)),
            Verdict::Unkeyed { consistent: true }
        );
        assert_eq!(
            mine.verify(&forged, &theirs.sign(&forged)),
            Verdict::OtherKey {
                key_id: theirs.id().to_string()
            }
        );
        // Claiming this key's id with a tag made under another key is an edit.
        let fake = format!("k1-{}-{}", mine.id(), &theirs.sign(&forged)[12..]);
        assert_eq!(mine.verify(&forged, &fake), Verdict::Edited);
        for junk in ["", "  ", "yes", "k1-zz-00", &"0".repeat(31)] {
            assert_eq!(mine.verify(&forged, junk), Verdict::Missing, "{junk:?}");
        }
        assert!(Verdict::Valid.refusal(mine.id()).is_none());
        assert!(Verdict::Edited
            .refusal(mine.id())
            .is_some_and(|r| r.contains("changed after planning")));
    }

    #[test]
    fn hardmatch_0_1_fingerprints_are_recognised_not_trusted() {
        // Pinned value of 0.1's scheme (computed independently): changing it would misreport
        // every workbook planned with 0.1.
        assert_eq!(
            unkeyed_fingerprint(&row()),
            "113242f9d6e88f25c3f6361441437b82"
        );
        let k = key(3);
        assert_eq!(
            k.verify(&row(), "113242f9d6e88f25c3f6361441437b82"),
            Verdict::Unkeyed { consistent: true }
        );
        let mut edited = row();
        edited.upn = "mallory@contoso.com".into();
        assert_eq!(
            k.verify(&edited, "113242f9d6e88f25c3f6361441437b82"),
            Verdict::Unkeyed { consistent: false }
        );
    }

    #[test]
    fn a_result_fingerprint_covers_status_and_previous_value() {
        let k = key(4);
        let mut r = ReviewRow {
            plan: row(),
            status: crate::review::Status::Done,
            previous_immutable_id: Some(String::new()),
            ..ReviewRow::default()
        };
        r.fingerprint = k.sign(&r.plan);
        r.result_fingerprint = k.sign_result(&r);
        assert_eq!(k.verify_result(&r), Verdict::Valid);
        assert!(matches!(key(5).verify_result(&r), Verdict::OtherKey { .. }));
        let edits: [fn(&mut ReviewRow); 5] = [
            |r| r.previous_immutable_id = Some("AAAAAAAAAAAAAAAAAAAAAA==".into()),
            |r| r.previous_immutable_id = None,
            |r| r.status = crate::review::Status::Failed,
            |r| r.plan.row_id = 8,
            |r| r.fingerprint.push('0'),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut e = r.clone();
            edit(&mut e);
            assert_eq!(
                k.verify_result(&e),
                Verdict::Edited,
                "edit {i} not detected"
            );
        }
        // A plan fingerprint's tag is never a result fingerprint.
        let mut swapped = r.clone();
        swapped.result_fingerprint = r.fingerprint.clone();
        assert_eq!(k.verify_result(&swapped), Verdict::Edited);
        swapped.result_fingerprint.clear();
        assert_eq!(k.verify_result(&swapped), Verdict::Missing);
    }

    #[test]
    fn the_key_file_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("conf").join("hardmatch").join("plan.key");
        let (k1, created) = PlanKey::load_or_create(&path).expect("create");
        assert!(created);
        let (k2, created) = PlanKey::load_or_create(&path).expect("load");
        assert!(!created);
        assert_eq!(k1.id(), k2.id());
        assert_eq!(
            PlanKey::load(&path).expect("load").sign(&row()),
            k1.sign(&row())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // The key never shows in Debug output.
        let text = std::fs::read_to_string(&path).expect("read");
        let hexkey = text.split_whitespace().nth(1).expect("key");
        assert!(!format!("{k1:?}").contains(hexkey));
    }

    #[test]
    fn a_missing_or_foreign_key_file_is_an_error_that_says_what_to_do() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("none.key");
        let e = PlanKey::load(&missing).expect_err("missing");
        assert!(e.fix.contains("--key-file"), "{e}");
        let junk = dir.path().join("junk.key");
        std::fs::write(&junk, "not a key\n").expect("write");
        let e = PlanKey::load_or_create(&junk).expect_err("junk");
        assert!(e.message.contains("not a hardmatch plan key"), "{e}");
        assert_eq!(std::fs::read_to_string(&junk).expect("read"), "not a key\n");
    }
}
