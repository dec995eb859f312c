//! Snapshots for subscriptions: the current rows a filter selects, read in
//! one transaction together with the outbox position they reflect.
//!
//! The queries narrow by the caller's parties and the indexed keys only
//! (party, location, EVSE, session ids), so that a capped snapshot holds the
//! first rows the caller may read; the subscription applies the rest of its
//! filter (statuses, city, area) to the rows, with the same code that
//! filters live events.

use std::collections::HashMap;

use entity::{cdr, evse, location, notification, session};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, IsolationLevel, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    TransactionTrait,
};

use super::read::Scope;
use super::{outbox, Store, StoreError};

/// Most objects one snapshot holds; a wider filter gets the first ones (by row id).
pub const SNAPSHOT_LIMIT: u64 = 50_000;

/// What a snapshot query narrows by; ids are compared case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct Narrow {
    /// The parties the caller may read.
    pub scope: Scope,
    /// Country code.
    pub country_code: Option<String>,
    /// Party id.
    pub party_id: Option<String>,
    /// Any of these location ids.
    pub location_ids: Option<Vec<String>>,
    /// Any of these EVSE uids.
    pub evse_uids: Option<Vec<String>>,
    /// Any of these session ids.
    pub session_ids: Option<Vec<String>>,
}

fn keys(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.to_uppercase()).collect()
}

impl Narrow {
    fn locations(&self) -> Condition {
        let mut cond = self.scope.condition(
            location::Column::CountryCodeKey,
            location::Column::PartyIdKey,
        );
        if let Some(cc) = &self.country_code {
            cond = cond.add(location::Column::CountryCodeKey.eq(cc.to_uppercase()));
        }
        if let Some(party) = &self.party_id {
            cond = cond.add(location::Column::PartyIdKey.eq(party.to_uppercase()));
        }
        if let Some(ids) = &self.location_ids {
            cond = cond.add(location::Column::OcpiIdKey.is_in(keys(ids)));
        }
        cond
    }
}

/// A read transaction whose statements all see one state: REPEATABLE READ on
/// PostgreSQL; on SQLite (WAL) a transaction reads one snapshot anyway.
async fn begin_read(store: &Store) -> Result<DatabaseTransaction, StoreError> {
    let txn = match store.backend() {
        DbBackend::Postgres => {
            store
                .db()
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
        }
        _ => store.db().begin().await?,
    };
    Ok(txn)
}

/// The EVSEs (with their locations) the narrowing selects, and the outbox
/// position they reflect.
pub async fn evses(
    store: &Store,
    narrow: &Narrow,
) -> Result<(i64, Vec<(evse::Model, location::Model)>), StoreError> {
    let txn = begin_read(store).await?;
    let position = outbox::position(&txn).await?;
    let locations = location_map(&txn, narrow).await?;
    let mut query = evse::Entity::find().filter(
        Expr::col(evse::Column::LocationPk).in_subquery(
            location::Entity::find()
                .select_only()
                .column(location::Column::Id)
                .filter(narrow.locations())
                .into_query(),
        ),
    );
    if let Some(uids) = &narrow.evse_uids {
        query = query.filter(evse::Column::UidKey.is_in(keys(uids)));
    }
    let rows = query
        .order_by_asc(evse::Column::Id)
        .limit(SNAPSHOT_LIMIT)
        .all(&txn)
        .await?;
    txn.commit().await?;
    let pairs = rows
        .into_iter()
        .filter_map(|e| locations.get(&e.location_pk).cloned().map(|l| (e, l)))
        .collect();
    Ok((position, pairs))
}

/// The EVSEs of one location, now.
pub async fn evses_of(
    db: &impl ConnectionTrait,
    location_pk: i64,
) -> Result<Vec<evse::Model>, StoreError> {
    let rows = evse::Entity::find()
        .filter(evse::Column::LocationPk.eq(location_pk))
        .all(db)
        .await?;
    Ok(rows)
}

async fn location_map(
    txn: &DatabaseTransaction,
    narrow: &Narrow,
) -> Result<HashMap<i64, location::Model>, StoreError> {
    let rows = location::Entity::find()
        .filter(narrow.locations())
        .all(txn)
        .await?;
    Ok(rows.into_iter().map(|l| (l.id, l)).collect())
}

/// The locations the narrowing selects, and the outbox position they reflect.
pub async fn locations(
    store: &Store,
    narrow: &Narrow,
) -> Result<(i64, Vec<location::Model>), StoreError> {
    let txn = begin_read(store).await?;
    let position = outbox::position(&txn).await?;
    let rows = location::Entity::find()
        .filter(narrow.locations())
        .order_by_asc(location::Column::Id)
        .limit(SNAPSHOT_LIMIT)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok((position, rows))
}

