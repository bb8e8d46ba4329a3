//! The operations hardmatch needs, as methods of [`GraphClient`]. URLs follow
//! graph-behaviour.md §1–§5; the simulated tenant serves exactly these.

use super::batch::{BatchObserver, BatchOutcome, Unobserved};
use super::error::GraphError;
use super::pacing::Cost;
use super::GraphClient;
use crate::wire::{
    BatchItem, OnPremisesSynchronization, Page, RoleAssignment, RoleDefinition, SyncFeatures, User,
    USER_SELECT,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Query values: everything but unreserved characters, so `+`, `/`, `=`, `#`, `'` and spaces
/// survive intact (a raw `+` would arrive as a space).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One path segment (a user id or UPN): reserved characters encoded, `@` kept readable.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'<')
    .add(b'>')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// ImmutableIds per `in (…)` filter: keeps URLs well under Graph's length limits.
const IN_CHUNK: usize = 15;

/// One ImmutableId change: set it (`Some`) or clear it (`None`, sent as JSON `null`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImmutableIdUpdate {
    /// Object id (preferred) or UPN of the user.
    pub user: String,
    /// New value, or `None` to clear.
    pub immutable_id: Option<String>,
}

/// Which listed users a caller keeps.
type Keep = Arc<dyn Fn(&User) -> bool + Send + Sync>;

/// One listing partition's users that were kept, and how many it listed.
#[derive(Default)]
struct Kept {
    users: Vec<User>,
    listed: usize,
}

impl Kept {
    fn add(&mut self, page: Vec<User>, keep: &(dyn Fn(&User) -> bool + Send + Sync)) {
        self.listed += page.len();
        self.users.extend(page.into_iter().filter(|u| keep(u)));
    }
}

/// The UPN first characters [`GraphClient::list_users_partitioned`] starts from, one
/// `startsWith(userPrincipalName,'…')` query each (case-insensitive on Graph): letters, digits,
/// `.` and every other RFC 5322 `atext` character (`! # $ % & ' * + - / = ? ^ _ \` { | } ~`).
/// Entra's documented UPN character set (letters, digits, `' . - _ ! # ^ ~`) is a subset, and
/// Graph documents UPNs starting with `$`; so every UPN Entra accepts falls in exactly one
/// partition and the union equals the sequential listing. (Non-ASCII UPNs, which Entra refuses,
/// would be missed.)
pub fn partition_prefixes() -> Vec<String> {
    let mut p: Vec<String> = ('a'..='z').chain('0'..='9').map(String::from).collect();
    p.extend(
        [
            "'", ".", "-", "_", "!", "#", "^", "~", "$", "&", "+", "=", "`", "{", "}", "|", "*",
            "%", "/", "?",
        ]
        .map(String::from),
    );
    p
}

/// Characters that can follow a prefix inside a UPN: the first-character set plus `@` (a
/// prefix can be a whole local part). After `@` come domain characters (letters, digits,
/// `-`, `.`), all in the set. A UPN always continues past a prefix (it has a domain), so the
/// children of a prefix cover all its users.
fn next_chars() -> Vec<String> {
    let mut p = partition_prefixes();
    p.push("@".into());
    p
}

/// Pages a partition reads before it may be split.
const PROBE_PAGES: usize = 3;

/// Longest prefix a partition is split to.
const MAX_PREFIX_CHARS: usize = 8;

fn report_total(
    progress: &Arc<dyn Fn(usize) + Send + Sync>,
    count: &std::sync::atomic::AtomicUsize,
    n: usize,
) {
    progress(count.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n);
}

