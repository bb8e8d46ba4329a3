//! Execution: purge the soft-deleted holders approved for purging, send the PATCHes of
//! `onPremisesImmutableId` (batched and paced by the client), resolve uniqueness conflicts found
//! on the way, and with `--verify` read the written users back.
//!
//! Every request is journaled as started (durably) before it leaves and its result as soon as
//! it is known: the client tells a [`BatchObserver`] right before each `$batch` envelope goes
//! out and as each item's answer arrives, and the observer writes the journal then. A crash
//! leaves at most the envelopes in flight in doubt.

use super::crash;
use super::journal::{Journal, Line, Op};
use super::ledger::{self, Ledger, Settled, Starting};
use super::Job;
use crate::cloud::CloudUser;
use crate::graph::{BatchObserver, BatchOutcome, GraphClient, GraphError, ImmutableIdUpdate};
use crate::review::Status;
use crate::wire::{BatchItem, User, USER_SELECT};
use indicatif::ProgressBar;
use std::io;
use std::sync::{Arc, Mutex};

/// What execution may do.
#[derive(Clone, Copy, Debug)]
pub struct ExecOptions {
    /// Permanently delete a soft-deleted holder found at run time (`--purge-deleted-conflicts`).
    pub purge_conflicts: bool,
}

/// A job pre-flight let through, with the holder to purge first, if any (boxed: a million jobs,
/// nearly all without one).
pub struct Go {
    pub job: Job,
    pub purge: Option<Box<CloudUser>>,
}

/// A row whose write this run sent and Graph accepted, for `--verify`.
pub struct Written {
    pub row: usize,
    pub user: String,
    pub value: Option<String>,
}

/// Writes handed to the client per call: 500 envelopes of 20.
const SLICE: usize = 10_000;

pub async fn run(
    client: &GraphClient,
    ledger: &mut Ledger,
    mut go: Vec<Go>,
    opts: ExecOptions,
    bar: &ProgressBar,
) -> io::Result<Vec<Written>> {
    purge_planned(client, ledger, &mut go, bar).await?;
    let mut written = Vec::new();
    let mut conflicts = Vec::new();
    // In slices: a million requests in flight through one call would hold every body and every
    // answer at once. The client's pacing carries over from slice to slice.
    let mut rest = go.into_iter();
    loop {
        let slice: Vec<Go> = rest.by_ref().take(SLICE).collect();
        if slice.is_empty() {
            break;
        }
        conflicts.extend(send_observed(client, ledger, slice, &mut written, bar).await?);
    }
    for (g, err) in conflicts {
        resolve_conflict(client, ledger, g, err, opts, &mut written, bar).await?;
    }
    Ok(written)
}

fn holder_words(h: &CloudUser) -> String {
    let when = match h.deleted_date_time.as_deref() {
        Some(d) if !d.is_empty() => format!(", deleted {d}"),
        _ => String::new(),
    };
    // Entra renames a deleted user's UPN to <object id hex><original UPN>; show the original.
    let hex: String = h.id.chars().filter(|c| *c != '-').collect();
    let upn = match h.upn.get(..hex.len()) {
        Some(p) if !hex.is_empty() && p.eq_ignore_ascii_case(&hex) => &h.upn[hex.len()..],
        _ => h.upn.as_str(),
    };
    let upn = if upn.is_empty() {
        "(UPN not known)"
    } else {
        upn
    };
    format!("{upn} (id {}{when})", h.id)
}