/// Sessions the narrowing selects (only unfinished ones unless named by
/// id), with their locations, and the outbox position they reflect.
pub async fn sessions(
    store: &Store,
    narrow: &Narrow,
) -> Result<(i64, Vec<(session::Model, Option<location::Model>)>), StoreError> {
    let txn = begin_read(store).await?;
    let position = outbox::position(&txn).await?;
    let mut query = session::Entity::find().filter(party_of_sessions(narrow));
    if let Some(ids) = &narrow.location_ids {
        query = query.filter(upper_in(session::Column::LocationId, ids));
    }
    if let Some(uids) = &narrow.evse_uids {
        query = query.filter(upper_in(session::Column::EvseUid, uids));
    }
    match &narrow.session_ids {
        Some(ids) => query = query.filter(session::Column::OcpiIdKey.is_in(keys(ids))),
        None => {
            let open = session::Column::Status.is_not_in(["COMPLETED", "INVALID"]);
            query = query.filter(
                Condition::any()
                    .add(session::Column::Status.is_null())
                    .add(open),
            );
        }
    }
    let rows = query
        .order_by_asc(session::Column::Id)
        .limit(SNAPSHOT_LIMIT)
        .all(&txn)
        .await?;
    let pks: Vec<i64> = rows.iter().filter_map(|s| s.location_pk).collect();
    let places = locations_by_pk(&txn, &pks).await?;
    txn.commit().await?;
    let rows = rows
        .into_iter()
        .map(|s| {
            let place = s.location_pk.and_then(|pk| places.get(&pk).cloned());
            (s, place)
        })
        .collect();
    Ok((position, rows))
}

fn party_of_sessions(narrow: &Narrow) -> Condition {
    let mut cond = narrow
        .scope
        .condition(session::Column::CountryCodeKey, session::Column::PartyIdKey);
    if let Some(cc) = &narrow.country_code {
        cond = cond.add(session::Column::CountryCodeKey.eq(cc.to_uppercase()));
    }
    if let Some(party) = &narrow.party_id {
        cond = cond.add(session::Column::PartyIdKey.eq(party.to_uppercase()));
    }
    cond
}

/// A text column (as sent) equal to one of these ids, ignoring case.
fn upper_in<C: ColumnTrait>(column: C, ids: &[String]) -> Condition {
    let upper = Expr::expr(sea_orm::sea_query::Func::upper(Expr::col(column)));
    Condition::all().add(upper.is_in(keys(ids)))
}

async fn locations_by_pk(
    txn: &DatabaseTransaction,
    pks: &[i64],
) -> Result<HashMap<i64, location::Model>, StoreError> {
    if pks.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = location::Entity::find()
        .filter(location::Column::Id.is_in(pks.iter().copied()))
        .all(txn)
        .await?;
    Ok(rows.into_iter().map(|l| (l.id, l)).collect())
}

/// The `limit` most recent CDRs the narrowing selects (oldest first), with
/// their locations, and the outbox position they reflect.
pub async fn recent_cdrs(
    store: &Store,
    narrow: &Narrow,
    limit: u64,
) -> Result<(i64, Vec<(cdr::Model, Option<location::Model>)>), StoreError> {
    let txn = begin_read(store).await?;
    let position = outbox::position(&txn).await?;
    let mut query = cdr::Entity::find().filter(
        narrow
            .scope
            .condition(cdr::Column::CountryCodeKey, cdr::Column::PartyIdKey),
    );
    if let Some(cc) = &narrow.country_code {
        query = query.filter(cdr::Column::CountryCodeKey.eq(cc.to_uppercase()));
    }
    if let Some(party) = &narrow.party_id {
        query = query.filter(cdr::Column::PartyIdKey.eq(party.to_uppercase()));
    }
    if let Some(ids) = &narrow.location_ids {
        query = query.filter(upper_in(cdr::Column::LocationId, ids));
    }
    if let Some(uids) = &narrow.evse_uids {
        query = query.filter(upper_in(cdr::Column::EvseUid, uids));
    }
    if let Some(ids) = &narrow.session_ids {
        query = query.filter(upper_in(cdr::Column::SessionId, ids));
    }
    let mut rows = query
        .order_by_desc(cdr::Column::Id)
        .limit(limit)
        .all(&txn)
        .await?;
    rows.reverse();
    let pks: Vec<i64> = rows.iter().filter_map(|c| c.location_pk).collect();
    let places = locations_by_pk(&txn, &pks).await?;
    txn.commit().await?;
    let rows = rows
        .into_iter()
        .map(|c| {
            let place = c.location_pk.and_then(|pk| places.get(&pk).cloned());
            (c, place)
        })
        .collect();
    Ok((position, rows))
}

/// The `limit` most recent notifications the narrowing selects (oldest
/// first), and the outbox position they reflect.
pub async fn recent_notifications(
    store: &Store,
    narrow: &Narrow,
    limit: u64,
) -> Result<(i64, Vec<notification::Model>), StoreError> {
    let txn = begin_read(store).await?;
    let position = outbox::position(&txn).await?;
    // Notifications keep their party upper-cased, as the read API filters them.
    let mut query = notification::Entity::find().filter(narrow.scope.condition(
        notification::Column::CountryCode,
        notification::Column::PartyId,
    ));
    if let Some(cc) = &narrow.country_code {
        query = query.filter(upper_in(
            notification::Column::CountryCode,
            std::slice::from_ref(cc),
        ));
    }
    if let Some(party) = &narrow.party_id {
        query = query.filter(upper_in(
            notification::Column::PartyId,
            std::slice::from_ref(party),
        ));
    }
    if let Some(ids) = &narrow.location_ids {
        query = query.filter(upper_in(notification::Column::LocationId, ids));
    }
    let mut rows = query
        .order_by_desc(notification::Column::Id)
        .limit(limit)
        .all(&txn)
        .await?;
    txn.commit().await?;
    rows.reverse();
    Ok((position, rows))
}
