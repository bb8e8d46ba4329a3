//! Lookup tables for matching a million AD users against a million cloud users without a quadratic
//! scan and without allocating a lower-cased copy of every key.

use crate::cloud::CloudUser;
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

pub(crate) use crate::fold::Folded;

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

/// Cloud users by a case-folded key read from the user itself (UPN, mail). The table holds only
/// user indices, 4 bytes a slot, and reads a slot's key back from its user when comparing; a map
/// from the key would hold a 16-byte `&str` and a 24-byte hit list per slot. At a million users
/// that is about 10 MB instead of 80, at the very moment a plan's memory peaks (matching).
pub(crate) struct UserKeyIndex<'a> {
    users: &'a [CloudUser],
    key: fn(&CloudUser) -> Option<&str>,
    table: HashTable<u32>,
    /// Every user filed under a key that more than one user has, by the first such user.
    shared: HashMap<u32, Vec<u32>, foldhash::fast::RandomState>,
    hasher: foldhash::fast::RandomState,
}

impl<'a> UserKeyIndex<'a> {
    pub(crate) fn new(users: &'a [CloudUser], key: fn(&CloudUser) -> Option<&str>) -> Self {
        let mut ix = UserKeyIndex {
            users,
            key,
            table: HashTable::with_capacity(users.len()),
            shared: HashMap::default(),
            hasher: Default::default(),
        };
        for i in 0..users.len() as u32 {
            let Some(k) = ix.key_of(i) else { continue };
            let hash = ix.hasher.hash_one(k);
            match ix.table.find(hash, |&j| ix.key_of(j) == Some(k)) {
                Some(&first) => ix
                    .shared
                    .entry(first)
                    .or_insert_with(|| vec![first])
                    .push(i),
                None => {
                    let (users, key, hasher) = (ix.users, ix.key, &ix.hasher);
                    // Only users with a key are filed, so a slot's key is always there.
                    ix.table.insert_unique(hash, i, |&j| {
                        key(&users[j as usize])
                            .and_then(Folded::new)
                            .map_or(0, |k| hasher.hash_one(k))
                    });
                }
            }
        }
        ix
    }

    /// Per user: whether another user has its key too. A user whose key is not shared is the
    /// only one a look-up of that key can find, so the look-up can be skipped.
    pub(crate) fn shared_flags(&self) -> Vec<bool> {
        let mut flags = vec![false; self.users.len()];
        for &i in self.shared.values().flatten() {
            flags[i as usize] = true;
        }
        flags
    }

    /// An empty index, for when the key is not matched on.
    pub(crate) fn empty(users: &'a [CloudUser], key: fn(&CloudUser) -> Option<&str>) -> Self {
        UserKeyIndex {
            users,
            key,
            table: HashTable::new(),
            shared: HashMap::default(),
            hasher: Default::default(),
        }
    }

    fn key_of(&self, i: u32) -> Option<Folded<'a>> {
        (self.key)(&self.users[i as usize]).and_then(Folded::new)
    }

    /// The users filed under `key`, in index order.
    pub(crate) fn get(&self, key: &Folded<'_>) -> &[u32] {
        let hash = self.hasher.hash_one(*key);
        match self
            .table
            .find(hash, |&j| self.key_of(j).as_ref() == Some(key))
        {
            Some(first) => self
                .shared
                .get(first)
                .map_or(std::slice::from_ref(first), Vec::as_slice),
            None => &[],
        }
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
    use std::hash::Hasher;

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

    fn user(upn: &str, mail: Option<&str>) -> CloudUser {
        CloudUser {
            upn: upn.into(),
            mail: mail.map(str::to_string),
            ..CloudUser::default()
        }
    }

    #[test]
    fn user_key_index_finds_users_case_insensitively_and_lists_shared_keys() {
        let users = vec![
            user("Ann@Fabrikam.com", Some("ann@fabrikam.com")),
            user("bob@fabrikam.com", None),
            user(" ann@fabrikam.COM ", Some("x@fabrikam.com")),
            user("", Some("X@Fabrikam.com")),
            user("ANN@fabrikam.com", None),
        ];
        let upn = UserKeyIndex::new(&users, |u| Some(&u.upn));
        let k = |s| Folded::new(s).unwrap();
        assert_eq!(upn.get(&k("ann@fabrikam.com")), &[0, 2, 4]);
        assert_eq!(upn.get(&k("BOB@fabrikam.com")), &[1]);
        assert!(upn.get(&k("carol@fabrikam.com")).is_empty());
        let mail = UserKeyIndex::new(&users, |u| u.mail.as_deref());
        assert_eq!(mail.get(&k("x@FABRIKAM.com")), &[2, 3]);
        assert_eq!(mail.get(&k("ann@fabrikam.com")), &[0]);
        assert!(UserKeyIndex::empty(&users, |u| Some(&u.upn))
            .get(&k("ann@fabrikam.com"))
            .is_empty());
    }

    #[test]
    fn user_key_index_agrees_with_a_map_from_the_key_on_many_users() {
        // Enough users that the table grows and rehashes several times.
        let users: Vec<CloudUser> = (0..20_000)
            .map(|i| {
                let upn = match i % 7 {
                    0 => format!("User{}@Contoso.com", i / 2),
                    1 => format!("user{}@contoso.com", i / 2),
                    2 => String::new(),
                    _ => format!("u{i}@contoso.com"),
                };
                user(&upn, None)
            })
            .collect();
        let fast = UserKeyIndex::new(&users, |u| Some(&u.upn));
        let mut map: Index<Folded<'_>> = Index::with_capacity(0);
        for (i, u) in users.iter().enumerate() {
            if let Some(k) = Folded::new(&u.upn) {
                map.insert(k, i as u32);
            }
        }
        let mut shared = 0;
        for u in &users {
            if let Some(k) = Folded::new(&u.upn) {
                assert_eq!(fast.get(&k), map.get(&k), "{}", u.upn);
                shared += usize::from(fast.get(&k).len() > 1);
            }
        }
        assert!(shared > 0);
    }
}