/// Step 1: the holders pre-flight found and the reviewer approved for purging, all at once.
async fn purge_planned(
    client: &GraphClient,
    ledger: &mut Ledger,
    go: &mut Vec<Go>,
    bar: &ProgressBar,
) -> io::Result<()> {
    let idx: Vec<usize> = (0..go.len()).filter(|&i| go[i].purge.is_some()).collect();
    if idx.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = idx
        .iter()
        .filter_map(|&i| go[i].purge.as_ref().map(|h| h.id.clone()))
        .collect();
    ledger.starting(
        &idx.iter()
            .zip(&ids)
            .map(|(&i, id)| purge_start(&go[i].job, id))
            .collect::<Vec<_>>(),
    )?;
    crash::at("after-purge-started");
    let results = client.purge_deleted_users(&ids).await;
    crash::at("after-purge-send");
    let mut settled = Vec::new();
    let mut failed = Vec::new();
    for (&i, r) in idx.iter().zip(results) {
        let g = &mut go[i];
        let h = g.purge.as_deref().cloned().unwrap_or_default();
        if is_gone(&r) {
            // Purged now, or gone already (by someone else, or before a lost answer).
            g.job.note = prepend(
                format!(
                    "permanently deleted soft-deleted holder {}",
                    holder_words(&h)
                ),
                &g.job.note,
            );
            settled.push(purge_done(ledger, &g.job, &h));
        } else if let Err(e) = r {
            settled.push(Settled {
                row: g.job.row,
                op: Op::Purge,
                status: Status::Failed,
                result: format!(
                    "could not permanently delete soft-deleted holder {}: {e}; nothing else was sent",
                    holder_words(&h)
                ),
                attempts: g.job.attempts,
                previous: g.job.previous.clone(),
                applied: false,
            });
            failed.push(i);
        }
    }
    ledger.settle(settled)?;
    for i in failed.into_iter().rev() {
        go.remove(i);
        bar.inc(1);
    }
    Ok(())
}

/// A purge that succeeded, or found nothing left to purge (404).
fn is_gone(r: &Result<(), GraphError>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => e.is_not_found(),
    }
}

fn purge_start(job: &Job, holder: &str) -> Starting {
    Starting {
        row: job.row,
        op: Op::Purge,
        user: holder.to_string(),
        value: None,
        previous: job.previous.clone(),
        attempts: job.attempts,
    }
}

/// The journal's record of a purge: not the row's final result (its PATCH follows).
fn purge_done(ledger: &Ledger, job: &Job, h: &CloudUser) -> Settled {
    let row = &ledger.rows[job.row];
    Settled {
        row: job.row,
        op: Op::Purge,
        status: row.status.clone(),
        result: format!(
            "permanently deleted soft-deleted holder {}; setting the ImmutableId next",
            holder_words(h)
        ),
        attempts: job.attempts,
        previous: job.previous.clone(),
        applied: false,
    }
}

fn prepend(first: String, rest: &str) -> String {
    if rest.is_empty() {
        first
    } else {
        format!("{first}. {rest}")
    }
}

/// Results written since the last `fsync` before the observer makes them durable: one batch.
const SYNC_EVERY: usize = 20;

/// Journals each PATCH as the client sends and settles it (see the module comment).
struct Journaling {
    state: Mutex<Journaled>,
    bar: ProgressBar,
    client: GraphClient,
}

struct Journaled {
    /// Taken back by the ledger once the client returns.
    journal: Option<Journal>,
    revert_mode: bool,
    run: String,
    /// Row id and plan fingerprint of each item, for its lines.
    ids: Vec<(u64, String)>,
    jobs: Vec<Job>,
    sent: Vec<bool>,
    settled: Vec<Option<Settled>>,
    conflicts: Vec<(usize, GraphError)>,
    unsynced: usize,
    /// The first journal write that failed (the run stops once the client returns).
    error: Option<io::Error>,
}

impl Journaled {
    fn keep(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }

    fn write(&mut self, lines: &[Line], sync: bool) {
        let r = match self.journal.as_mut() {
            Some(j) if sync => j.write_synced(lines),
            Some(j) => j.write(lines),
            None => Err(io::Error::other("the journal was closed")),
        };
        self.keep(r);
    }
}

impl BatchObserver for Journaling {
    fn sending(&self, items: &[usize]) {
        let mut st = lock(&self.state);
        let at = ledger::now();
        let mut lines = Vec::with_capacity(items.len());
        for &i in items {
            st.sent[i] = true;
            st.jobs[i].attempts += 1;
            let job = &st.jobs[i];
            lines.push(Line::Started {
                run: st.run.clone(),
                row: st.ids[i].0,
                fp: st.ids[i].1.clone(),
                op: job.op,
                user: job.user.clone(),
                value: job.value.clone(),
                previous: job.previous.clone(),
                attempts: job.attempts,
                at: at.clone(),
            });
        }
        // Durable before the envelope leaves; the results written since go to disk with it.
        st.write(&lines, true);
        st.unsynced = 0;
        drop(st);
        crash::at("after-started");
    }

