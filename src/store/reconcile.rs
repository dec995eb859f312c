//! Reconciliation's tables: the report of every run (`reconcile_run`, with
//! its counts per module in `reconcile_module`) and the queue of targeted
//! location pulls (`location_heal`), which the receiver fills through
//! [`HealQueue`] and the reconcile worker drains.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use entity::{location_heal, reconcile_module, reconcile_run};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use tokio::sync::Notify;

use super::read::{Sort, Window};
use super::{Store, StoreError};
use crate::domain::party::key;
use crate::domain::Party;

/// A run as it starts.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The CPO's name.
    pub cpo: String,
    /// scheduled, manual or heal.
    pub trigger: String,
    /// The CPO's default party.
    pub party: Option<Party>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The window's `date_from`, when it has one.
    pub window_from: Option<DateTime<Utc>>,
    /// The window's `date_to`.
    pub window_to: Option<DateTime<Utc>>,
}

/// What a run did in one module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleRow {
    /// The OCPI module.
    pub module: String,
    /// Distinct objects received.
    pub fetched: u64,
    /// Created.
    pub missing: u64,
    /// Updated.
    pub updated: u64,
    /// Already current.
    pub unchanged: u64,
    /// Refused or failed.
    pub failed: u64,
    /// Why the module's crawl stopped early.
    pub error: Option<String>,
}

/// Writes a run's row as it starts and returns its id.
pub async fn start_run(store: &Store, run: &NewRun) -> Result<i64, StoreError> {
    let row = reconcile_run::ActiveModel {
        cpo: Set(run.cpo.clone()),
        trigger: Set(run.trigger.clone()),
        country_code: Set(run.party.as_ref().map(|p| p.country_code.clone())),
        party_id: Set(run.party.as_ref().map(|p| p.party_id.clone())),
        started_at: Set(run.started_at),
        finished_at: Set(None),
        window_from: Set(run.window_from),
        window_to: Set(run.window_to),
        error: Set(None),
        ..Default::default()
    };
    let write = store.begin_write().await?;
    let id = row.insert(&write.txn).await?.id;
    write.commit().await?;
    Ok(id)
}

/// Records how a run ended: its module counts and its error, if any.
pub async fn finish_run(
    store: &Store,
    run_pk: i64,
    finished_at: DateTime<Utc>,
    error: Option<String>,
    modules: &[ModuleRow],
) -> Result<(), StoreError> {
    let write = store.begin_write().await?;
    for m in modules {
        module_model(run_pk, m).insert(&write.txn).await?;
    }
    let run = reconcile_run::ActiveModel {
        id: Set(run_pk),
        finished_at: Set(Some(finished_at)),
        error: Set(error),
        ..Default::default()
    };
    run.update(&write.txn).await?;
    write.commit().await
}

fn module_model(run_pk: i64, m: &ModuleRow) -> reconcile_module::ActiveModel {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    reconcile_module::ActiveModel {
        run_pk: Set(run_pk),
        module: Set(m.module.clone()),
        fetched: Set(n(m.fetched)),
        missing: Set(n(m.missing)),
        updated: Set(n(m.updated)),
        unchanged: Set(n(m.unchanged)),
        failed: Set(n(m.failed)),
        error: Set(m.error.clone()),
        ..Default::default()
    }
}

/// The end of the newest finished scheduled run's window in which `module`
/// was pulled without error: where the next scheduled pull starts.
pub async fn watermark(
    db: &impl ConnectionTrait,
    cpo: &str,
    module: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let clean: Vec<i64> = reconcile_module::Entity::find()
        .select_only()
        .column(reconcile_module::Column::RunPk)
        .filter(reconcile_module::Column::Module.eq(module))
        .filter(reconcile_module::Column::Error.is_null())
        .into_tuple()
        .all(db)
        .await?;
    if clean.is_empty() {
        return Ok(None);
    }
    let run = reconcile_run::Entity::find()
        .filter(reconcile_run::Column::Cpo.eq(cpo))
        .filter(reconcile_run::Column::Trigger.eq("scheduled"))
        .filter(reconcile_run::Column::FinishedAt.is_not_null())
        .filter(reconcile_run::Column::Id.is_in(clean))
        .order_by_desc(reconcile_run::Column::WindowTo)
        .one(db)
        .await?;
    Ok(run.and_then(|r| r.window_to))
}

/// When the newest scheduled or manual run of this CPO started.
pub async fn last_started(
    db: &impl ConnectionTrait,
    cpo: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let run = reconcile_run::Entity::find()
        .filter(reconcile_run::Column::Cpo.eq(cpo))
        .filter(reconcile_run::Column::Trigger.ne("heal"))
        .order_by_desc(reconcile_run::Column::Id)
        .one(db)
        .await?;
    Ok(run.map(|r| r.started_at))
}

