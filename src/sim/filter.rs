//! The OData `$filter` subset Graph supports on directory objects, with the support level Graph
//! documents per property and operator (aad-advanced-queries.md, its filter-directory-objects
//! table): `eq`, `in (…)`, `startsWith`, `p/any(x:…)` are answered by default where the table says
//! so; `ne`, `not`, `endsWith`, `eq null` and the properties marked "Advanced" are answered only
//! with the advanced query parameters (`ConsistencyLevel: eventual` *and* `$count=true`), and are
//! otherwise refused with the 400 Graph documents; "NotSupported" is refused either way.

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    Bool(bool),
    /// An unquoted value such as a date-time (`createdDateTime ge 2024-01-01T00:00:00Z`).
    Word(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Ge,
    Gt,
    Le,
    Lt,
}

/// The comparison inside `p/any(x: …)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lambda {
    Eq,
    StartsWith,
    EndsWith,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `None` compares with `null`.
    Cmp(&'static str, Op, Option<Literal>),
    In(&'static str, Vec<Literal>),
    StartsWith(&'static str, String),
    EndsWith(&'static str, String),
    Any(&'static str, Lambda, String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum FilterError {
    /// `Request_UnsupportedQuery` for this property ("Unsupported or invalid query filter
    /// clause specified for property …").
    Unsupported(String),
    /// The operator needs the advanced query parameters, which are missing.
    NeedsAdvanced(&'static str),
    /// Not parseable at all (`BadRequest` "Invalid filter clause").
    Invalid(String),
    /// More than [`MAX_EXPRESSIONS`] comparisons.
    TooManyExpressions(usize),
}

/// Where an operator works on a property (the documentation's three symbols).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Default,
    Advanced,
    No,
}
use Level::{Advanced, Default as Dflt, No};

impl Level {
    /// `ne` and `not` are never answered by default (aad-advanced-queries.md: "The not and ne
    /// negation operators are supported only with advanced query parameters").
    fn negated(self) -> Level {
        match self {
            Dflt => Advanced,
            l => l,
        }
    }
}

/// One filterable property and its levels for `eq` (also `in`, `ne`, `not`), `startsWith`,
/// `eq null`, `endsWith` and `ge`/`le`. A collection is filtered through `any(…)`.
#[derive(Clone, Copy, Debug)]
pub struct Prop {
    pub name: &'static str,
    pub eq: Level,
    pub starts_with: Level,
    pub null: Level,
    pub ends_with: Level,
    pub range: Level,
    pub collection: bool,
}

const fn scalar(name: &'static str, eq: Level, starts_with: Level, null: Level) -> Prop {
    Prop {
        name,
        eq,
        starts_with,
        null,
        ends_with: No,
        range: No,
        collection: false,
    }
}

const fn collection(name: &'static str, eq: Level, starts_with: Level) -> Prop {
    Prop {
        name,
        eq,
        starts_with,
        null: No,
        ends_with: No,
        range: No,
        collection: true,
    }
}

impl Prop {
    const fn ends_with_advanced(mut self) -> Prop {
        self.ends_with = Advanced;
        self
    }
    const fn range(mut self, level: Level) -> Prop {
        self.range = level;
        self
    }
}

/// A resource's filterable properties (canonical spelling).
pub struct Support {
    pub resource: &'static str,
    pub props: &'static [Prop],
    /// Compared case-sensitively (everything else is case-insensitive, like the directory).
    pub case_sensitive: &'static [&'static str],
    /// Directory objects answer advanced queries; role management does not.
    pub advanced_queries: bool,
}

impl Support {
    fn prop(&self, name: &str) -> Option<&Prop> {
        self.props
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// microsoft.graph.user, as filter-directory-objects.md lists it (the properties the simulated
/// tenant keeps). `id` is not in that table; Graph answers `id eq`/`id in` by default.
pub const USER: Support = Support {
    resource: "User",
    props: &[
        scalar("id", Dflt, No, No),
        scalar("accountEnabled", Dflt, No, No),
        scalar("city", Dflt, Dflt, Advanced),
        scalar("companyName", Advanced, Advanced, Advanced),
        scalar("country", Dflt, Dflt, Advanced),
        scalar("createdDateTime", Dflt, No, Advanced).range(Dflt),
        scalar("department", Dflt, Dflt, Advanced),
        scalar("displayName", Dflt, Dflt, Advanced),
        scalar("employeeId", Dflt, No, Advanced),
        scalar("employeeType", Advanced, No, No),
        scalar("givenName", Dflt, Dflt, Advanced),
        scalar("jobTitle", Dflt, Dflt, Advanced),
        scalar("mail", Dflt, Dflt, Advanced).ends_with_advanced(),
        scalar("mailNickname", Dflt, Dflt, Advanced),
        scalar("mobilePhone", Advanced, Advanced, Advanced),
        scalar("officeLocation", Advanced, Advanced, Advanced),
        scalar("onPremisesImmutableId", Dflt, No, No),
        scalar("onPremisesSamAccountName", Advanced, Advanced, No),
        scalar("onPremisesSecurityIdentifier", Dflt, No, Advanced),
        scalar("onPremisesSyncEnabled", Dflt, No, Advanced),
        scalar("passwordPolicies", No, No, Advanced),
        scalar("postalCode", Advanced, Advanced, Advanced),
        scalar("preferredLanguage", Advanced, Advanced, Advanced),
        scalar("state", Dflt, No, Advanced),
        scalar("streetAddress", Advanced, Advanced, Advanced),
        scalar("surname", Dflt, Dflt, Advanced),
        scalar("usageLocation", Dflt, Dflt, Advanced),
        scalar("userPrincipalName", Dflt, Dflt, No).ends_with_advanced(),
        scalar("userType", Dflt, No, Advanced),
        collection("proxyAddresses", Dflt, Dflt).ends_with_advanced(),
        collection("otherMails", Dflt, Dflt).ends_with_advanced(),
        collection("businessPhones", Advanced, Advanced),
    ],
    // Base64 ImmutableIds differ by case; whether Entra compares them case-insensitively is
    // unverified, so the sim keeps them exact.
    case_sensitive: &["onPremisesImmutableId"],
    advanced_queries: true,
};

pub const ROLE_ASSIGNMENT: Support = Support {
    resource: "UnifiedRoleAssignment",
    props: &[
        scalar("id", Dflt, No, No),
        scalar("principalId", Dflt, No, No),
        scalar("roleDefinitionId", Dflt, No, No),
        scalar("directoryScopeId", Dflt, No, No),
    ],
    case_sensitive: &[],
    advanced_queries: false,
};

pub const ROLE_DEFINITION: Support = Support {
    resource: "UnifiedRoleDefinition",
    props: &[
        scalar("id", Dflt, No, No),
        scalar("displayName", Dflt, Dflt, No),
        scalar("isPrivileged", Dflt, No, No),
        scalar("templateId", Dflt, No, No),
        scalar("isBuiltIn", Dflt, No, No),
    ],
    case_sensitive: &[],
    advanced_queries: false,
};

pub enum PropValue<'a> {
    Null,
    Str(&'a str),
    Bool(bool),
    List(&'a [String]),
    /// A collection kept as JSON (`otherMails`, `businessPhones`).
    Values(&'a [serde_json::Value]),
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
                    // A date-time literal keeps its colons (`2024-01-01T00:00:00Z`).
                    let time_colon = ch == ':' && w.starts_with(|c: char| c.is_ascii_digit());
                    if ch.is_whitespace() || ("(),:'".contains(ch) && !time_colon) {
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
    /// `ConsistencyLevel: eventual` and `$count=true` were both sent.
    advanced: bool,
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
            self.support
                .prop(name)
                .map(|p| p.name.to_string())
                .unwrap_or_else(|| name.to_string()),
        )
    }

    /// Whether `level` lets this clause through. Without the advanced parameters Graph names the
    /// operator when the operator is what needs them (`ne`, `not`, `endsWith`), and the
    /// property when the property does.
    fn allow(
        &self,
        level: Level,
        prop: &str,
        operator: Option<&'static str>,
    ) -> Result<(), FilterError> {
        match level {
            Dflt => Ok(()),
            Advanced if self.advanced && self.support.advanced_queries => Ok(()),
            Advanced if self.support.advanced_queries => match operator {
                Some(op) => Err(FilterError::NeedsAdvanced(op)),
                None => Err(self.unsupported(prop)),
            },
            _ => Err(self.unsupported(prop)),
        }
    }

    /// A property this resource filters on (not a collection unless `collection`).
    fn property(&self, name: &str, collection: bool) -> Result<Prop, FilterError> {
        match self.support.prop(name) {
            Some(p) if p.collection == collection => Ok(*p),
            _ => Err(self.unsupported(name)),
        }
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
            Some(Tok::Word(w)) if w.starts_with(|c: char| c.is_ascii_digit()) => {
                Ok(Some(Literal::Word(w)))
            }
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

    fn word(&mut self, what: &str) -> Result<String, FilterError> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            other => Err(FilterError::Invalid(format!(
                "expected {what}, found {other:?}"
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
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => self.not(),
            Some(Tok::Word(w))
                if w.eq_ignore_ascii_case("startsWith") || w.eq_ignore_ascii_case("endsWith") =>
            {
                self.string_function(&w)
            }
            Some(Tok::Word(w)) if w.contains('/') => self.lambda(&w),
            Some(Tok::Word(prop)) => self.comparison(&prop),
            other => Err(FilterError::Invalid(format!("unexpected {other:?}"))),
        }
    }

    fn not(&mut self) -> Result<Filter, FilterError> {
        if !(self.advanced && self.support.advanced_queries) {
            // Name the property the negation applies to when no advanced query can help.
            let prop = self.toks[self.pos..]
                .iter()
                .find_map(|t| match t {
                    Tok::Word(w) => self
                        .support
                        .prop(w.split('/').next().unwrap_or(w))
                        .map(|p| p.name),
                    _ => None,
                })
                .unwrap_or_default();
            return Err(match self.allow(Advanced, prop, Some("not")) {
                Err(e) => e,
                Ok(()) => self.unsupported(prop),
            });
        }
        Ok(Filter::Not(Box::new(self.factor()?)))
    }

    /// `startsWith(p,'x')` / `endsWith(p,'x')`.
    fn string_function(&mut self, f: &str) -> Result<Filter, FilterError> {
        self.expect(Tok::Open)?;
        let prop = self.word("a property")?;
        self.expect(Tok::Comma)?;
        let v = self.string_arg()?;
        self.expect(Tok::Close)?;
        let p = self.property(&prop, false)?;
        if f.eq_ignore_ascii_case("endsWith") {
            self.allow(p.ends_with, p.name, Some("endsWith"))?;
            Ok(Filter::EndsWith(p.name, v))
        } else {
            self.allow(p.starts_with, p.name, None)?;
            Ok(Filter::StartsWith(p.name, v))
        }
    }

    /// `p/any(x:x eq 'v')`, `p/any(x:startsWith(x,'v'))`, `p/any(x:endsWith(x,'v'))`.
    fn lambda(&mut self, w: &str) -> Result<Filter, FilterError> {
        let (prop, op) = w.split_once('/').unwrap_or((w, ""));
        if !op.eq_ignore_ascii_case("any") {
            return Err(self.unsupported(prop));
        }
        let p = self.property(prop, true)?;
        self.expect(Tok::Open)?;
        let var = self.word("a lambda variable")?;
        self.expect(Tok::Colon)?;
        let inner = match self.next() {
            Some(Tok::Word(x)) if x == var && self.keyword("eq") => {
                self.next();
                self.allow(p.eq, p.name, None)?;
                Filter::Any(p.name, Lambda::Eq, self.string_arg()?)
            }
            Some(Tok::Word(f))
                if f.eq_ignore_ascii_case("startsWith") || f.eq_ignore_ascii_case("endsWith") =>
            {
                self.expect(Tok::Open)?;
                let x = self.word(&var)?;
                if x != var {
                    return Err(FilterError::Invalid(format!("expected {var}, found {x}")));
                }
                self.expect(Tok::Comma)?;
                let v = self.string_arg()?;
                self.expect(Tok::Close)?;
                if f.eq_ignore_ascii_case("endsWith") {
                    self.allow(p.ends_with, p.name, Some("endsWith"))?;
                    Filter::Any(p.name, Lambda::EndsWith, v)
                } else {
                    self.allow(p.starts_with, p.name, None)?;
                    Filter::Any(p.name, Lambda::StartsWith, v)
                }
            }
            // `x ne …` inside any(): the documentation says to negate the lambda with not.
            _ => return Err(self.unsupported(p.name)),
        };
        self.expect(Tok::Close)?;
        Ok(inner)
    }

    /// `p eq v`, `p ne v`, `p in (…)`, `p ge v`, …, with `null` where allowed.
    fn comparison(&mut self, prop: &str) -> Result<Filter, FilterError> {
        let op = self
            .word(&format!("an operator after '{prop}'"))?
            .to_ascii_lowercase();
        let op = match op.as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "ge" => Op::Ge,
            "gt" => Op::Gt,
            "le" => Op::Le,
            "lt" => Op::Lt,
            "in" => return self.in_list(prop),
            _ => return Err(FilterError::Invalid(format!("unknown operator '{op}'"))),
        };
        let lit = self.literal()?;
        let p = self.property(prop, false)?;
        let level = match (op, &lit) {
            (Op::Eq, None) => p.null,
            (Op::Ne, None) => p.null.negated(),
            (Op::Eq, Some(_)) => p.eq,
            (Op::Ne, Some(_)) => p.eq.negated(),
            (_, None) => No,
            (_, Some(_)) => p.range,
        };
        let operator = (op == Op::Ne && p.eq != No).then_some("ne");
        self.allow(level, p.name, operator)?;
        Ok(Filter::Cmp(p.name, op, lit))
    }

    fn in_list(&mut self, prop: &str) -> Result<Filter, FilterError> {
        self.expect(Tok::Open)?;
        let mut values = Vec::new();
        loop {
            match self.literal()? {
                Some(l) => values.push(l),
                None => return Err(self.unsupported(prop)),
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
        // "The in operator is supported by default whenever eq operator is supported by default."
        let p = self.property(prop, false)?;
        self.allow(p.eq, p.name, None)?;
        Ok(Filter::In(p.name, values))
    }
}

/// Parses `s` for `support`; `advanced` when the request carries `ConsistencyLevel: eventual`
/// and `$count=true`.
pub fn parse(s: &str, support: &Support, advanced: bool) -> Result<Filter, FilterError> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err(FilterError::Invalid("empty filter".into()));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        support,
        advanced,
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

fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.to_lowercase().ends_with(&suffix.to_lowercase())
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
            Filter::Not(f) => f.expression_count(),
            Filter::In(_, v) => v.len(),
            _ => 1,
        }
    }

    pub fn matches(&self, item: &dyn Filterable, support: &Support) -> bool {
        let eq = |prop: &str, lit: &Literal| -> bool {
            match (item.prop(prop), lit) {
                (PropValue::Str(s), Literal::Str(v) | Literal::Word(v)) => {
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
        let ordered = |prop: &str, op: Op, lit: &Literal| -> bool {
            let (PropValue::Str(s), Literal::Str(v) | Literal::Word(v)) = (item.prop(prop), lit)
            else {
                return false;
            };
            let o = s.cmp(v.as_str());
            match op {
                Op::Ge => o.is_ge(),
                Op::Gt => o.is_gt(),
                Op::Le => o.is_le(),
                Op::Lt => o.is_lt(),
                Op::Eq | Op::Ne => false,
            }
        };
        let is_null = |prop: &str| matches!(item.prop(prop), PropValue::Null);
        match self {
            Filter::And(a, b) => a.matches(item, support) && b.matches(item, support),
            Filter::Or(a, b) => a.matches(item, support) || b.matches(item, support),
            Filter::Not(f) => !f.matches(item, support),
            Filter::Cmp(p, Op::Eq, Some(l)) => eq(p, l),
            // OData: null ne 'x' is true, so users without the property are included.
            Filter::Cmp(p, Op::Ne, Some(l)) => !eq(p, l),
            Filter::Cmp(p, Op::Eq, None) => is_null(p),
            Filter::Cmp(p, Op::Ne, None) => !is_null(p),
            Filter::Cmp(_, _, None) => false,
            Filter::Cmp(p, op, Some(l)) => ordered(p, *op, l),
            Filter::In(p, ls) => ls.iter().any(|l| eq(p, l)),
            Filter::StartsWith(p, v) => {
                matches!(item.prop(p), PropValue::Str(s) if starts_with_ci(s, v))
            }
            Filter::EndsWith(p, v) => {
                matches!(item.prop(p), PropValue::Str(s) if ends_with_ci(s, v))
            }
            Filter::Any(p, op, v) => {
                let hit = |x: &str| match op {
                    Lambda::Eq => x.eq_ignore_ascii_case(v),
                    Lambda::StartsWith => starts_with_ci(x, v),
                    Lambda::EndsWith => ends_with_ci(x, v),
                };
                match item.prop(p) {
                    PropValue::List(l) => l.iter().any(|x| hit(x)),
                    PropValue::Values(l) => l.iter().filter_map(|x| x.as_str()).any(hit),
                    _ => false,
                }
            }
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
        Some(serde_json::Value::Array(a)) => PropValue::Values(a),
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
        let mut u = User {
            id: Some("1".into()),
            user_principal_name: Some(upn.into()),
            on_premises_immutable_id: imm.map(String::from),
            proxy_addresses: Some(vec!["SMTP:Jo@Contoso.com".into()]),
            on_premises_sync_enabled: Some(false),
            ..Default::default()
        };
        u.other
            .insert("createdDateTime".into(), "2024-05-01T10:00:00Z".into());
        u.other
            .insert("otherMails".into(), serde_json::json!(["jo@fabrikam.com"]));
        u
    }

    fn ok(f: &str, u: &User) -> bool {
        parse(f, &USER, false).expect(f).matches(u, &USER)
    }

    fn advanced(f: &str, u: &User) -> bool {
        parse(f, &USER, true).expect(f).matches(u, &USER)
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
        assert!(ok("otherMails/any(x:x eq 'JO@fabrikam.com')", &u));
        assert!(ok(
            "onPremisesSyncEnabled eq false and (mail eq 'x' or startsWith(userPrincipalName,'J'))",
            &u
        ));
        assert!(ok("displayName eq 'it''s' or id eq '1'", &u));
        assert!(ok("createdDateTime ge 2024-01-01T00:00:00Z", &u));
        assert!(!ok("createdDateTime le 2024-01-01T00:00:00Z", &u));
    }

    #[test]
    fn advanced_clauses_match_with_the_advanced_parameters() {
        let u = user("Jo@contoso.com", Some("AbC+/=="));
        assert!(advanced("endsWith(userPrincipalName,'@CONTOSO.com')", &u));
        assert!(advanced("userPrincipalName ne 'x@contoso.com'", &u));
        assert!(!advanced("NOT (userPrincipalName eq 'jo@contoso.com')", &u));
        assert!(advanced("not startsWith(userPrincipalName,'x')", &u));
        assert!(advanced("mail eq null", &u), "mail is unset");
        assert!(advanced("mail ne 'x'", &u), "null ne 'x' is true in OData");
        assert!(!advanced("displayName ne null", &u));
        assert!(advanced(
            "proxyAddresses/any(p:endsWith(p,'contoso.com'))",
            &u
        ));
        assert!(advanced("not(proxyAddresses/any(p:p eq 'x'))", &u));
        assert!(advanced(
            "companyName eq null and onPremisesSyncEnabled ne null",
            &u
        ));
    }

    #[test]
    fn advanced_clauses_without_the_parameters_name_the_operator() {
        for (f, op) in [
            ("userPrincipalName ne 'x'", "ne"),
            ("endsWith(mail,'x')", "endsWith"),
            ("not(displayName eq 'x')", "not"),
            ("NOT startsWith(displayName,'x')", "not"),
            ("proxyAddresses/any(p:endsWith(p,'x'))", "endsWith"),
        ] {
            assert_eq!(
                parse(f, &USER, false),
                Err(FilterError::NeedsAdvanced(op)),
                "{f}"
            );
            assert!(parse(f, &USER, true).is_ok(), "{f}");
        }
        // Properties (not operators) that need them are named instead.
        for (f, p) in [
            ("companyName eq 'x'", "companyName"),
            ("displayName eq null", "displayName"),
            (
                "onPremisesSamAccountName eq 'x'",
                "onPremisesSamAccountName",
            ),
        ] {
            assert_eq!(
                parse(f, &USER, false),
                Err(FilterError::Unsupported(p.into())),
                "{f}"
            );
            assert!(parse(f, &USER, true).is_ok(), "{f}");
        }
    }

    #[test]
    fn unsupported_clauses_name_the_property_even_with_advanced_parameters() {
        for (f, p) in [
            ("onPremisesImmutableId eq null", "onPremisesImmutableId"),
            ("userPrincipalName ne null", "userPrincipalName"),
            ("endsWith(displayName,'x')", "displayName"),
            ("jobtitle gt 'x'", "jobTitle"),
            ("nonsense eq 'x'", "nonsense"),
            ("passwordPolicies eq 'x'", "passwordPolicies"),
            ("proxyAddresses eq 'x'", "proxyAddresses"),
            ("proxyAddresses/any(p:p ne 'x')", "proxyAddresses"),
            (
                "startsWith(onPremisesImmutableId,'x')",
                "onPremisesImmutableId",
            ),
        ] {
            for adv in [false, true] {
                assert_eq!(
                    parse(f, &USER, adv),
                    Err(FilterError::Unsupported(p.into())),
                    "{f} advanced={adv}"
                );
            }
        }
        assert_eq!(
            parse("principalId ne 'x'", &ROLE_ASSIGNMENT, true),
            Err(FilterError::Unsupported("principalId".into())),
            "role management has no advanced queries"
        );
        assert!(matches!(
            parse("userPrincipalName eq", &USER, false),
            Err(FilterError::Invalid(_))
        ));
        assert!(matches!(
            parse("(id eq '1'", &USER, false),
            Err(FilterError::Invalid(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_input_parses_or_fails_cleanly(s in "\\PC{0,80}", adv: bool) {
            let _ = parse(&s, &USER, adv);
        }

        #[test]
        fn filter_shaped_input_never_panics(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["(", ")", "'a'", "'b''c'", "eq", "ne", "in", "and", "or", "not",
                    "startsWith", "endsWith", "userPrincipalName", "proxyAddresses/any", "p", ":", ",", "null",
                    "true", "ge", "2024-01-01T00:00:00Z"]),
                0..16,
            ),
            adv: bool,
        ) {
            let s = parts.join(" ");
            if let Ok(f) = parse(&s, &USER, adv) {
                let u = user("x@y", None);
                let _ = f.matches(&u, &USER);
            }
        }
    }
}
