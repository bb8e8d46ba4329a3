//! Lookup tables for matching a million AD users against a million cloud users without a quadratic
//! scan and without allocating a lower-cased copy of every key.

use std::collections::HashMap;
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

/// The users (indices) filed under one key; almost always exactly one, so no `Vec` per key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Hits {
    One(u32),
    Many(Vec<u32>),
}

impl Hits {
    pub(crate) fn push(&mut self, i: u32) {
        match self {
            Hits::One(first) => {
                if *first != i {
                    *self = Hits::Many(vec![*first, i]);
                }
            }
            Hits::Many(v) => {
                if !v.contains(&i) {
                    v.push(i)
                }
            }
        }
    }

    pub(crate) fn as_slice(&self) -> &[u32] {
        match self {
            Hits::One(i) => std::slice::from_ref(i),
            Hits::Many(v) => v,
        }
    }
}

/// A multi-map from key to user indices.
#[derive(Debug)]
pub(crate) struct Index<K> {
    /// foldhash rather than std's SipHash: a plan hashes a few million keys, and SipHash was a
    /// large share of deciding. foldhash is seeded per process too; its weaker resistance to
    /// crafted collisions is fine for exports the admin made.
    map: HashMap<K, Hits, foldhash::fast::RandomState>,
}

impl<K: Hash + Eq> Index<K> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Index {
            map: HashMap::with_capacity_and_hasher(n, Default::default()),
        }
    }

    pub(crate) fn insert(&mut self, key: K, i: u32) {
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(i),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Hits::One(i));
            }
        }
    }

    /// The index lists of keys filed more than once: the only ones duplicate detection looks at.
    pub(crate) fn shared(&self) -> impl Iterator<Item = &[u32]> {
        self.map.values().filter_map(|h| match h {
            Hits::One(_) => None,
            Hits::Many(v) => Some(v.as_slice()),
        })
    }

    pub(crate) fn get(&self, key: &K) -> &[u32] {
        self.map.get(key).map(Hits::as_slice).unwrap_or(&[])
    }
}

/// The address part of an SMTP proxyAddress (`SMTP:` primary or `smtp:` alias); `None` for
/// X500:, SIP: and other types, which Entra Connect does not soft-match on.
pub(crate) fn smtp_address(proxy: &str) -> Option<&str> {
    let p = proxy.trim();
    let (prefix, rest) = p.split_at_checked(5)?;
    prefix.eq_ignore_ascii_case("smtp:").then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn h(s: &str) -> u64 {
        let mut st = DefaultHasher::new();
        Folded::new(s).unwrap().hash(&mut st);
        st.finish()
    }

    #[test]
    fn folding_ignores_case_and_surrounding_space() {
        assert_eq!(
            Folded::new(" Ann@Fabrikam.COM "),
            Folded::new("ann@fabrikam.com")
        );
        assert_eq!(h(" Ann@Fabrikam.COM "), h("ann@fabrikam.com"));
        assert_ne!(
            Folded::new("ann@fabrikam.com"),
            Folded::new("anne@fabrikam.com")
        );
        assert!(Folded::new("   ").is_none());
    }

    #[test]
    fn folding_handles_non_ascii_consistently() {
        // U+212A KELVIN SIGN lower-cases to ASCII 'k'.
        assert_eq!(Folded::new("\u{212A}im@x.com"), Folded::new("kim@x.com"));
        assert_eq!(h("\u{212A}im@x.com"), h("kim@x.com"));
        assert_eq!(Folded::new("JÖRG@x.de"), Folded::new("jörg@x.de"));
        assert_eq!(h("JÖRG@x.de"), h("jörg@x.de"));
        let long = "A".repeat(300);
        assert_eq!(h(&long), h(&long.to_lowercase()));
    }

    #[test]
    fn only_smtp_proxies_count() {
        assert_eq!(smtp_address("SMTP:a@x.com"), Some("a@x.com"));
        assert_eq!(smtp_address("smtp:b@x.com"), Some("b@x.com"));
        assert_eq!(smtp_address("X500:/o=Org/cn=a"), None);
        assert_eq!(smtp_address("sip:a@x.com"), None);
        assert_eq!(smtp_address("smt"), None);
    }

    #[test]
    fn hits_keep_distinct_indices() {
        let mut idx = Index::with_capacity(4);
        idx.insert("k", 1);
        idx.insert("k", 1);
        idx.insert("k", 7);
        idx.insert("j", 2);
        assert_eq!(idx.get(&"k"), &[1, 7]);
        assert_eq!(idx.get(&"j"), &[2]);
        assert!(idx.get(&"z").is_empty());
        assert_eq!(idx.shared().collect::<Vec<_>>(), vec![&[1, 7][..]]);
    }
}