/// Which runs to read; every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Runs of this CPO.
    pub cpo: Option<String>,
    /// Runs of any of these triggers.
    pub triggers: Vec<String>,
    /// The caller's read scope: runs of these parties only (`None`: every run).
    pub scope: Option<Vec<Party>>,
}

impl RunFilter {
    fn condition(&self) -> Condition {
        let mut cond = Condition::all();
        if let Some(cpo) = &self.cpo {
            cond = cond.add(reconcile_run::Column::Cpo.eq(cpo.as_str()));
        }
        if !self.triggers.is_empty() {
            cond = cond.add(reconcile_run::Column::Trigger.is_in(self.triggers.iter().cloned()));
        }
        if let Some(parties) = &self.scope {
            let mut any = Condition::any();
            for p in parties {
                any = any.add(
                    Condition::all()
                        .add(reconcile_run::Column::CountryCode.eq(p.country_code.as_str()))
                        .add(reconcile_run::Column::PartyId.eq(p.party_id.as_str())),
                );
            }
            // An empty scope is an empty `any`, which matches nothing.
            cond = cond.add(any);
        }
        cond
    }
}

/// One page of the runs matching `filter`, newest first.
pub async fn page_runs_newest_first(
    db: &impl ConnectionTrait,
    filter: &RunFilter,
    window: &Window,
) -> Result<Vec<reconcile_run::Model>, StoreError> {
    let select = reconcile_run::Entity::find().filter(filter.condition());
    let rows = Sort::by_id_desc(reconcile_run::Column::Id)
        .page(select, window)
        .all(db)
        .await?;
    Ok(rows)
}

/// How many runs match `filter`.
pub async fn count_runs(db: &impl ConnectionTrait, filter: &RunFilter) -> Result<u64, StoreError> {
    let count = reconcile_run::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await?;
    Ok(count)
}

