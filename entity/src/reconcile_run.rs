//! Table `reconcile_run`: one pull of one CPO and how it ended.

use sea_orm::entity::prelude::*;

/// One pull of one CPO (scheduled, manual or a heal) and how it ended.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reconcile_run")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The CPO's name in the configuration.
    pub cpo: String,
    /// scheduled, manual or heal.
    pub trigger: String,
    /// The CPO's default party (scopes the run for operators).
    pub country_code: Option<String>,
    pub party_id: Option<String>,
    pub started_at: DateTimeUtc,
    /// Unset while the run is going on.
    pub finished_at: Option<DateTimeUtc>,
    /// The `date_from` of the run's window, when it had one.
    pub window_from: Option<DateTimeUtc>,
    /// The `date_to` of the run's window.
    pub window_to: Option<DateTimeUtc>,
    /// Why the run stopped before pulling anything (discovery failed, ...).
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