fn enc(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// An OData string literal: single quotes doubled.
fn odata_literal(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

fn select() -> String {
    USER_SELECT.join(",")
}

/// `/users/{id|upn}`, or `/users('$…')` for UPNs starting with `$` (as Graph requires).
pub(crate) fn user_path(id_or_upn: &str) -> String {
    if id_or_upn.starts_with('$') {
        format!(
            "/users({})",
            utf8_percent_encode(&odata_literal(id_or_upn), PATH_SEGMENT)
        )
    } else {
        format!("/users/{}", utf8_percent_encode(id_or_upn, PATH_SEGMENT))
    }
}

/// Times a page of a listing is requested again after its request ran out of retries.
const PAGE_ROUNDS: u32 = 3;

/// Worth reading again: the request failed for reasons that pass (throttling, a 5xx, the
/// network), not because Graph refused it or its certificate is not trusted.
fn passing(e: &GraphError) -> bool {
    match e {
        GraphError::Transport { message, .. } => !super::http::untrusted_certificate(message),
        GraphError::Api(a) => matches!(a.status, 429 | 500 | 502 | 503 | 504),
        _ => false,
    }
}

impl GraphClient {
    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, GraphError> {
        self.send(Method::GET, url, None).await?.json()
    }

    /// A listing page. A long read must not fail for one unlucky request: a page whose request
    /// ran out of retries is requested again, alone, up to [`PAGE_ROUNDS`] times in all, while
    /// the other partitions go on.
    async fn get_page<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<Page<T>, GraphError> {
        let mut round = 1;
        loop {
            match self.get_json(url).await {
                Err(e) if passing(&e) && round < PAGE_ROUNDS => {
                    round += 1;
                    tracing::warn!("reading a page of a listing failed ({e}); reading it again (round {round} of {PAGE_ROUNDS})");
                }
                r => return r,
            }
        }
    }

    /// Follows `@odata.nextLink` (opaque) from `first` to the end, calling `progress` with the
    /// running count.
    async fn collect_pages<T: serde::de::DeserializeOwned>(
        &self,
        first: String,
        progress: &(dyn Fn(usize) + Send + Sync),
        base_count: &std::sync::atomic::AtomicUsize,
    ) -> Result<Vec<T>, GraphError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next {
            let page: Page<T> = self.get_page(&url).await?;
            let n = page.value.len();
            out.extend(page.value);
            let total = base_count.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
            progress(total);
            next = page.next_link;
        }
        Ok(out)
    }

    /// All users (`$select` = [`USER_SELECT`], `$top=999`), paging sequentially.
    /// `progress` gets the number of users read so far after each page.
    pub async fn list_users(
        &self,
        progress: impl Fn(usize) + Send + Sync,
    ) -> Result<Vec<User>, GraphError> {
        let url = format!("/users?$select={}&$top=999", select());
        self.collect_pages(url, &progress, &Default::default())
            .await
    }

    /// All users, read as parallel `startsWith(userPrincipalName,…)` partitions,
    /// `list_concurrency` at a time, merged and deduplicated by id; equal as a set to
    /// [`GraphClient::list_users`].
    ///
    /// Works level by level. Level 1 reads up to 3 pages of one partition per
    /// [`partition_prefixes`] character; partitions that end there are complete. If fewer
    /// large partitions (more than 3 pages, ~3,000 users) remain than there are workers, they
    /// are split into one child per possible next character (their pages so far are dropped)
    /// and the next level reads those; otherwise — or at 8 characters — the large ones are
    /// paged to the end in parallel. So a tenant whose UPNs share a long prefix
    /// (`user000123@…`) still spreads over the workers, while small tenants and tenants with
    /// many large partitions pay for no split (a split costs ~57 mostly empty queries).
    /// Order: by prefix, then Graph's order. `progress` gets the running total.
    ///
    /// The partitions cover every UPN Entra accepts, but a user outside them would be missed
    /// silently (a UPN from before today's rules, or a Graph that compares differently), so
    /// the merged count is checked against `GET /users/$count`. When they differ, the users
    /// are read again page by page ([`GraphClient::list_users`]) and a warning says so; when
    /// the count cannot be read, a warning says that and the partitioned result stands.
    pub async fn list_users_partitioned(
        &self,
        progress: impl Fn(usize) + Send + Sync + 'static,
    ) -> Result<Vec<User>, GraphError> {
        self.list_users_partitioned_where(progress, |_| true).await
    }

    /// [`GraphClient::list_users_partitioned`], keeping only the users `keep` accepts as their
    /// pages arrive: a caller that needs a few of a million users does not hold the rest. The
    /// `$count` cross-check still counts every user listed.
    pub async fn list_users_partitioned_where(
        &self,
        progress: impl Fn(usize) + Send + Sync + 'static,
        keep: impl Fn(&User) -> bool + Send + Sync + 'static,
    ) -> Result<Vec<User>, GraphError> {
        let progress: Arc<dyn Fn(usize) + Send + Sync> = Arc::new(progress);
        let keep: Keep = Arc::new(keep);
        let (users, listed) = self.list_partitions(progress.clone(), keep.clone()).await?;
        match self.count_users().await {
            Ok(n) if n == listed as u64 => Ok(users),
            Ok(n) => {
                tracing::warn!(
                    "partitioned listing found {listed} users but Graph counts {n} (GET /users/$count); \
                     reading all users again page by page"
                );
                drop(users);
                let all = self.list_users(move |n| progress(n)).await?;
                Ok(all.into_iter().filter(|u| keep(u)).collect())
            }
            Err(e) => {
                tracing::warn!(
                    "cannot cross-check the {listed} users listed with GET /users/$count ({e}); keeping them"
                );
                Ok(users)
            }
        }
    }

    /// The number of users (`GET /users/$count` with `ConsistencyLevel: eventual`, which Graph
    /// requires for it; the count is eventually consistent, like every advanced query).
    pub async fn count_users(&self) -> Result<u64, GraphError> {
        let url = "/users/$count";
        let resp = self
            .inner
            .pipeline
            .send(
                Method::GET,
                url,
                None,
                &[("ConsistencyLevel", "eventual")],
                Cost::of("GET", url),
            )
            .await?;
        String::from_utf8_lossy(&resp.body)
            .trim()
            .parse()
            .map_err(|_| GraphError::Decode {
                message: format!(
                    "/users/$count answered {:?}, not a number",
                    String::from_utf8_lossy(&resp.body)
                ),
                request_id: resp.request_id.clone().unwrap_or_default(),
            })
    }

    /// The partitioned listing: the users `keep` accepts, and how many users were listed in all
    /// (counting each kept user once).
    async fn list_partitions(
        &self,
        progress: Arc<dyn Fn(usize) + Send + Sync>,
        keep: Keep,
    ) -> Result<(Vec<User>, usize), GraphError> {
        type Path = Vec<usize>;
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let report =
            |n: usize| progress(count.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n);
        let workers = self.inner.list_concurrency;
        let children = next_chars();
        let mut leaves: Vec<(Path, Kept)> = Vec::new();
        let mut level: Vec<(Path, String)> = partition_prefixes()
            .into_iter()
            .enumerate()
            .map(|(i, p)| (vec![i], p))
            .collect();
        let mut to_page: Vec<(Path, Kept, String)> = Vec::new();
        while !level.is_empty() {
            let k = keep.clone();
            let probed = self
                .run_concurrently(level, workers, move |client, (path, prefix)| {
                    let keep = k.clone();
                    async move {
                        let filter =
                            format!("startsWith(userPrincipalName,{})", odata_literal(&prefix));
                        let mut next = Some(format!(
                            "/users?$select={}&$top=999&$filter={}",
                            select(),
                            enc(&filter)
                        ));
                        let mut kept = Kept::default();
                        for _ in 0..PROBE_PAGES {
                            let Some(url) = next.take() else { break };
                            let page: Page<User> = client.get_page(&url).await?;
                            kept.add(page.value, &*keep);
                            next = page.next_link;
                        }
                        Ok((path, prefix, kept, next))
                    }
                })
                .await?;
            let mut big = Vec::new();
            for (path, prefix, kept, next) in probed {
                match next {
                    Some(next) => big.push((path, prefix, kept, next)),
                    None => {
                        report(kept.listed);
                        leaves.push((path, kept));
                    }
                }
            }
            level = Vec::new();
            let split = big.len() < workers;
            for (path, prefix, kept, next) in big {
                if split && prefix.chars().count() < MAX_PREFIX_CHARS {
                    tracing::debug!(prefix = %prefix, "splitting a large listing partition");
                    for (i, c) in children.iter().enumerate() {
                        let mut child = path.clone();
                        child.push(i);
                        level.push((child, format!("{prefix}{c}")));
                    }
                } else {
                    report(kept.listed);
                    to_page.push((path, kept, next));
                }
            }
        }
        let report = Arc::new(move |n: usize| report_total(&progress, &count, n));
        let paged = self
            .run_concurrently(to_page, workers, move |client, (path, mut kept, next)| {
                let (report, keep) = (report.clone(), keep.clone());
                async move {
                    let mut next = Some(next);
                    while let Some(url) = next {
                        let page: Page<User> = client.get_page(&url).await?;
                        report(page.value.len());
                        kept.add(page.value, &*keep);
                        next = page.next_link;
                    }
                    Ok((path, kept))
                }
            })
            .await?;
        leaves.extend(paged);
        leaves.sort_by(|a, b| a.0.cmp(&b.0));
        let skipped: usize = leaves.iter().map(|(_, k)| k.listed - k.users.len()).sum();
        let mut seen = HashSet::new();
        // Sized once: doubling a million-user Vec while the leaves are still held costs a
        // quarter of a gigabyte at the peak.
        let mut out = Vec::with_capacity(leaves.iter().map(|(_, k)| k.users.len()).sum());
        for (_, kept) in leaves {
            for u in kept.users {
                let key = u.id.clone().unwrap_or_default();
                if key.is_empty() || seen.insert(key) {
                    out.push(u);
                }
            }
        }
        let listed = out.len() + skipped;
        Ok((out, listed))
    }

    /// Runs `job` for every input, `workers` at a time; results in input order; the first
    /// error stops the rest.
    async fn run_concurrently<I, O, F, Fut>(
        &self,
        inputs: Vec<I>,
        workers: usize,
        job: F,
    ) -> Result<Vec<O>, GraphError>
    where
        I: Send + 'static,
        O: Send + 'static,
        F: Fn(GraphClient, I) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<O, GraphError>> + Send + 'static,
    {
        let job = Arc::new(job);
        let sem = Arc::new(tokio::sync::Semaphore::new(workers.max(1)));
        let mut set = tokio::task::JoinSet::new();
        let n = inputs.len();
        for (i, input) in inputs.into_iter().enumerate() {
            let (client, job, sem) = (self.clone(), job.clone(), sem.clone());
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (i, job(client, input).await)
            });
        }
        let mut out: Vec<Option<O>> = (0..n).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            let (i, r) =
                joined.map_err(|e| GraphError::config(format!("listing task failed: {e}")))?;
            match r {
                Ok(o) => out[i] = Some(o),
                Err(e) => {
                    set.abort_all();
                    return Err(e);
                }
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// One user by object id or UPN (`$select` = [`USER_SELECT`]). A UPN starting with `$`
    /// uses the `/users('$…')` form; `#` (B2B `#EXT#`) and other reserved characters are encoded.
    pub async fn get_user(&self, id_or_upn: &str) -> Result<User, GraphError> {
        self.get_json(&format!("{}?$select={}", user_path(id_or_upn), select()))
            .await
    }

    /// Sets (`Some`) or clears (`None`, sent as JSON `null`, never `""`) a user's
    /// `onPremisesImmutableId`.
    pub async fn set_immutable_id(
        &self,
        user: &str,
        immutable_id: Option<&str>,
    ) -> Result<(), GraphError> {
        let body = json!({ "onPremisesImmutableId": immutable_id });
        self.send(Method::PATCH, &user_path(user), Some(&body))
            .await
            .map(|_| ())
    }

    /// Many [`GraphClient::set_immutable_id`] calls through `$batch`, paced; one result per
    /// update, in order. A failure's [`GraphError`] names Graph's code, message and request-id.
    pub async fn set_immutable_ids(
        &self,
        updates: &[ImmutableIdUpdate],
    ) -> Vec<Result<(), GraphError>> {
        self.set_immutable_ids_observed(updates, Arc::new(Unobserved))
            .await
    }

    /// [`GraphClient::set_immutable_ids`] with an observer: item `i` is `updates[i]`; see
    /// [`BatchObserver`] for when each call comes.
    pub async fn set_immutable_ids_observed(
        &self,
        updates: &[ImmutableIdUpdate],
        observer: Arc<dyn BatchObserver>,
    ) -> Vec<Result<(), GraphError>> {
        let items = updates
            .iter()
            .enumerate()
            .map(|(i, u)| BatchItem {
                id: (i + 1).to_string(),
                method: "PATCH".into(),
                url: user_path(&u.user),
                body: Some(json!({ "onPremisesImmutableId": u.immutable_id })),
                ..BatchItem::default()
            })
            .collect();
        self.batch_observed(items, observer)
            .await
            .into_iter()
            .map(|r| r.map(|_| ()))
            .collect()
    }

    /// Active users whose `onPremisesImmutableId` is one of `immutable_ids`, via
    /// `$filter=onPremisesImmutableId in (…)` in chunks of 15, batched.
    pub async fn find_users_by_immutable_ids(
        &self,
        immutable_ids: &[String],
    ) -> Result<Vec<User>, GraphError> {
        self.find_by_immutable_ids("/users", immutable_ids).await
    }

    /// Soft-deleted users holding one of `immutable_ids`. UNVERIFIED against the real service:
    /// Microsoft does not document `$filter` on `onPremisesImmutableId` for deletedItems
    /// (graph-behaviour.md open item 3). If Graph refuses it, fall back to
    /// [`GraphClient::list_deleted_users`] and match locally.
    pub async fn find_deleted_users_by_immutable_ids(
        &self,
        immutable_ids: &[String],
    ) -> Result<Vec<User>, GraphError> {
        self.find_by_immutable_ids(
            "/directory/deletedItems/microsoft.graph.user",
            immutable_ids,
        )
        .await
    }

    async fn find_by_immutable_ids(
        &self,
        collection: &str,
        ids: &[String],
    ) -> Result<Vec<User>, GraphError> {
        let mut select = select();
        if collection.starts_with("/directory") {
            select.push_str(",deletedDateTime");
        }
        let mut seen = HashSet::new();
        let ids: Vec<&String> = ids.iter().filter(|v| seen.insert(v.as_str())).collect();
        let items: Vec<BatchItem> = ids
            .chunks(IN_CHUNK)
            .enumerate()
            .map(|(i, chunk)| {
                let list = chunk
                    .iter()
                    .map(|v| odata_literal(v))
                    .collect::<Vec<_>>()
                    .join(",");
                let filter = format!("onPremisesImmutableId in ({list})");
                BatchItem {
                    id: (i + 1).to_string(),
                    method: "GET".into(),
                    url: format!("{collection}?$select={select}&$filter={}", enc(&filter)),
                    ..BatchItem::default()
                }
            })
            .collect();
        let mut out = Vec::new();
        for r in self.batch(items).await {
            out.extend(self.page_from_batch::<User>(r).await?);
        }
        Ok(out)
    }

    /// A batched GET's page plus any further pages (followed directly).
    async fn page_from_batch<T: serde::de::DeserializeOwned>(
        &self,
        r: BatchOutcome,
    ) -> Result<Vec<T>, GraphError> {
        let resp = r?;
        let page: Page<T> =
            serde_json::from_value(resp.body.unwrap_or(Value::Null)).map_err(|e| {
                GraphError::Decode {
                    message: format!("batched page: {e}"),
                    request_id: String::new(),
                }
            })?;
        let mut out = page.value;
        if let Some(next) = page.next_link {
            out.extend(
                self.collect_pages::<T>(next, &|_| {}, &Default::default())
                    .await?,
            );
        }
        Ok(out)
    }

    /// All soft-deleted users (`/directory/deletedItems/microsoft.graph.user`, `$select` =
    /// [`USER_SELECT`] + `deletedDateTime`, `$top=999`), paged.
    pub async fn list_deleted_users(
        &self,
        progress: impl Fn(usize) + Send + Sync,
    ) -> Result<Vec<User>, GraphError> {
        let url = format!(
            "/directory/deletedItems/microsoft.graph.user?$select={},deletedDateTime&$top=999",
            select()
        );
        self.collect_pages(url, &progress, &Default::default())
            .await
    }

    /// Permanently deletes a soft-deleted user (`DELETE /directory/deletedItems/{id}`); cannot be undone.
    pub async fn purge_deleted_user(&self, id: &str) -> Result<(), GraphError> {
        let url = format!(
            "/directory/deletedItems/{}",
            utf8_percent_encode(id, PATH_SEGMENT)
        );
        self.send(Method::DELETE, &url, None).await.map(|_| ())
    }

    /// Many [`GraphClient::purge_deleted_user`] calls through `$batch`; one result each, in order.
    /// A purge whose answer was lost and that then finds nothing to purge (404) is done.
    pub async fn purge_deleted_users(&self, ids: &[String]) -> Vec<Result<(), GraphError>> {
        self.purge_deleted_users_observed(ids, Arc::new(Unobserved))
            .await
    }

    /// [`GraphClient::purge_deleted_users`] with an observer: item `i` is `ids[i]`; see
    /// [`BatchObserver`] for when each call comes.
    pub async fn purge_deleted_users_observed(
        &self,
        ids: &[String],
        observer: Arc<dyn BatchObserver>,
    ) -> Vec<Result<(), GraphError>> {
        let items = ids
            .iter()
            .enumerate()
            .map(|(i, id)| BatchItem {
                id: (i + 1).to_string(),
                method: "DELETE".into(),
                url: format!(
                    "/directory/deletedItems/{}",
                    utf8_percent_encode(id, PATH_SEGMENT)
                ),
                ..BatchItem::default()
            })
            .collect();
        self.batch_observed(items, observer)
            .await
            .into_iter()
            .map(|r| r.map(|_| ()))
            .collect()
    }

    /// Restores a soft-deleted user (`POST /directory/deletedItems/{id}/restore`); for rehearsal
    /// tenants. When an attempt's answer was lost, the retry may find nothing to restore: the
    /// user is then read back, and if it is active the restore is reported as done.
    pub async fn restore_deleted_user(&self, id: &str) -> Result<User, GraphError> {
        let url = format!(
            "/directory/deletedItems/{}/restore",
            utf8_percent_encode(id, PATH_SEGMENT)
        );
        let sent = self.post_once(&url, None).await;
        match sent.result {
            Ok(r) => r.json(),
            Err(e) if sent.in_doubt => {
                tracing::info!("restoring {id}: an answer was lost and the last one was: {e}; reading the user back");
                match self.get_user(id).await {
                    Ok(u) => {
                        self.inner.pipeline.stats.in_doubt_resolved();
                        Ok(u)
                    }
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a user (`POST /users`; Graph requires accountEnabled, displayName, mailNickname,
    /// userPrincipalName and passwordProfile, passed through `user.other`); for rehearsal
    /// tenants. When an attempt's answer was lost, the retry may meet the user it created (a
    /// UPN conflict): the user is then read back by UPN, and if its display name and
    /// ImmutableId are the ones asked for, the create is reported as done.
    pub async fn create_user(&self, user: &User) -> Result<User, GraphError> {
        let body = serde_json::to_value(user)
            .map_err(|e| GraphError::config(format!("cannot encode user: {e}")))?;
        let sent = self.post_once("/users", Some(&body)).await;
        let e = match sent.result {
            Ok(r) => return r.json(),
            Err(e) if sent.in_doubt => e,
            Err(e) => return Err(e),
        };
        let Some(upn) = user.user_principal_name.as_deref() else {
            return Err(e);
        };
        tracing::info!(
            "creating {upn}: an answer was lost and the last one was: {e}; reading the user back"
        );
        match self.get_user(upn).await {
            Ok(found)
                if found.display_name == user.display_name
                    && (user.on_premises_immutable_id.is_none()
                        || found.on_premises_immutable_id == user.on_premises_immutable_id) =>
            {
                self.inner.pipeline.stats.in_doubt_resolved();
                Ok(found)
            }
            _ => Err(e),
        }
    }

    /// A POST through the pipeline, telling whether an attempt's answer was lost.
    async fn post_once(&self, url: &str, body: Option<&Value>) -> crate::graph::http::Sent {
        self.inner
            .pipeline
            .send_observed(Method::POST, url, body, &[], Cost::of("POST", url), &|| {})
            .await
    }

    /// The tenant's directory synchronization features (`GET /directory/onPremisesSynchronization`):
    /// `blockCloudObjectTakeoverThroughHardMatchEnabled` blocks every hard match. `None` when the
    /// tenant has no such object (never synchronized).
    pub async fn sync_features(&self) -> Result<Option<SyncFeatures>, GraphError> {
        let page: Page<OnPremisesSynchronization> = self
            .get_json("/directory/onPremisesSynchronization")
            .await?;
        Ok(page.value.into_iter().next().map(|s| s.features))
    }

    /// For each of `user_ids`, the display names of the privileged directory roles (by the role
    /// definition's `isPrivileged`) it holds, assigned or eligible. Every requested id is a key;
    /// an empty list means none. Role definitions are read once; per-user assignments and
    /// eligibility schedules go through `$batch`.
    ///
    /// Known gap: roles held through membership of a role-assignable group have the group as
    /// principal and are not seen here.
    pub async fn privileged_roles(
        &self,
        user_ids: &[String],
    ) -> Result<BTreeMap<String, Vec<String>>, GraphError> {
        if user_ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let defs: Vec<RoleDefinition> = self
            .collect_pages(
                "/roleManagement/directory/roleDefinitions?$select=id,displayName,isPrivileged,templateId".to_string(),
                &|_| {},
                &Default::default(),
            )
            .await?;
        let mut privileged: HashMap<String, String> = HashMap::new();
        for d in defs.into_iter().filter(|d| d.is_privileged == Some(true)) {
            if let Some(t) = &d.template_id {
                privileged.insert(t.clone(), d.display_name.clone());
            }
            privileged.insert(d.id.clone(), d.display_name);
        }
        let mut items = Vec::with_capacity(user_ids.len() * 2);
        for (i, id) in user_ids.iter().enumerate() {
            let filter = enc(&format!("principalId eq {}", odata_literal(id)));
            for (kind, path) in [("a", "roleAssignments"), ("e", "roleEligibilitySchedules")] {
                items.push(BatchItem {
                    id: format!("{kind}{i}"),
                    method: "GET".into(),
                    url: format!("/roleManagement/directory/{path}?$filter={filter}"),
                    ..BatchItem::default()
                });
            }
        }
        let results = self.batch(items).await;
        let mut out: BTreeMap<String, Vec<String>> =
            user_ids.iter().map(|id| (id.clone(), Vec::new())).collect();
        for (k, r) in results.into_iter().enumerate() {
            let user = &user_ids[k / 2];
            for a in self.page_from_batch::<RoleAssignment>(r).await? {
                if let Some(name) = privileged.get(&a.role_definition_id) {
                    let roles = out.entry(user.clone()).or_default();
                    if !roles.contains(name) {
                        roles.push(name.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Cost the pacer charges for a request (exposed for planning and tests).
    pub fn cost_of(method: &str, relative_url: &str) -> Cost {
        Cost::of(method, relative_url)
    }
}

impl GraphClient {
    /// Every principal holding a privileged directory role (by the role definition's
    /// `isPrivileged`), assigned or eligible, tenant-wide: principal id → role display names
    /// (sorted). For whole-tenant reads, where [`GraphClient::privileged_roles`] would cost two
    /// requests per user: role definitions are read once, then assignments and eligibility
    /// schedules are listed per privileged role (`$filter=roleDefinitionId eq '…'`, paged,
    /// through `$batch`), so the cost grows with the privileged roles and their holders, not
    /// with the users. Filtering by role rather than listing unfiltered keeps to the query
    /// forms Graph's examples show for the directory provider.
    ///
    /// Known gap: roles held through membership of a role-assignable group have the group as
    /// principal; group members are not expanded.
    pub async fn privileged_role_holders(
        &self,
    ) -> Result<BTreeMap<String, Vec<String>>, GraphError> {
        let defs: Vec<RoleDefinition> = self
            .collect_pages(
                "/roleManagement/directory/roleDefinitions?$select=id,displayName,isPrivileged,templateId".to_string(),
                &|_| {},
                &Default::default(),
            )
            .await?;
        let privileged: Vec<RoleDefinition> = defs
            .into_iter()
            .filter(|d| d.is_privileged == Some(true))
            .collect();
        let mut items = Vec::with_capacity(privileged.len() * 2);
        for (i, d) in privileged.iter().enumerate() {
            let filter = enc(&format!("roleDefinitionId eq {}", odata_literal(&d.id)));
            for (kind, path) in [("a", "roleAssignments"), ("e", "roleEligibilitySchedules")] {
                items.push(BatchItem {
                    id: format!("{kind}{i}"),
                    method: "GET".into(),
                    url: format!("/roleManagement/directory/{path}?$filter={filter}"),
                    ..BatchItem::default()
                });
            }
        }
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, r) in self.batch(items).await.into_iter().enumerate() {
            let name = &privileged[k / 2].display_name;
            for a in self.page_from_batch::<RoleAssignment>(r).await? {
                let roles = out.entry(a.principal_id).or_default();
                if !roles.contains(name) {
                    roles.push(name.clone());
                }
            }
        }
        for roles in out.values_mut() {
            roles.sort();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_paths() {
        assert_eq!(
            user_path("$adele@contoso.com"),
            "/users('$adele@contoso.com')"
        );
        assert_eq!(user_path("o'neil$x@c.com"), "/users/o'neil$x@c.com");
        assert_eq!(user_path("$o'x@c.com"), "/users('$o''x@c.com')");
        assert_eq!(
            user_path("a_b#EXT#@c.onmicrosoft.com"),
            "/users/a_b%23EXT%23@c.onmicrosoft.com"
        );
        assert_eq!(user_path("a/b?c"), "/users/a%2Fb%3Fc");
    }

    #[test]
    fn in_filter_values_survive_url_encoding() {
        let f = enc("onPremisesImmutableId in ('2/9J+hL0=','o''x')");
        assert!(f.contains("2%2F9J%2BhL0%3D"), "{f}");
        assert!(!f.contains('+') && !f.contains('/'));
    }
}
