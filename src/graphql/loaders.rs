//! DataLoaders: each list level of a query costs one statement, not one per row.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use entity::{connector, evse, location};

use crate::store::{read, Store, StoreError};

/// Shared by every loader: errors are cloned to each waiting resolver.
pub type LoadError = Arc<StoreError>;

/// Locations by row id.
pub struct LocationsByPk(pub Store);

impl Loader<i64> for LocationsByPk {
    type Value = location::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = read::locations_by_pk(self.0.db(), keys).await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// The EVSEs of each location, by location row id.
pub struct EvsesByLocation(pub Store);

impl Loader<i64> for EvsesByLocation {
    type Value = Vec<evse::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = read::evses_of_locations(self.0.db(), keys).await?;
        let mut grouped: HashMap<i64, Vec<evse::Model>> = HashMap::new();
        for row in rows {
            grouped.entry(row.location_pk).or_default().push(row);
        }
        Ok(grouped)
    }
}

/// The connectors of each EVSE, by EVSE row id.
pub struct ConnectorsByEvse(pub Store);

impl Loader<i64> for ConnectorsByEvse {
    type Value = Vec<connector::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = read::connectors_of_evses(self.0.db(), keys).await?;
        let mut grouped: HashMap<i64, Vec<connector::Model>> = HashMap::new();
        for row in rows {
            grouped.entry(row.evse_pk).or_default().push(row);
        }
        Ok(grouped)
    }
}
