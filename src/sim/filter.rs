//! The OData `$filter` subset Graph supports on directory objects *without* advanced query
//! parameters (graph-behaviour.md §4): `eq`, `in (…)`, `startsWith(p,'x')`,
//! `p/any(x:x eq 'v')` / `p/any(x:startsWith(x,'v'))`, joined by `and` / `or` with parentheses.
//! `ne`, `not`, `endsWith` and `eq null` need `ConsistencyLevel: eventual` + `$count=true` in
//! Graph; advanced queries are not modelled, so they are always `Request_UnsupportedQuery`.

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Eq(&'static str, Literal),
    In(&'static str, Vec<Literal>),
    StartsWith(&'static str, String),
    AnyEq(&'static str, String),
    AnyStartsWith(&'static str, String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum FilterError {
    /// `Request_UnsupportedQuery` for this property.
    Unsupported(String),
    /// Not parseable at all (`BadRequest` "Invalid filter clause").
    Invalid(String),
    /// More than [`MAX_EXPRESSIONS`] comparisons.
    TooManyExpressions(usize),
}

/// Which operators a resource supports by default, per property (canonical spelling).
pub struct Support {
    pub resource: &'static str,
    pub eq: &'static [&'static str],
    pub starts_with: &'static [&'static str],
    pub any: &'static [&'static str],
    /// Compared case-sensitively (everything else is case-insensitive, like the directory).
    pub case_sensitive: &'static [&'static str],
}

pub const USER: Support = Support {
    resource: "User",
    eq: &[
        "id",
        "userPrincipalName",
        "mail",
        "displayName",
        "onPremisesImmutableId",
        "onPremisesSyncEnabled",
        "accountEnabled",
        "givenName",
        "surname",
        "mailNickname",
        "userType",
        "employeeId",
        "onPremisesSamAccountName",
    ],
    starts_with: &[
        "userPrincipalName",
        "mail",
        "displayName",
        "givenName",
        "surname",
        "mailNickname",
        "employeeId",
    ],
    any: &["proxyAddresses"],
    // Base64 ImmutableIds differ by case; whether Entra compares them case-insensitively is
    // unverified, so the sim keeps them exact.
    case_sensitive: &["onPremisesImmutableId"],
};

pub const ROLE_ASSIGNMENT: Support = Support {
    resource: "UnifiedRoleAssignment",
    eq: &["id", "principalId", "roleDefinitionId", "directoryScopeId"],
    starts_with: &[],
    any: &[],
    case_sensitive: &[],
};

pub const ROLE_DEFINITION: Support = Support {
    resource: "UnifiedRoleDefinition",
    eq: &[
        "id",
        "displayName",
        "isPrivileged",
        "templateId",
        "isBuiltIn",
    ],
    starts_with: &["displayName"],
    any: &[],
    case_sensitive: &[],
};

