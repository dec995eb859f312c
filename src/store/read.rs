//! Queries behind the GraphQL API and the OCPI GET endpoints.
//!
//! Every read the GraphQL layer needs is built here, so resolvers never see
//! sea-orm query builders. List readers take many keys at once so that a
//! GraphQL list level costs one statement.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::outbox;

use super::StoreError;

/// The highest outbox sequence number, or `None` while the outbox is empty.
pub async fn outbox_last_seq(db: &impl ConnectionTrait) -> Result<Option<i64>, StoreError> {
    let last = outbox::Entity::find()
        .order_by_desc(outbox::Column::Seq)
        .one(db)
        .await?;
    Ok(last.map(|row| row.seq))
}

/// Up to `limit` outbox rows after `seq`, in sequence order.
pub async fn outbox_after(
    db: &impl ConnectionTrait,
    seq: i64,
    limit: u64,
) -> Result<Vec<outbox::Model>, StoreError> {
    let rows = outbox::Entity::find()
        .filter(outbox::Column::Seq.gt(seq))
        .order_by_asc(outbox::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows)
}