/// The module rows of these runs, in the order they were written.
pub async fn modules_of(
    db: &impl ConnectionTrait,
    run_pks: Vec<i64>,
) -> Result<Vec<reconcile_module::Model>, StoreError> {
    // Nothing to read; and an empty IN list is rendered as `? = ?`, which
    // the plans show as a scan of the whole table.
    if run_pks.is_empty() {
        return Ok(Vec::new());
    }
    let rows = reconcile_module::Entity::find()
        .filter(reconcile_module::Column::RunPk.is_in(run_pks))
        .order_by_asc(reconcile_module::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

/// The receiver's side of targeted heals: which parties are pulled from a
/// CPO, and a wake-up for the worker that drains the queue. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct HealQueue {
    parties: Arc<Vec<Party>>,
    wake: Arc<Notify>,
}

/// How long a finished heal (done or failed) waits before a push may ask
/// for it again: a peer whose EVSE PATCHes name a uid its location does not
/// have would otherwise have the location pulled on every PATCH.
const COOL_DOWN: i64 = 3600;

impl HealQueue {
    /// A queue for the parties some configured CPO is pulled for.
    pub fn new(parties: Vec<Party>) -> HealQueue {
        HealQueue {
            parties: Arc::new(parties),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Whether pulling is set up for this party.
    pub fn covers(&self, country_code: &str, party_id: &str) -> bool {
        self.parties.iter().any(|p| p.is(country_code, party_id))
    }

    /// Queues a pull of a location a push named but we do not have, when
    /// pulling is set up for its party; says whether it was queued (or
    /// already was).
    pub async fn request(
        &self,
        store: &Store,
        country_code: &str,
        party_id: &str,
        location_id: &str,
    ) -> Result<bool, StoreError> {
        if !self.covers(country_code, party_id) {
            return Ok(false);
        }
        // Most pushes naming a location already queued write nothing: the
        // decision is read first, outside the (single, on SQLite) writer.
        let existing = find_heal(store.db(), country_code, party_id, location_id).await?;
        if existing
            .as_ref()
            .is_some_and(|row| !rearmable(row, Utc::now()))
        {
            return Ok(true);
        }
        let write = store.begin_write().await?;
        arm(&write.txn, (country_code, party_id, location_id)).await?;
        write.commit().await?;
        self.wake.notify_one();
        Ok(true)
    }

    /// Waits until a heal is requested in this process.
    pub async fn requested(&self) {
        self.wake.notified().await;
    }
}

/// Inserts the location's heal row, or re-arms it when it was done or
/// failed long enough ago; a pending row is left as it is.
async fn arm(
    conn: &impl ConnectionTrait,
    (cc, party, id): (&str, &str, &str),
) -> Result<(), StoreError> {
    let now = Utc::now();
    let existing = location_heal::Entity::find()
        .filter(location_heal::Column::CountryCodeKey.eq(key(cc)))
        .filter(location_heal::Column::PartyIdKey.eq(key(party)))
        .filter(location_heal::Column::LocationIdKey.eq(key(id)))
        .one(conn)
        .await?;
    let Some(row) = existing else {
        let row = location_heal::ActiveModel {
            country_code: Set(cc.to_owned()),
            party_id: Set(party.to_owned()),
            location_id: Set(id.to_owned()),
            country_code_key: Set(key(cc)),
            party_id_key: Set(key(party)),
            location_id_key: Set(key(id)),
            status: Set("pending".into()),
            requested_at: Set(now),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_error: Set(None),
            done_at: Set(None),
            run_pk: Set(None),
            ..Default::default()
        };
        row.insert(conn).await?;
        return Ok(());
    };
    if !rearmable(&row, now) {
        return Ok(());
    }
    let update = location_heal::ActiveModel {
        id: Set(row.id),
        status: Set("pending".into()),
        requested_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        ..Default::default()
    };
    update.update(conn).await?;
    Ok(())
}

/// Whether a push may queue this heal again: it was done, or given up,
/// longer than the cool-down ago.
fn rearmable(row: &location_heal::Model, now: DateTime<Utc>) -> bool {
    let since = now - Duration::seconds(COOL_DOWN);
    match row.status.as_str() {
        "done" => row.done_at.is_none_or(|at| at <= since),
        "failed" => row.next_attempt_at <= since,
        _ => false,
    }
}

/// Claims up to `limit` due heals of these parties: each is leased until
/// `lease_until` (another worker, or replica, skips it meanwhile) and its
/// attempt counted.
pub async fn claim_heals(
    store: &Store,
    parties: &[Party],
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<location_heal::Model>, StoreError> {
    let now = Utc::now();
    let mut scope = Condition::any();
    for p in parties {
        scope = scope.add(
            Condition::all()
                .add(location_heal::Column::CountryCodeKey.eq(p.country_code.as_str()))
                .add(location_heal::Column::PartyIdKey.eq(p.party_id.as_str())),
        );
    }
    let due = location_heal::Entity::find()
        .filter(location_heal::Column::Status.eq("pending"))
        .filter(location_heal::Column::NextAttemptAt.lte(now))
        .filter(scope)
        .order_by_asc(location_heal::Column::NextAttemptAt)
        .limit(limit)
        .all(store.db())
        .await?;
    let mut claimed = Vec::with_capacity(due.len());
    for row in due {
        if claim(store, &row, lease_until).await? {
            claimed.push(row);
        }
    }
    Ok(claimed)
}

/// Leases one heal row, unless another worker did since it was read.
async fn claim(
    store: &Store,
    row: &location_heal::Model,
    lease_until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let write = store.begin_write().await?;
    let result = location_heal::Entity::update_many()
        .col_expr(
            location_heal::Column::NextAttemptAt,
            Expr::value(lease_until),
        )
        .col_expr(
            location_heal::Column::Attempts,
            Expr::col(location_heal::Column::Attempts).add(1),
        )
        .filter(location_heal::Column::Id.eq(row.id))
        .filter(location_heal::Column::Status.eq("pending"))
        .filter(location_heal::Column::NextAttemptAt.eq(row.next_attempt_at))
        .exec(&write.txn)
        .await?;
    write.commit().await?;
    Ok(result.rows_affected == 1)
}

/// Marks a heal done by run `run_pk`.
pub async fn heal_done(store: &Store, heal_pk: i64, run_pk: i64) -> Result<(), StoreError> {
    let update = location_heal::ActiveModel {
        id: Set(heal_pk),
        status: Set("done".into()),
        done_at: Set(Some(Utc::now())),
        last_error: Set(None),
        run_pk: Set(Some(run_pk)),
        ..Default::default()
    };
    let write = store.begin_write().await?;
    update.update(&write.txn).await?;
    write.commit().await
}

/// Records a failed heal: tried again at `retry_at`, or given up (failed)
/// when `retry_at` is `None`.
pub async fn heal_failed(
    store: &Store,
    heal_pk: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let update = location_heal::ActiveModel {
        id: Set(heal_pk),
        status: Set(if retry_at.is_some() {
            "pending"
        } else {
            "failed"
        }
        .into()),
        next_attempt_at: Set(retry_at.unwrap_or(now)),
        last_error: Set(Some(error.to_owned())),
        ..Default::default()
    };
    let write = store.begin_write().await?;
    update.update(&write.txn).await?;
    write.commit().await
}

/// The heal row of a location, if one was ever queued.
pub async fn find_heal(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    location_id: &str,
) -> Result<Option<location_heal::Model>, StoreError> {
    let row = location_heal::Entity::find()
        .filter(location_heal::Column::CountryCodeKey.eq(key(country_code)))
        .filter(location_heal::Column::PartyIdKey.eq(key(party_id)))
        .filter(location_heal::Column::LocationIdKey.eq(key(location_id)))
        .one(db)
        .await?;
    Ok(row)
}