pub enum PropValue<'a> {
    Null,
    Str(&'a str),
    Bool(bool),
    List(&'a [String]),
}

pub trait Filterable {
    fn prop(&self, name: &str) -> PropValue<'_>;
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Open,
    Close,
    Comma,
    Colon,
    Str(String),
    Word(String),
}

fn lex(s: &str) -> Result<Vec<Tok>, FilterError> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some(&(_, c)) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '(' => {
                it.next();
                out.push(Tok::Open)
            }
            ')' => {
                it.next();
                out.push(Tok::Close)
            }
            ',' => {
                it.next();
                out.push(Tok::Comma)
            }
            ':' => {
                it.next();
                out.push(Tok::Colon)
            }
            '\'' => {
                it.next();
                let mut v = String::new();
                loop {
                    match it.next() {
                        Some((_, '\'')) => {
                            if matches!(it.peek(), Some((_, '\''))) {
                                it.next();
                                v.push('\'');
                            } else {
                                break;
                            }
                        }
                        Some((_, ch)) => v.push(ch),
                        None => {
                            return Err(FilterError::Invalid("unterminated string literal".into()))
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&(_, ch)) = it.peek() {
                    if ch.is_whitespace() || "(),:'".contains(ch) {
                        break;
                    }
                    w.push(ch);
                    it.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    support: &'a Support,
}

fn canonical(support: &Support, name: &str) -> Option<&'static str> {
    support
        .eq
        .iter()
        .chain(support.starts_with)
        .chain(support.any)
        .find(|p| p.eq_ignore_ascii_case(name))
        .copied()
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), FilterError> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(FilterError::Invalid(format!(
                "expected {t:?}, found {other:?}"
            ))),
        }
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }
    fn unsupported(&self, name: &str) -> FilterError {
        FilterError::Unsupported(
            canonical(self.support, name)
                .map(str::to_string)
                .unwrap_or_else(|| name.to_string()),
        )
    }

    fn expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.term()?;
        while self.keyword("or") {
            self.next();
            let right = self.term()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.factor()?;
        while self.keyword("and") {
            self.next();
            let right = self.factor()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn literal(&mut self) -> Result<Option<Literal>, FilterError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Some(Literal::Str(s))),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Some(Literal::Bool(true))),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Some(Literal::Bool(false))),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(None),
            other => Err(FilterError::Invalid(format!(
                "expected a literal, found {other:?}"
            ))),
        }
    }

    fn string_arg(&mut self) -> Result<String, FilterError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            other => Err(FilterError::Invalid(format!(
                "expected a string, found {other:?}"
            ))),
        }
    }

    fn factor(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some(Tok::Open) => {
                let e = self.expr()?;
                self.expect(Tok::Close)?;
                Ok(e)
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                // Name the property the negation applies to, as Graph does.
                let prop = self
                    .toks
                    .iter()
                    .skip(self.pos)
                    .find_map(|t| match t {
                        Tok::Word(w) if canonical(self.support, w).is_some() => Some(w.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                Err(self.unsupported(&prop))
            }
            Some(Tok::Word(w))
                if w.eq_ignore_ascii_case("startsWith") || w.eq_ignore_ascii_case("endsWith") =>
            {
                self.expect(Tok::Open)?;
                let prop = match self.next() {
                    Some(Tok::Word(p)) => p,
                    other => {
                        return Err(FilterError::Invalid(format!(
                            "expected a property, found {other:?}"
                        )))
                    }
                };
                self.expect(Tok::Comma)?;
                let v = self.string_arg()?;
                self.expect(Tok::Close)?;
                if w.eq_ignore_ascii_case("endsWith") {
                    return Err(self.unsupported(&prop));
                }
                match self
                    .support
                    .starts_with
                    .iter()
                    .find(|p| p.eq_ignore_ascii_case(&prop))
                {
                    Some(p) => Ok(Filter::StartsWith(p, v)),
                    None => Err(self.unsupported(&prop)),
                }
            }
            Some(Tok::Word(w)) if w.contains('/') => {
                let (prop, op) = w.split_once('/').unwrap_or((&w, ""));
                if !op.eq_ignore_ascii_case("any") {
                    return Err(self.unsupported(prop));
                }
                let Some(p) = self
                    .support
                    .any
                    .iter()
                    .find(|x| x.eq_ignore_ascii_case(prop))
                    .copied()
                else {
                    return Err(self.unsupported(prop));
                };
                self.expect(Tok::Open)?;
                let var = match self.next() {
                    Some(Tok::Word(v)) => v,
                    other => {
                        return Err(FilterError::Invalid(format!(
                            "expected a lambda variable, found {other:?}"
                        )))
                    }
                };
                self.expect(Tok::Colon)?;
                let inner = match self.next() {
                    Some(Tok::Word(x)) if x == var && self.keyword("eq") => {
                        self.next();
                        Filter::AnyEq(p, self.string_arg()?)
                    }
                    Some(Tok::Word(f)) if f.eq_ignore_ascii_case("startsWith") => {
                        self.expect(Tok::Open)?;
                        match self.next() {
                            Some(Tok::Word(x)) if x == var => {}
                            other => {
                                return Err(FilterError::Invalid(format!(
                                    "expected {var}, found {other:?}"
                                )))
                            }
                        }
                        self.expect(Tok::Comma)?;
                        let v = self.string_arg()?;
                        self.expect(Tok::Close)?;
                        Filter::AnyStartsWith(p, v)
                    }
                    _ => return Err(self.unsupported(p)),
                };
                self.expect(Tok::Close)?;
                Ok(inner)
            }
            Some(Tok::Word(prop)) => {
                let op = match self.next() {
                    Some(Tok::Word(op)) => op.to_ascii_lowercase(),
                    other => {
                        return Err(FilterError::Invalid(format!(
                            "expected an operator after '{prop}', found {other:?}"
                        )))
                    }
                };
                let eq_prop = self
                    .support
                    .eq
                    .iter()
                    .find(|p| p.eq_ignore_ascii_case(&prop))
                    .copied();
                match op.as_str() {
                    "eq" => {
                        let lit = self.literal()?;
                        match (eq_prop, lit) {
                            (Some(p), Some(l)) => Ok(Filter::Eq(p, l)),
                            _ => Err(self.unsupported(&prop)),
                        }
                    }
                    "in" => {
                        self.expect(Tok::Open)?;
                        let mut values = Vec::new();
                        loop {
                            match self.literal()? {
                                Some(l) => values.push(l),
                                None => return Err(self.unsupported(&prop)),
                            }
                            match self.next() {
                                Some(Tok::Comma) => continue,
                                Some(Tok::Close) => break,
                                other => {
                                    return Err(FilterError::Invalid(format!(
                                        "expected ',' or ')', found {other:?}"
                                    )))
                                }
                            }
                        }
                        match eq_prop {
                            Some(p) => Ok(Filter::In(p, values)),
                            None => Err(self.unsupported(&prop)),
                        }
                    }
                    "ne" | "gt" | "ge" | "lt" | "le" => {
                        let _ = self.literal()?;
                        Err(self.unsupported(&prop))
                    }
                    _ => Err(FilterError::Invalid(format!("unknown operator '{op}'"))),
                }
            }
            other => Err(FilterError::Invalid(format!("unexpected {other:?}"))),
        }
    }
}

pub fn parse(s: &str, support: &Support) -> Result<Filter, FilterError> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err(FilterError::Invalid("empty filter".into()));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        support,
    };
    let f = p.expr()?;
    if p.pos != p.toks.len() {
        return Err(FilterError::Invalid(format!("unexpected {:?}", p.peek())));
    }
    let n = f.expression_count();
    if n > MAX_EXPRESSIONS {
        return Err(FilterError::TooManyExpressions(n));
    }
    Ok(f)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    if s.is_ascii() && prefix.is_ascii() {
        s.len() >= prefix.len()
            && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    } else {
        s.to_lowercase().starts_with(&prefix.to_lowercase())
    }
}