    fn finished(&self, item: usize, outcome: &BatchOutcome) {
        crash::at("after-send");
        let mut st = lock(&self.state);
        let job = &st.jobs[item];
        let settled = match outcome {
            Ok(_) => success(job),
            Err(e) if e.api().is_some_and(|a| a.is_conflict()) => {
                st.conflicts.push((item, e.clone()));
                return;
            }
            Err(e) if !st.sent[item] => {
                let mut f = failure(job, e);
                f.status = Status::Failed;
                f.result = format!("not sent: {e}. Run apply again");
                f
            }
            Err(e) => failure(job, e),
        };
        let journaled = if st.revert_mode {
            ledger::as_revert_outcome(settled.clone()).0
        } else {
            settled.clone()
        };
        let (row, fp) = &st.ids[item];
        let line = ledger::result_line(&st.run, (*row, fp), &journaled, &ledger::now());
        st.unsynced += 1;
        let sync = st.unsynced >= SYNC_EVERY;
        if sync {
            st.unsynced = 0;
        }
        st.write(std::slice::from_ref(&line), sync);
        st.settled[item] = Some(settled);
        drop(st);
        self.bar.inc(1);
        let waited = self.client.stats().throttle_wait;
        self.bar.set_message(super::progress::throttle_message(
            waited.writes + waited.resource_units + waited.request,
        ));
        crash::at("after-results");
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Step 2: the PATCHes, all through one observed `$batch` run: journaled as started before each
/// envelope leaves and as settled as each answer arrives. Returns the rows Graph found a
/// uniqueness conflict for, to be resolved next.
async fn send_observed(
    client: &GraphClient,
    ledger: &mut Ledger,
    go: Vec<Go>,
    written: &mut Vec<Written>,
    bar: &ProgressBar,
) -> io::Result<Vec<(Go, GraphError)>> {
    if go.is_empty() {
        return Ok(Vec::new());
    }
    let updates: Vec<ImmutableIdUpdate> = go
        .iter()
        .map(|g| ImmutableIdUpdate {
            user: g.job.user.clone(),
            immutable_id: g.job.value.clone(),
        })
        .collect();
    let Some(journal) = ledger.journal.take() else {
        return Err(io::Error::other("no journal to record the run in"));
    };
    let n = go.len();
    let observer = Arc::new(Journaling {
        state: Mutex::new(Journaled {
            journal: Some(journal),
            revert_mode: ledger.revert_mode,
            run: ledger.run.clone(),
            ids: go
                .iter()
                .map(|g| {
                    let r = &ledger.rows[g.job.row];
                    (r.plan.row_id, r.fingerprint.clone())
                })
                .collect(),
            jobs: go.iter().map(|g| g.job.clone()).collect(),
            sent: vec![false; n],
            settled: vec![None; n],
            conflicts: Vec::new(),
            unsynced: 0,
            error: None,
        }),
        bar: bar.clone(),
        client: client.clone(),
    });
    client
        .set_immutable_ids_observed(&updates, observer.clone())
        .await;
    let mut st = lock(&observer.state);
    st.write(&[], true);
    ledger.journal = st.journal.take();
    if let Some(e) = st.error.take() {
        return Err(e);
    }
    let mut settled = Vec::with_capacity(n);
    let all = std::mem::take(&mut st.settled);
    for (i, s) in all.into_iter().enumerate() {
        let Some(s) = s else { continue };
        if s.applied {
            let job = &st.jobs[i];
            written.push(Written {
                row: job.row,
                user: job.user.clone(),
                value: job.value.clone(),
            });
        }
        settled.push(s);
    }
    ledger.record(settled);
    let jobs = std::mem::take(&mut st.jobs);
    let conflicts = std::mem::take(&mut st.conflicts)
        .into_iter()
        .map(|(i, e)| {
            (
                Go {
                    job: jobs[i].clone(),
                    purge: None,
                },
                e,
            )
        })
        .collect();
    Ok(conflicts)
}

/// The row's result once its PATCH was accepted.
fn success(job: &Job) -> Settled {
    let previous = job.previous.clone().unwrap_or_default();
    let what = match (job.op, &job.value) {
        (Op::Revert, Some(v)) => format!("ImmutableId set back to {v}"),
        (Op::Revert, None) => {
            "ImmutableId cleared (JSON null; the user had none before apply)".to_string()
        }
        (_, v) => {
            let v = v.clone().unwrap_or_default();
            if previous.is_empty() {
                format!("set ImmutableId {v} (the user had none)")
            } else {
                format!("replaced ImmutableId {previous} with {v}")
            }
        }
    };
    Settled {
        row: job.row,
        op: job.op,
        status: if job.op == Op::Revert {
            Status::Reverted
        } else {
            Status::Done
        },
        result: prepend_note(what, &job.note),
        attempts: job.attempts,
        previous: job.previous.clone(),
        applied: true,
    }
}

fn prepend_note(what: String, note: &str) -> String {
    if note.is_empty() {
        capitalise(what)
    } else {
        format!("{}. {}", capitalise(note.to_string()), capitalise(what))
    }
}

fn capitalise(s: String) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// The row's result when its request failed: in doubt if the request may have been carried
/// out (its answer was lost), else Failed with Graph's code, message and request-id.
fn failure(job: &Job, e: &GraphError) -> Settled {
    let in_doubt = match e {
        GraphError::Transport { .. } | GraphError::Decode { .. } | GraphError::Config(_) => true,
        GraphError::Api(a) => a.status == 504,
        GraphError::Token(_) => false,
    };
    let (status, result) = if in_doubt {
        (
            Status::InDoubt,
            format!(
                "the request may or may not have been carried out (its answer was lost: {e}); the next run reads the user back before anything else"
            ),
        )
    } else {
        (
            Status::Failed,
            format!("Graph refused the change: {e}. Run apply again to retry"),
        )
    };
    Settled {
        row: job.row,
        op: job.op,
        status,
        result,
        attempts: job.attempts,
        previous: job.previous.clone(),
        applied: false,
    }
}

/// Step 3: a uniqueness conflict found by Graph at run time. A soft-deleted holder is purged
/// and the row sent again when the operator allowed it; otherwise the row fails naming the
/// holder and what resolves it.
async fn resolve_conflict(
    client: &GraphClient,
    ledger: &mut Ledger,
    mut g: Go,
    err: GraphError,
    opts: ExecOptions,
    written: &mut Vec<Written>,
    bar: &ProgressBar,
) -> io::Result<()> {
    let value = g.job.value.clone().unwrap_or_default();
    let Some(holder_id) = err.conflicting_object_id().map(str::to_string) else {
        ledger.settle(vec![failure(&g.job, &err)])?;
        bar.inc(1);
        return Ok(());
    };
    let deleted = match read_one(client, &format!("/directory/deletedItems/{holder_id}")).await {
        Ok(u) => Some(u),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            let mut f = failure(&g.job, &err);
            f.result.push_str(&format!(
                " (the holder {holder_id} could not be looked up: {e})"
            ));
            ledger.settle(vec![f])?;
            bar.inc(1);
            return Ok(());
        }
    };
    let Some(holder) = deleted else {
        let active = read_one(client, &format!("/users/{holder_id}")).await.ok();
        let who = match active {
            Some(h) => format!("{} (id {})", h.upn, h.id),
            None => format!("id {holder_id}"),
        };
        let mut f = failure(&g.job, &err);
        f.status = Status::Failed;
        f.result = format!(
            "another active user {who} holds ImmutableId {value}: resolve that user first (clear its ImmutableId, or it is the right match for this AD user); Graph said: {err}"
        );
        ledger.settle(vec![f])?;
        bar.inc(1);
        return Ok(());
    };
    if !(opts.purge_conflicts && g.job.op == Op::Set) {
        let fix = if g.job.op == Op::Set {
            "run apply with --purge-deleted-conflicts to permanently delete it (this cannot be undone), or restore it if it is this person"
        } else {
            "restore it, or permanently delete it, then revert again"
        };
        let mut f = failure(&g.job, &err);
        f.status = Status::Failed;
        f.result = format!(
            "a soft-deleted user {} in the recycle bin holds ImmutableId {value}: {fix}; Graph said: {err}",
            holder_words(&holder)
        );
        ledger.settle(vec![f])?;
        bar.inc(1);
        return Ok(());
    }
    g.purge = Some(Box::new(holder));
    let mut one = vec![g];
    purge_planned(client, ledger, &mut one, bar).await?;
    for g in &mut one {
        g.purge = None;
    }
    // Held again after the purge (a race with someone else): fail rather than loop.
    for (g, e) in send_observed(client, ledger, one, written, bar).await? {
        ledger.settle(vec![failure(&g.job, &e)])?;
        bar.inc(1);
    }
    Ok(())
}

/// One user (active or in the recycle bin) by path.
async fn read_one(client: &GraphClient, path: &str) -> Result<CloudUser, GraphError> {
    let url = format!("{path}?$select={},deletedDateTime", USER_SELECT.join(","));
    let user: User = client
        .send(reqwest::Method::GET, &url, None)
        .await?
        .json()?;
    Ok(CloudUser::from(user))
}

/// Step 4 (`--verify`): read the written users back and confirm each holds what was written.
pub async fn verify(
    client: &GraphClient,
    ledger: &mut Ledger,
    written: &[Written],
) -> io::Result<()> {
    let select = USER_SELECT.join(",");
    let mut settled = Vec::new();
    for chunk in written.chunks(200) {
        let items = chunk
            .iter()
            .enumerate()
            .map(|(i, w)| BatchItem {
                id: (i + 1).to_string(),
                method: "GET".into(),
                url: format!("/users/{}?$select={select}", w.user),
                ..BatchItem::default()
            })
            .collect();
        for (w, r) in chunk.iter().zip(client.batch(items).await) {
            let row = &ledger.rows[w.row];
            let mut s = Settled {
                row: w.row,
                op: Op::Check,
                status: row.status.clone(),
                result: row.result.clone(),
                attempts: row.attempts,
                previous: row.previous_immutable_id.clone(),
                applied: false,
            };
            let held = r.map(|resp| {
                serde_json::from_value::<User>(resp.body.unwrap_or_default())
                    .ok()
                    .and_then(|u| u.on_premises_immutable_id)
                    .filter(|v| !v.is_empty())
            });
            match held {
                Ok(v) if v == w.value => s.result.push_str("; verified by reading the user back"),
                Ok(v) => {
                    s.status = Status::Failed;
                    s.result = format!(
                        "verify: the request was accepted, but reading the user back shows ImmutableId {} instead of {}. Run apply again",
                        v.as_deref().unwrap_or("(none)"),
                        w.value.as_deref().unwrap_or("(none)")
                    );
                }
                Err(e) => s.result.push_str(&format!(
                    "; could not be verified (reading the user back failed: {e})"
                )),
            }
            settled.push(s);
        }
    }
    ledger.settle(settled)
}

#[cfg(test)]
mod tests {
    //! Conflicts Graph reports at run time (a holder that appeared after pre-flight): the
    //! soft-deleted holder purged or named with the flag that resolves it, the active one named.
    use super::*;
    use crate::apply::journal::{self, Journal};
    use crate::graph::{Auth, GraphConfig, PacingConfig, Secret};
    use crate::review::{PlanRow, ReviewRow};
    use crate::sim::{self, SimConfig, TenantState};
    use crate::wire::User;

