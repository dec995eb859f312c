//! The first schema: OCPI objects, their history, the inbox, the outbox and push tokens.
//!
//! Conventions (DESIGN.md, Decisions): every OCPI key is stored twice, as first
//! received (`ocpi_id`) and upper-cased (`ocpi_id_key`) for case-insensitive
//! lookups; money, energy and durations are BIGINT millionths (`*_micro`);
//! instants are `timestamptz` (text on SQLite) truncated to milliseconds; the
//! object as received is kept in `raw` as text, so nothing the CPO sent is lost.

// Identifier enums name the table's columns, which often start with the table's name.
#![allow(clippy::enum_variant_names)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "outbox",
            "inbox",
            "notification",
            "cdr",
            "session_event",
            "charging_period",
            "session",
            "evse_status_history",
            "connector",
            "evse",
            "location",
            "push_token",
        ] {
            let drop = Table::drop().table(Alias::new(name)).if_exists().to_owned();
            manager.drop_table(drop).await?;
        }
        Ok(())
    }
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        push_token(),
        location(),
        evse(),
        connector(),
        evse_status_history(),
        session(),
        charging_period(),
        session_event(),
        cdr(),
        notification(),
        inbox(),
        outbox(),
    ]
}

#[derive(DeriveIden)]
enum PushToken {
    Table,
    Id,
    TokenHash,
    Label,
    Parties,
    Strict,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

fn push_token() -> TableCreateStatement {
    Table::create()
        .table(PushToken::Table)
        .col(big_pk_auto(PushToken::Id))
        .col(string_uniq(PushToken::TokenHash))
        .col(string_null(PushToken::Label))
        .col(text(PushToken::Parties))
        .col(boolean(PushToken::Strict).default(false))
        .col(timestamp_with_time_zone(PushToken::CreatedAt))
        .col(timestamp_with_time_zone_null(PushToken::ExpiresAt))
        .col(timestamp_with_time_zone_null(PushToken::RevokedAt))
        .to_owned()
}

#[derive(DeriveIden)]
enum Location {
    Table,
    Id,
    CountryCode,
    PartyId,
    OcpiId,
    CountryCodeKey,
    PartyIdKey,
    OcpiIdKey,
    Name,
    Address,
    City,
    PostalCode,
    State,
    Country,
    Latitude,
    Longitude,
    LatitudeDeg,
    LongitudeDeg,
    Publish,
    TimeZone,
    LocationType,
    LastUpdated,
    ReceivedAt,
    Raw,
}

fn location() -> TableCreateStatement {
    Table::create()
        .table(Location::Table)
        .col(big_pk_auto(Location::Id))
        .col(string(Location::CountryCode))
        .col(string(Location::PartyId))
        .col(string(Location::OcpiId))
        .col(string(Location::CountryCodeKey))
        .col(string(Location::PartyIdKey))
        .col(string(Location::OcpiIdKey))
        .col(string_null(Location::Name))
        .col(string_null(Location::Address))
        .col(string_null(Location::City))
        .col(string_null(Location::PostalCode))
        .col(string_null(Location::State))
        .col(string_null(Location::Country))
        .col(string_null(Location::Latitude))
        .col(string_null(Location::Longitude))
        .col(double_null(Location::LatitudeDeg))
        .col(double_null(Location::LongitudeDeg))
        .col(boolean_null(Location::Publish))
        .col(string_null(Location::TimeZone))
        .col(string_null(Location::LocationType))
        .col(timestamp_with_time_zone_null(Location::LastUpdated))
        .col(timestamp_with_time_zone(Location::ReceivedAt))
        .col(text(Location::Raw))
        .to_owned()
}

#[derive(DeriveIden)]
enum Evse {
    Table,
    Id,
    LocationPk,
    Uid,
    UidKey,
    EvseId,
    Status,
    StatusSince,
    LastUpdated,
    ReceivedAt,
    Raw,
}

fn evse() -> TableCreateStatement {
    Table::create()
        .table(Evse::Table)
        .col(big_pk_auto(Evse::Id))
        .col(big_integer(Evse::LocationPk))
        .col(string(Evse::Uid))
        .col(string(Evse::UidKey))
        .col(string_null(Evse::EvseId))
        .col(string_null(Evse::Status))
        .col(timestamp_with_time_zone_null(Evse::StatusSince))
        .col(timestamp_with_time_zone_null(Evse::LastUpdated))
        .col(timestamp_with_time_zone(Evse::ReceivedAt))
        .col(text(Evse::Raw))
        .foreign_key(
            ForeignKey::create()
                .from(Evse::Table, Evse::LocationPk)
                .to(Location::Table, Location::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum Connector {
    Table,
    Id,
    EvsePk,
    ConnectorId,
    ConnectorIdKey,
    Standard,
    Format,
    PowerType,
    MaxVoltage,
    MaxAmperage,
    MaxElectricPower,
    TariffIds,
    LastUpdated,
    ReceivedAt,
    Raw,
}

fn connector() -> TableCreateStatement {
    Table::create()
        .table(Connector::Table)
        .col(big_pk_auto(Connector::Id))
        .col(big_integer(Connector::EvsePk))
        .col(string(Connector::ConnectorId))
        .col(string(Connector::ConnectorIdKey))
        .col(string_null(Connector::Standard))
        .col(string_null(Connector::Format))
        .col(string_null(Connector::PowerType))
        .col(big_integer_null(Connector::MaxVoltage))
        .col(big_integer_null(Connector::MaxAmperage))
        .col(big_integer_null(Connector::MaxElectricPower))
        .col(text(Connector::TariffIds))
        .col(timestamp_with_time_zone_null(Connector::LastUpdated))
        .col(timestamp_with_time_zone(Connector::ReceivedAt))
        .col(text(Connector::Raw))
        .foreign_key(
            ForeignKey::create()
                .from(Connector::Table, Connector::EvsePk)
                .to(Evse::Table, Evse::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum EvseStatusHistory {
    Table,
    Id,
    EvsePk,
    LocationPk,
    PreviousStatus,
    Status,
    ChangedAt,
    ReceivedAt,
    StampFromSender,
}

fn evse_status_history() -> TableCreateStatement {
    Table::create()
        .table(EvseStatusHistory::Table)
        .col(big_pk_auto(EvseStatusHistory::Id))
        .col(big_integer(EvseStatusHistory::EvsePk))
        .col(big_integer(EvseStatusHistory::LocationPk))
        .col(string_null(EvseStatusHistory::PreviousStatus))
        .col(string(EvseStatusHistory::Status))
        .col(timestamp_with_time_zone(EvseStatusHistory::ChangedAt))
        .col(timestamp_with_time_zone(EvseStatusHistory::ReceivedAt))
        .col(boolean(EvseStatusHistory::StampFromSender))
        .foreign_key(
            ForeignKey::create()
                .from(EvseStatusHistory::Table, EvseStatusHistory::EvsePk)
                .to(Evse::Table, Evse::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum Session {
    Table,
    Id,
    CountryCode,
    PartyId,
    OcpiId,
    CountryCodeKey,
    PartyIdKey,
    OcpiIdKey,
    LocationId,
    EvseUid,
    ConnectorId,
    LocationPk,
    StartDateTime,
    EndDateTime,
    KwhMicro,
    AuthId,
    AuthMethod,
    TokenUid,
    Currency,
    TotalCostMicro,
    TotalCostInclVatMicro,
    Status,
    Incomplete,
    LastUpdated,
    ReceivedAt,
    Raw,
}

fn session() -> TableCreateStatement {
    Table::create()
        .table(Session::Table)
        .col(big_pk_auto(Session::Id))
        .col(string(Session::CountryCode))
        .col(string(Session::PartyId))
        .col(string(Session::OcpiId))
        .col(string(Session::CountryCodeKey))
        .col(string(Session::PartyIdKey))
        .col(string(Session::OcpiIdKey))
        .col(string_null(Session::LocationId))
        .col(string_null(Session::EvseUid))
        .col(string_null(Session::ConnectorId))
        .col(big_integer_null(Session::LocationPk))
        .col(timestamp_with_time_zone_null(Session::StartDateTime))
        .col(timestamp_with_time_zone_null(Session::EndDateTime))
        .col(big_integer_null(Session::KwhMicro))
        .col(string_null(Session::AuthId))
        .col(string_null(Session::AuthMethod))
        .col(string_null(Session::TokenUid))
        .col(string_null(Session::Currency))
        .col(big_integer_null(Session::TotalCostMicro))
        .col(big_integer_null(Session::TotalCostInclVatMicro))
        .col(string_null(Session::Status))
        .col(boolean(Session::Incomplete))
        .col(timestamp_with_time_zone_null(Session::LastUpdated))
        .col(timestamp_with_time_zone(Session::ReceivedAt))
        .col(text(Session::Raw))
        .to_owned()
}

#[derive(DeriveIden)]
enum ChargingPeriod {
    Table,
    Id,
    SessionPk,
    StartDateTime,
    Dimensions,
    TariffId,
    EnergyMicro,
    TimeMicro,
}

fn charging_period() -> TableCreateStatement {
    Table::create()
        .table(ChargingPeriod::Table)
        .col(big_pk_auto(ChargingPeriod::Id))
        .col(big_integer(ChargingPeriod::SessionPk))
        .col(timestamp_with_time_zone(ChargingPeriod::StartDateTime))
        .col(text(ChargingPeriod::Dimensions))
        .col(string_null(ChargingPeriod::TariffId))
        .col(big_integer_null(ChargingPeriod::EnergyMicro))
        .col(big_integer_null(ChargingPeriod::TimeMicro))
        .foreign_key(
            ForeignKey::create()
                .from(ChargingPeriod::Table, ChargingPeriod::SessionPk)
                .to(Session::Table, Session::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum SessionEvent {
    Table,
    Id,
    SessionPk,
    InboxPk,
    Method,
    At,
    ReceivedAt,
    Status,
    KwhMicro,
    TotalCostMicro,
    Applied,
}

fn session_event() -> TableCreateStatement {
    Table::create()
        .table(SessionEvent::Table)
        .col(big_pk_auto(SessionEvent::Id))
        .col(big_integer(SessionEvent::SessionPk))
        .col(big_integer_null(SessionEvent::InboxPk))
        .col(string(SessionEvent::Method))
        .col(timestamp_with_time_zone(SessionEvent::At))
        .col(timestamp_with_time_zone(SessionEvent::ReceivedAt))
        .col(string_null(SessionEvent::Status))
        .col(big_integer_null(SessionEvent::KwhMicro))
        .col(big_integer_null(SessionEvent::TotalCostMicro))
        .col(boolean(SessionEvent::Applied))
        .foreign_key(
            ForeignKey::create()
                .from(SessionEvent::Table, SessionEvent::SessionPk)
                .to(Session::Table, Session::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum Cdr {
    Table,
    Id,
    CountryCode,
    PartyId,
    OcpiId,
    CountryCodeKey,
    PartyIdKey,
    OcpiIdKey,
    SessionId,
    LocationId,
    EvseUid,
    ConnectorId,
    LocationPk,
    StartDateTime,
    EndDateTime,
    AuthId,
    AuthMethod,
    TokenUid,
    Currency,
    TotalCostMicro,
    TotalCostInclVatMicro,
    TotalEnergyMicro,
    TotalTimeMicro,
    TotalParkingTimeMicro,
    TariffIds,
    Credit,
    CreditReferenceId,
    CreditOfPk,
    LastUpdated,
    ReceivedAt,
    Raw,
}

fn cdr() -> TableCreateStatement {
    Table::create()
        .table(Cdr::Table)
        .col(big_pk_auto(Cdr::Id))
        .col(string(Cdr::CountryCode))
        .col(string(Cdr::PartyId))
        .col(string(Cdr::OcpiId))
        .col(string(Cdr::CountryCodeKey))
        .col(string(Cdr::PartyIdKey))
        .col(string(Cdr::OcpiIdKey))
        .col(string_null(Cdr::SessionId))
        .col(string_null(Cdr::LocationId))
        .col(string_null(Cdr::EvseUid))
        .col(string_null(Cdr::ConnectorId))
        .col(big_integer_null(Cdr::LocationPk))
        .col(timestamp_with_time_zone_null(Cdr::StartDateTime))
        .col(timestamp_with_time_zone_null(Cdr::EndDateTime))
        .col(string_null(Cdr::AuthId))
        .col(string_null(Cdr::AuthMethod))
        .col(string_null(Cdr::TokenUid))
        .col(string_null(Cdr::Currency))
        .col(big_integer_null(Cdr::TotalCostMicro))
        .col(big_integer_null(Cdr::TotalCostInclVatMicro))
        .col(big_integer_null(Cdr::TotalEnergyMicro))
        .col(big_integer_null(Cdr::TotalTimeMicro))
        .col(big_integer_null(Cdr::TotalParkingTimeMicro))
        .col(text(Cdr::TariffIds))
        .col(boolean(Cdr::Credit))
        .col(string_null(Cdr::CreditReferenceId))
        .col(big_integer_null(Cdr::CreditOfPk))
        .col(timestamp_with_time_zone_null(Cdr::LastUpdated))
        .col(timestamp_with_time_zone(Cdr::ReceivedAt))
        .col(text(Cdr::Raw))
        .to_owned()
}

#[derive(DeriveIden)]
enum Notification {
    Table,
    Id,
    CountryCode,
    PartyId,
    NotificationId,
    NotificationIdKey,
    ChargeStationNotificationId,
    ChargeStationId,
    EvseId,
    LocationId,
    MessageAction,
    MessageType,
    Direction,
    Level,
    Created,
    Payload,
    PayloadJson,
    ReceivedAt,
    Raw,
}

fn notification() -> TableCreateStatement {
    Table::create()
        .table(Notification::Table)
        .col(big_pk_auto(Notification::Id))
        .col(string(Notification::CountryCode))
        .col(string(Notification::PartyId))
        .col(string(Notification::NotificationId))
        .col(string(Notification::NotificationIdKey))
        .col(string_null(Notification::ChargeStationNotificationId))
        .col(string_null(Notification::ChargeStationId))
        .col(string_null(Notification::EvseId))
        .col(string_null(Notification::LocationId))
        .col(string_null(Notification::MessageAction))
        .col(string_null(Notification::MessageType))
        .col(string_null(Notification::Direction))
        .col(string_null(Notification::Level))
        .col(timestamp_with_time_zone_null(Notification::Created))
        .col(text_null(Notification::Payload))
        .col(text_null(Notification::PayloadJson))
        .col(timestamp_with_time_zone(Notification::ReceivedAt))
        .col(text(Notification::Raw))
        .to_owned()
}

#[derive(DeriveIden)]
enum Inbox {
    Table,
    Id,
    ReceivedAt,
    Source,
    Method,
    Path,
    Version,
    Module,
    CountryCode,
    PartyId,
    ObjectId,
    TokenPk,
    RequestId,
    HttpStatus,
    StatusCode,
    Outcome,
    Message,
    Warnings,
    Body,
}

fn inbox() -> TableCreateStatement {
    Table::create()
        .table(Inbox::Table)
        .col(big_pk_auto(Inbox::Id))
        .col(timestamp_with_time_zone(Inbox::ReceivedAt))
        .col(string(Inbox::Source))
        .col(string(Inbox::Method))
        .col(text(Inbox::Path))
        .col(string_null(Inbox::Version))
        .col(string_null(Inbox::Module))
        .col(string_null(Inbox::CountryCode))
        .col(string_null(Inbox::PartyId))
        .col(string_null(Inbox::ObjectId))
        .col(big_integer_null(Inbox::TokenPk))
        .col(string_null(Inbox::RequestId))
        .col(integer(Inbox::HttpStatus))
        .col(integer(Inbox::StatusCode))
        .col(string(Inbox::Outcome))
        .col(text(Inbox::Message))
        .col(text(Inbox::Warnings))
        .col(text_null(Inbox::Body))
        .to_owned()
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Seq,
    CreatedAt,
    Kind,
    CountryCode,
    PartyId,
    LocationPk,
    EvsePk,
    SessionPk,
    Payload,
}

fn outbox() -> TableCreateStatement {
    Table::create()
        .table(Outbox::Table)
        .col(big_pk_auto(Outbox::Seq))
        .col(timestamp_with_time_zone(Outbox::CreatedAt))
        .col(string(Outbox::Kind))
        .col(string_null(Outbox::CountryCode))
        .col(string_null(Outbox::PartyId))
        .col(big_integer_null(Outbox::LocationPk))
        .col(big_integer_null(Outbox::EvsePk))
        .col(big_integer_null(Outbox::SessionPk))
        .col(text(Outbox::Payload))
        .to_owned()
}

fn unique(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).unique().to_owned();
    for col in cols {
        index.col(col);
    }
    index
}

fn plain(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).to_owned();
    for col in cols {
        index.col(col);
    }
    index
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        unique(
            "ux_location_key",
            Location::Table,
            vec![
                Location::CountryCodeKey.into_iden(),
                Location::PartyIdKey.into_iden(),
                Location::OcpiIdKey.into_iden(),
            ],
        ),
        plain(
            "ix_location_city",
            Location::Table,
            vec![Location::City.into_iden()],
        ),
        unique(
            "ux_evse_key",
            Evse::Table,
            vec![Evse::LocationPk.into_iden(), Evse::UidKey.into_iden()],
        ),
        unique(
            "ux_connector_key",
            Connector::Table,
            vec![
                Connector::EvsePk.into_iden(),
                Connector::ConnectorIdKey.into_iden(),
            ],
        ),
        plain(
            "ix_evse_status_history_evse",
            EvseStatusHistory::Table,
            vec![
                EvseStatusHistory::EvsePk.into_iden(),
                EvseStatusHistory::ChangedAt.into_iden(),
            ],
        ),
        unique(
            "ux_session_key",
            Session::Table,
            vec![
                Session::CountryCodeKey.into_iden(),
                Session::PartyIdKey.into_iden(),
                Session::OcpiIdKey.into_iden(),
            ],
        ),
        unique(
            "ux_charging_period_start",
            ChargingPeriod::Table,
            vec![
                ChargingPeriod::SessionPk.into_iden(),
                ChargingPeriod::StartDateTime.into_iden(),
            ],
        ),
        plain(
            "ix_session_event_session",
            SessionEvent::Table,
            vec![
                SessionEvent::SessionPk.into_iden(),
                SessionEvent::Id.into_iden(),
            ],
        ),
        unique(
            "ux_cdr_key",
            Cdr::Table,
            vec![
                Cdr::CountryCodeKey.into_iden(),
                Cdr::PartyIdKey.into_iden(),
                Cdr::OcpiIdKey.into_iden(),
            ],
        ),
        plain(
            "ix_cdr_start",
            Cdr::Table,
            vec![Cdr::StartDateTime.into_iden()],
        ),
        unique(
            "ux_notification_key",
            Notification::Table,
            vec![
                Notification::CountryCode.into_iden(),
                Notification::PartyId.into_iden(),
                Notification::NotificationIdKey.into_iden(),
            ],
        ),
        plain(
            "ix_inbox_outcome",
            Inbox::Table,
            vec![Inbox::Outcome.into_iden(), Inbox::ReceivedAt.into_iden()],
        ),
        plain(
            "ix_outbox_created",
            Outbox::Table,
            vec![Outbox::CreatedAt.into_iden()],
        ),
    ]
}