/// Graph's known-issues page: "When using the "in" operator, the request is limited to 15
/// expressions in the filter clause by default".
pub const MAX_EXPRESSIONS: usize = 15;

impl Filter {
    /// A `startsWith(userPrincipalName,…)` every match must satisfy (the filter itself, or one
    /// side of an `and`): the tenant then reads only that range of its UPN index.
    pub fn upn_prefix(&self) -> Option<&str> {
        match self {
            Filter::StartsWith("userPrincipalName", v) => Some(v),
            Filter::And(a, b) => a.upn_prefix().or_else(|| b.upn_prefix()),
            _ => None,
        }
    }

    /// Leaf comparisons, each value of an `in (…)` counting as one.
    pub fn expression_count(&self) -> usize {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a.expression_count() + b.expression_count(),
            Filter::In(_, v) => v.len(),
            _ => 1,
        }
    }

    pub fn matches(&self, item: &dyn Filterable, support: &Support) -> bool {
        let eq = |prop: &str, lit: &Literal| -> bool {
            match (item.prop(prop), lit) {
                (PropValue::Str(s), Literal::Str(v)) => {
                    if support.case_sensitive.contains(&prop) {
                        s == v
                    } else {
                        s.to_lowercase() == v.to_lowercase()
                    }
                }
                (PropValue::Bool(b), Literal::Bool(v)) => b == *v,
                _ => false,
            }
        };
        match self {
            Filter::And(a, b) => a.matches(item, support) && b.matches(item, support),
            Filter::Or(a, b) => a.matches(item, support) || b.matches(item, support),
            Filter::Eq(p, l) => eq(p, l),
            Filter::In(p, ls) => ls.iter().any(|l| eq(p, l)),
            Filter::StartsWith(p, v) => {
                matches!(item.prop(p), PropValue::Str(s) if starts_with_ci(s, v))
            }
            Filter::AnyEq(p, v) => match item.prop(p) {
                PropValue::List(l) => l.iter().any(|x| x.eq_ignore_ascii_case(v)),
                _ => false,
            },
            Filter::AnyStartsWith(p, v) => match item.prop(p) {
                PropValue::List(l) => l.iter().any(|x| starts_with_ci(x, v)),
                _ => false,
            },
        }
    }
}

