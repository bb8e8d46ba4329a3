//! How Entra compares UPNs and mail addresses: trimmed and case-insensitive. Shared by matching
//! (plan) and by what the review row shows and signs (review).

use std::hash::{Hash, Hasher};

/// A trimmed string compared and hashed case-insensitively (UPNs, mail and SMTP addresses).
///
/// Borrowing instead of storing `to_lowercase()` copies saves one allocation per key, which at
/// 1,000,000 users × several addresses is hundreds of MB and a good part of the run time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Folded<'a>(&'a str);

impl<'a> Folded<'a> {
    /// `None` for a blank value: blanks must never match each other.
    pub(crate) fn new(s: &'a str) -> Option<Self> {
        let t = s.trim();
        (!t.is_empty()).then_some(Folded(t))
    }
}

/// Per-char lower-casing (not `str::to_lowercase`, which treats a final sigma specially), so that
/// `Hash` and `Eq` agree on exactly the same folding.
fn fold_chars(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

impl PartialEq for Folded<'_> {
    fn eq(&self, other: &Self) -> bool {
        if self.0.is_ascii() && other.0.is_ascii() {
            self.0.eq_ignore_ascii_case(other.0)
        } else {
            fold_chars(self.0).eq(fold_chars(other.0))
        }
    }
}

impl Eq for Folded<'_> {}

impl Hash for Folded<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Both paths feed the hasher the UTF-8 bytes of the folded string in one `write`, so an
        // ASCII key and an equal non-ASCII key (e.g. the Kelvin sign) hash alike.
        let s = self.0;
        let mut buf = [0u8; 256];
        if s.is_ascii() && s.len() <= buf.len() {
            let out = &mut buf[..s.len()];
            out.copy_from_slice(s.as_bytes());
            out.make_ascii_lowercase();
            state.write(out);
        } else {
            let folded: String = fold_chars(s).collect();
            state.write(folded.as_bytes());
        }
        state.write_u8(0xff);
    }
}