    const TARGET: &str = "00000000-0000-4000-8000-000000000001";
    const HOLDER: &str = "00000000-0000-4000-8000-000000000002";
    const VALUE: &str = "BpazOkLGm0iEtljAONPvOQ==";

    fn user(id: &str, upn: &str, iid: Option<&str>) -> User {
        User {
            id: Some(id.into()),
            user_principal_name: Some(upn.into()),
            on_premises_immutable_id: iid.map(String::from),
            ..User::default()
        }
    }

    async fn setup(holder_deleted: bool) -> (sim::SimHandle, GraphClient) {
        let mut state = TenantState {
            users: vec![user(TARGET, "target@contoso.com", None)],
            ..TenantState::default()
        };
        let mut holder = user(HOLDER, "holder@contoso.com", Some(VALUE));
        if holder_deleted {
            holder.deleted_date_time = Some("2026-10-01T00:00:00Z".into());
            state.deleted_users.push(holder);
        } else {
            state.users.push(holder);
        }
        let sim = sim::start(SimConfig::default(), state).await.unwrap();
        let mut c = GraphConfig::new(
            sim.tenant_id(),
            Auth::ClientSecret {
                client_id: sim.client_id().into(),
                secret: Secret::new(sim::DEFAULT_CLIENT_SECRET),
            },
        );
        c.graph_url = Some(sim.base_url());
        c.login_url = Some(sim.base_url());
        c.pacing = PacingConfig {
            enabled: false,
            ..PacingConfig::default()
        };
        let client = GraphClient::connect(c).unwrap();
        (sim, client)
    }