impl Filterable for crate::wire::User {
    fn prop(&self, name: &str) -> PropValue<'_> {
        fn s(o: &Option<String>) -> PropValue<'_> {
            match o {
                Some(v) => PropValue::Str(v.as_str()),
                None => PropValue::Null,
            }
        }
        match name {
            "id" => s(&self.id),
            "userPrincipalName" => s(&self.user_principal_name),
            "mail" => s(&self.mail),
            "displayName" => s(&self.display_name),
            "onPremisesImmutableId" => s(&self.on_premises_immutable_id),
            "onPremisesObjectIdentifier" => s(&self.on_premises_object_identifier),
            "onPremisesSyncEnabled" => match self.on_premises_sync_enabled {
                Some(b) => PropValue::Bool(b),
                None => PropValue::Null,
            },
            "proxyAddresses" => match &self.proxy_addresses {
                Some(l) => PropValue::List(l),
                None => PropValue::List(&[]),
            },
            other => json_prop(self.other.get(other)),
        }
    }
}

fn json_prop(v: Option<&serde_json::Value>) -> PropValue<'_> {
    match v {
        Some(serde_json::Value::String(s)) => PropValue::Str(s),
        Some(serde_json::Value::Bool(b)) => PropValue::Bool(*b),
        _ => PropValue::Null,
    }
}

impl Filterable for serde_json::Map<String, serde_json::Value> {
    fn prop(&self, name: &str) -> PropValue<'_> {
        json_prop(self.get(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::User;

    fn user(upn: &str, imm: Option<&str>) -> User {
        User {
            id: Some("1".into()),
            user_principal_name: Some(upn.into()),
            on_premises_immutable_id: imm.map(String::from),
            proxy_addresses: Some(vec!["SMTP:Jo@Contoso.com".into()]),
            on_premises_sync_enabled: Some(false),
            ..Default::default()
        }
    }

    fn ok(f: &str, u: &User) -> bool {
        parse(f, &USER).expect(f).matches(u, &USER)
    }

    #[test]
    fn supported_clauses_match() {
        let u = user("Jo@contoso.com", Some("AbC+/=="));
        assert!(ok("userPrincipalName eq 'jo@CONTOSO.com'", &u));
        assert!(ok("onPremisesImmutableId eq 'AbC+/=='", &u));
        assert!(!ok("onPremisesImmutableId eq 'abc+/=='", &u));
        assert!(ok("onPremisesImmutableId in ('x', 'AbC+/==')", &u));
        assert!(ok("startsWith(userPrincipalName,'jo')", &u));
        assert!(ok("proxyAddresses/any(p:p eq 'smtp:jo@contoso.com')", &u));
        assert!(ok("proxyAddresses/any(x:startsWith(x,'SMTP:'))", &u));
        assert!(ok(
            "onPremisesSyncEnabled eq false and (mail eq 'x' or startsWith(userPrincipalName,'J'))",
            &u
        ));
        assert!(ok("displayName eq 'it''s' or id eq '1'", &u));
    }

    #[test]
    fn unsupported_clauses_name_the_property() {
        for (f, p) in [
            ("onPremisesImmutableId eq null", "onPremisesImmutableId"),
            ("userPrincipalName ne 'x'", "userPrincipalName"),
            ("endsWith(mail,'x')", "mail"),
            ("not(userPrincipalName eq 'x')", "userPrincipalName"),
            ("jobTitle eq 'x'", "jobTitle"),
            (
                "startsWith(onPremisesImmutableId,'x')",
                "onPremisesImmutableId",
            ),
        ] {
            assert_eq!(
                parse(f, &USER),
                Err(FilterError::Unsupported(p.into())),
                "{f}"
            );
        }
        assert!(matches!(
            parse("userPrincipalName eq", &USER),
            Err(FilterError::Invalid(_))
        ));
        assert!(matches!(
            parse("(id eq '1'", &USER),
            Err(FilterError::Invalid(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_input_parses_or_fails_cleanly(s in "\\PC{0,80}") {
            let _ = parse(&s, &USER);
        }

        #[test]
        fn filter_shaped_input_never_panics(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["(", ")", "'a'", "'b''c'", "eq", "in", "and", "or", "not",
                    "startsWith", "userPrincipalName", "proxyAddresses/any", "p", ":", ",", "null", "true"]),
                0..16,
            )
        ) {
            let s = parts.join(" ");
            if let Ok(f) = parse(&s, &USER) {
                let u = user("x@y", None);
                let _ = f.matches(&u, &USER);
            }
        }
    }
}
