//! The query options of a directory listing, checked the way aad-advanced-queries.md describes:
//! `$count=true` counts only with `ConsistencyLevel: eventual` (and is silently ignored without
//! it); `ConsistencyLevel: eventual` plus `$count=true` are the *advanced query parameters* that
//! unlock `ne`, `not`, `endsWith`, some properties, `$orderby` on more properties and `$orderby`
//! together with `$filter`; `$search` needs the header.

use super::filter::{self, Filter, FilterError, Support};
use super::routes::{graph_error, Headers, Ids, Query, Reply};

/// Everything a listing was asked for, except `$select` and `$skiptoken`, which the listing
/// reads itself.
pub(crate) struct ListQuery {
    pub top: usize,
    /// Answer with `@odata.count` (`$count=true` with `ConsistencyLevel: eventual`).
    pub count: bool,
    pub filter: Option<Filter>,
    pub order: Option<Order>,
}

/// `$orderby=prop [asc|desc]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Order {
    pub prop: &'static str,
    pub desc: bool,
}

/// The `$orderby` support table for users (aad-advanced-queries.md): `deletedDateTime` is there
/// for the recycle bin's listing.
const USER_ORDER: &[(&str, filter::Level)] = &[
    ("displayName", filter::Level::Default),
    ("userPrincipalName", filter::Level::Default),
    ("createdDateTime", filter::Level::Advanced),
    ("deletedDateTime", filter::Level::Advanced),
];

/// Options a directory listing knows; any other `$` option is refused rather than ignored.
const KNOWN: &[&str] = &[
    "$select",
    "$top",
    "$filter",
    "$skiptoken",
    "$count",
    "$orderby",
    "$search",
];

fn unsupported_query(ids: &Ids, message: &str) -> Reply {
    graph_error(ids, 400, "Request_UnsupportedQuery", message, vec![])
}

const SORTING_NOT_SUPPORTED: &str = "Sorting not supported for current query.";

impl ListQuery {
    pub fn parse(
        q: &Query,
        headers: &Headers,
        support: &Support,
        ids: &Ids,
    ) -> Result<ListQuery, Reply> {
        if let Some((k, _)) = q
            .pairs
            .iter()
            .find(|(k, _)| k.starts_with('$') && !KNOWN.iter().any(|n| n.eq_ignore_ascii_case(k)))
        {
            // $expand/$skip are not modelled; say so rather than ignore them.
            return Err(graph_error(
                ids,
                400,
                "Request_BadRequest",
                &format!(
                    "The query option '{}' is not supported by the simulated tenant.",
                    k.to_ascii_lowercase()
                ),
                vec![],
            ));
        }
        let top = top(q, ids)?;
        let eventual = headers
            .get("consistencylevel")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"));
        let count_asked = q
            .get("$count")
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("true"));
        let advanced = eventual && count_asked;
        if q.get("$search").is_some() {
            return Err(if eventual {
                graph_error(
                    ids,
                    400,
                    "Request_BadRequest",
                    "The query option '$search' is not supported by the simulated tenant.",
                    vec![],
                )
            } else {
                unsupported_query(
                    ids,
                    "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
                )
            });
        }
        let filter = match q.get("$filter") {
            None => None,
            Some(f) => Some(
                filter::parse(f, support, advanced).map_err(|e| filter_error(e, support, ids))?,
            ),
        };
        let order = match q.get("$orderby") {
            None => None,
            Some(o) => Some(order(o, advanced, filter.is_some(), ids)?),
        };
        Ok(ListQuery {
            top,
            // Without the header Graph ignores `$count=true` silently (aad-advanced-queries.md).
            count: advanced,
            filter,
            order,
        })
    }
}

fn top(q: &Query, ids: &Ids) -> Result<usize, Reply> {
    match q.get("$top") {
        None => Ok(100),
        Some(t) => match t.trim().parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => Ok(n),
            _ => Err(graph_error(
                ids,
                400,
                "Request_BadRequest",
                &format!(
                    "Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."
                ),
                vec![],
            )),
        },
    }
}

/// One sort key; Graph's directory sorts by one property. `$filter` with `$orderby`, and the
/// properties marked "Advanced", need the advanced query parameters.
fn order(o: &str, advanced: bool, filtered: bool, ids: &Ids) -> Result<Order, Reply> {
    let mut words = o.split_whitespace();
    let (Some(name), dir, None) = (words.next(), words.next(), words.next()) else {
        return Err(unsupported_query(ids, SORTING_NOT_SUPPORTED));
    };
    let desc = match dir {
        None => false,
        Some(d) if d.eq_ignore_ascii_case("asc") => false,
        Some(d) if d.eq_ignore_ascii_case("desc") => true,
        Some(_) => return Err(unsupported_query(ids, SORTING_NOT_SUPPORTED)),
    };
    let Some((prop, level)) = USER_ORDER
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(name))
    else {
        return Err(unsupported_query(ids, SORTING_NOT_SUPPORTED));
    };
    let needs_advanced = filtered || *level == filter::Level::Advanced;
    if needs_advanced && !advanced {
        return Err(unsupported_query(ids, SORTING_NOT_SUPPORTED));
    }
    Ok(Order { prop, desc })
}

fn filter_error(e: FilterError, support: &Support, ids: &Ids) -> Reply {
    match e {
        FilterError::Unsupported(p) => unsupported_query(
            ids,
            &format!(
                "Unsupported or invalid query filter clause specified for property '{p}' of resource '{}'.",
                support.resource
            ),
        ),
        // aad-advanced-queries.md's example for endsWith, with the operator's name.
        FilterError::NeedsAdvanced(op) => unsupported_query(
            ids,
            &format!(
                "Operator '{op}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
            ),
        ),
        // The limit is documented; the error text is from field reports and unverified.
        FilterError::TooManyExpressions(n) => unsupported_query(
            ids,
            &format!(
                "Too many child clauses specified in search filter expression containing 'OR' operators: {n}. Max allowed: {}.",
                filter::MAX_EXPRESSIONS
            ),
        ),
        FilterError::Invalid(why) => graph_error(
            ids,
            400,
            "BadRequest",
            &format!("Invalid filter clause: {why}"),
            vec![],
        ),
    }
}

/// For listings outside the directory (role management): `$filter` only, no advanced queries.
pub(crate) fn plain_filter(
    q: &Query,
    support: &Support,
    ids: &Ids,
) -> Result<Option<Filter>, Reply> {
    match q.get("$filter") {
        None => Ok(None),
        Some(f) => filter::parse(f, support, false)
            .map(Some)
            .map_err(|e| filter_error(e, support, ids)),
    }
}