    fn ledger(dir: &std::path::Path) -> Ledger {
        let row = ReviewRow {
            plan: PlanRow {
                row_id: 1,
                upn: "target@contoso.com".into(),
                new_immutable_id: VALUE.into(),
                cloud_object_id: TARGET.into(),
                ..PlanRow::default()
            },
            fingerprint: "fp".into(),
            ..ReviewRow::default()
        };
        let journal = Journal::open(&dir.join("j.jsonl")).unwrap();
        Ledger::new(Some(journal), "run".into(), vec![row])
    }

    fn go() -> Vec<Go> {
        vec![Go {
            job: Job {
                row: 0,
                op: Op::Set,
                user: TARGET.into(),
                value: Some(VALUE.into()),
                previous: Some(String::new()),
                ..Job::default()
            },
            purge: None,
        }]
    }

    async fn run_once(
        purge: bool,
        holder_deleted: bool,
    ) -> (Ledger, sim::SimHandle, tempfile::TempDir) {
        let (sim, client) = setup(holder_deleted).await;
        let dir = tempfile::tempdir().unwrap();
        let mut l = ledger(dir.path());
        let opts = ExecOptions {
            purge_conflicts: purge,
        };
        run(&client, &mut l, go(), opts, &ProgressBar::hidden())
            .await
            .unwrap();
        (l, sim, dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_soft_deleted_holder_found_at_run_time_is_named_with_the_flag_that_resolves_it() {
        let (l, sim, _dir) = run_once(false, true).await;
        let row = &l.rows[0];
        assert_eq!(row.status, Status::Failed);
        for words in [
            HOLDER,
            "holder@contoso.com",
            "2026-10-01",
            "--purge-deleted-conflicts",
            "request-id",
        ] {
            assert!(row.result.contains(words), "{words}: {}", row.result);
        }
        assert_eq!(sim.state().deleted_users.len(), 1, "not purged");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_the_flag_it_is_purged_and_the_row_sent_again() {
        let (l, sim, dir) = run_once(true, true).await;
        let row = &l.rows[0];
        assert_eq!(row.status, Status::Done, "{}", row.result);
        assert!(
            row.result
                .contains("Permanently deleted soft-deleted holder"),
            "{}",
            row.result
        );
        assert_eq!(row.attempts, 2);
        assert!(sim.state().deleted_users.is_empty());
        let target = sim
            .state()
            .users
            .into_iter()
            .find(|u| u.id.as_deref() == Some(TARGET))
            .unwrap();
        assert_eq!(target.on_premises_immutable_id.as_deref(), Some(VALUE));
        // The purge is in the journal, started before it was sent.
        let text = std::fs::read_to_string(dir.path().join("j.jsonl")).unwrap();
        let purge_started = text.find("\"op\":\"purge\"").expect("purge journaled");
        assert!(text[purge_started..].contains(HOLDER));
        let replay = journal::replay(&dir.path().join("j.jsonl"), &Default::default()).unwrap();
        assert_eq!(replay.rows[&1].status, Status::Done);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_active_holder_always_fails_the_row_naming_it() {
        let (l, sim, _dir) = run_once(true, false).await;
        let row = &l.rows[0];
        assert_eq!(row.status, Status::Failed);
        assert!(
            row.result
                .contains("another active user holder@contoso.com")
                && row.result.contains(HOLDER),
            "{}",
            row.result
        );
        let holder = sim
            .state()
            .users
            .into_iter()
            .find(|u| u.id.as_deref() == Some(HOLDER))
            .unwrap();
        assert_eq!(
            holder.on_premises_immutable_id.as_deref(),
            Some(VALUE),
            "untouched"
        );
    }
}
