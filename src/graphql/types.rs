//! Output types: one GraphQL object per OCPI object, over its stored row.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Interface, Json, Object, Result, SimpleObject, ID};
use entity::{cdr, charging_period, connector, evse, evse_status_history, location};
use entity::{notification, session, session_event};

use super::error::internal;
use super::ids::{global_id, NodeType};
use super::loaders::{ConnectorsByEvse, EvsesByLocation, LocationsByPk};
use super::scalars::{datetime, decimal, DateTime, Decimal, EvseStatus};
use crate::domain::Micros;
use crate::store::{read, Store};

/// Any object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id, for `node(id:)`."))]
pub enum Node {
    /// A location.
    Location(Location),
    /// An EVSE.
    Evse(Evse),
    /// A connector.
    Connector(Connector),
    /// A session.
    Session(Session),
    /// A CDR.
    Cdr(Cdr),
    /// A notification.
    Notification(Notification),
}

/// The store the schema was built with.
pub fn store<'a>(ctx: &Context<'a>) -> Result<&'a Store> {
    ctx.data::<Store>()
}

/// Loads a location by row id, batched across the query.
pub async fn load_location(ctx: &Context<'_>, pk: Option<i64>) -> Result<Option<Location>> {
    let Some(pk) = pk else {
        return Ok(None);
    };
    let loader = ctx.data::<DataLoader<LocationsByPk>>()?;
    let row = loader.load_one(pk).await.map_err(internal)?;
    Ok(row.map(Location))
}

/// Reads a JSON array of strings kept in a text column.
fn string_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Reads a JSON text column for a `JSON` field.
fn json(text: Option<&str>) -> Option<Json<serde_json::Value>> {
    text.and_then(|t| serde_json::from_str(t).ok()).map(Json)
}

/// An OCPI Location as last merged from pushes.
pub struct Location(pub location::Model);

/// An OCPI Location as last merged from pushes.
#[Object]
impl Location {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Location, self.0.id)
    }
    /// ISO 3166 alpha-2 country code of the CPO, as first spelled.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    /// CPO party id, as first spelled.
    async fn party_id(&self) -> &str {
        &self.0.party_id
    }
    /// The CPO's id of the location.
    async fn ocpi_id(&self) -> &str {
        &self.0.ocpi_id
    }
    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Street and number.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// City or town.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    /// Postal code.
    async fn postal_code(&self) -> Option<&str> {
        self.0.postal_code.as_deref()
    }
    /// ISO 3166 alpha-3 country of the address.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
    /// Latitude as sent.
    async fn latitude(&self) -> Option<&str> {
        self.0.latitude.as_deref()
    }
    /// Longitude as sent.
    async fn longitude(&self) -> Option<&str> {
        self.0.longitude.as_deref()
    }
    /// Whether the CPO allows publishing the location.
    async fn publish(&self) -> Option<bool> {
        self.0.publish
    }
    /// IANA time zone of the location.
    async fn time_zone(&self) -> Option<&str> {
        self.0.time_zone.as_deref()
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// When we last received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// The merged OCPI JSON, EVSEs excluded.
    async fn raw(&self) -> Option<Json<serde_json::Value>> {
        json(Some(&self.0.raw))
    }
    /// The EVSEs of the location.
    async fn evses(&self, ctx: &Context<'_>) -> Result<Vec<Evse>> {
        let loader = ctx.data::<DataLoader<EvsesByLocation>>()?;
        let rows = loader.load_one(self.0.id).await.map_err(internal)?;
        Ok(rows.unwrap_or_default().into_iter().map(Evse).collect())
    }
}

/// An EVSE of a location, with its live status.
pub struct Evse(pub evse::Model);

/// An EVSE of a location, with its live status.
#[Object]
impl Evse {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Evse, self.0.id)
    }
    /// The CPO's uid of the EVSE (its key within the location).
    async fn uid(&self) -> &str {
        &self.0.uid
    }
    /// The public eMI3 EVSE id.
    async fn evse_id(&self) -> Option<&str> {
        self.0.evse_id.as_deref()
    }
    /// Live status; OTHER for a status this version does not know.
    async fn status(&self) -> Option<EvseStatus> {
        self.0.status.as_deref().map(EvseStatus::from_raw)
    }
    /// Live status as sent.
    async fn status_raw(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    /// Since when the live status holds.
    async fn status_since(&self) -> Option<DateTime> {
        datetime(self.0.status_since)
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// The connectors of the EVSE.
    async fn connectors(&self, ctx: &Context<'_>) -> Result<Vec<Connector>> {
        let loader = ctx.data::<DataLoader<ConnectorsByEvse>>()?;
        let rows = loader.load_one(self.0.id).await.map_err(internal)?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(Connector)
            .collect())
    }
    /// Every applied status change, oldest first.
    async fn status_history(&self, ctx: &Context<'_>) -> Result<Vec<EvseStatusEntry>> {
        let rows = read::evse_status_history(store(ctx)?.db(), self.0.id)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(EvseStatusEntry).collect())
    }
}

/// One applied EVSE status change.
pub struct EvseStatusEntry(pub evse_status_history::Model);

/// One applied EVSE status change.
#[Object]
impl EvseStatusEntry {
    /// The status before, when there was one.
    async fn previous_status(&self) -> Option<EvseStatus> {
        self.0.previous_status.as_deref().map(EvseStatus::from_raw)
    }
    /// The new status.
    async fn status(&self) -> EvseStatus {
        EvseStatus::from_raw(&self.0.status)
    }
    /// The new status as sent.
    async fn status_raw(&self) -> &str {
        &self.0.status
    }
    /// The sender's stamp when given, else when we received it.
    async fn changed_at(&self) -> DateTime {
        DateTime(self.0.changed_at)
    }
    /// When we received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
}

/// A connector of an EVSE.
pub struct Connector(pub connector::Model);

/// A connector of an EVSE.
#[Object]
impl Connector {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Connector, self.0.id)
    }
    /// The CPO's id of the connector within its EVSE.
    async fn connector_id(&self) -> &str {
        &self.0.connector_id
    }
    /// Plug standard as sent, e.g. IEC_62196_T2.
    async fn standard(&self) -> Option<&str> {
        self.0.standard.as_deref()
    }
    /// SOCKET or CABLE, as sent.
    async fn format(&self) -> Option<&str> {
        self.0.format.as_deref()
    }
    /// AC_1_PHASE, AC_3_PHASE or DC, as sent.
    async fn power_type(&self) -> Option<&str> {
        self.0.power_type.as_deref()
    }
    /// Maximum voltage in volts.
    async fn max_voltage(&self) -> Option<i64> {
        self.0.max_voltage
    }
    /// Maximum current in amperes.
    async fn max_amperage(&self) -> Option<i64> {
        self.0.max_amperage
    }
    /// Maximum power in watts.
    async fn max_electric_power(&self) -> Option<i64> {
        self.0.max_electric_power
    }
    /// Ids of the tariffs that apply.
    async fn tariff_ids(&self) -> Vec<String> {
        string_list(&self.0.tariff_ids)
    }
}

/// An OCPI charging session.
pub struct Session(pub session::Model);

/// An OCPI charging session.
#[Object]
impl Session {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Session, self.0.id)
    }
    /// Country code of the CPO, as first spelled.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    /// CPO party id, as first spelled.
    async fn party_id(&self) -> &str {
        &self.0.party_id
    }
    /// The CPO's id of the session.
    async fn ocpi_id(&self) -> &str {
        &self.0.ocpi_id
    }
    /// ACTIVE, COMPLETED, ... as sent.
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    /// Energy charged so far, in kWh.
    async fn kwh(&self) -> Option<Decimal> {
        decimal(self.0.kwh_micro)
    }
    /// When the session started.
    async fn start_date_time(&self) -> Option<DateTime> {
        datetime(self.0.start_date_time)
    }
    /// When the session ended.
    async fn end_date_time(&self) -> Option<DateTime> {
        datetime(self.0.end_date_time)
    }
    /// The token's auth id.
    async fn auth_id(&self) -> Option<&str> {
        self.0.auth_id.as_deref()
    }
    /// How the driver was authorised, as sent.
    async fn auth_method(&self) -> Option<&str> {
        self.0.auth_method.as_deref()
    }
    /// ISO 4217 currency.
    async fn currency(&self) -> Option<&str> {
        self.0.currency.as_deref()
    }
    /// Cost so far, excluding VAT.
    async fn total_cost(&self) -> Option<Decimal> {
        decimal(self.0.total_cost_micro)
    }
    /// True until a whole Session (PUT or pull) was received.
    async fn incomplete(&self) -> bool {
        self.0.incomplete
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// The CPO's location id.
    async fn location_id(&self) -> Option<&str> {
        self.0.location_id.as_deref()
    }
    /// The CPO's EVSE uid.
    async fn evse_uid(&self) -> Option<&str> {
        self.0.evse_uid.as_deref()
    }
    /// The CPO's connector id.
    async fn connector_id(&self) -> Option<&str> {
        self.0.connector_id.as_deref()
    }
    /// The distinct charging periods, by start.
    async fn charging_periods(&self, ctx: &Context<'_>) -> Result<Vec<ChargingPeriod>> {
        let rows = read::charging_periods(store(ctx)?.db(), self.0.id)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(ChargingPeriod).collect())
    }
    /// Every push this session received, in arrival order.
    async fn timeline(&self, ctx: &Context<'_>) -> Result<Vec<SessionEvent>> {
        let rows = read::session_events(store(ctx)?.db(), self.0.id)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(SessionEvent).collect())
    }
    /// The location, when it was pushed.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.0.location_pk).await
    }
    /// The CDR billing this session, once received.
    async fn cdr(&self, ctx: &Context<'_>) -> Result<Option<Cdr>> {
        let s = &self.0;
        let row = read::cdr_of_session(store(ctx)?.db(), &s.country_code, &s.party_id, &s.ocpi_id)
            .await
            .map_err(internal)?;
        Ok(row.map(Cdr))
    }
}

/// A period of a session with constant tariff conditions.
pub struct ChargingPeriod(pub charging_period::Model);

/// One measured quantity of a charging period.
#[derive(SimpleObject)]
pub struct CdrDimension {
    /// ENERGY, TIME, PARKING_TIME, ... as sent.
    #[graphql(name = "type")]
    pub kind: String,
    /// The volume, in the dimension's unit.
    pub volume: Option<Decimal>,
}

/// A period of a session with constant tariff conditions.
#[Object]
impl ChargingPeriod {
    /// When the period started.
    async fn start_date_time(&self) -> DateTime {
        DateTime(self.0.start_date_time)
    }
    /// The tariff that applies, when given.
    async fn tariff_id(&self) -> Option<&str> {
        self.0.tariff_id.as_deref()
    }
    /// The quantities measured in this period.
    async fn dimensions(&self) -> Vec<CdrDimension> {
        let sent: Vec<serde_json::Value> =
            serde_json::from_str(&self.0.dimensions).unwrap_or_default();
        sent.iter().map(dimension).collect()
    }
}

fn dimension(value: &serde_json::Value) -> CdrDimension {
    CdrDimension {
        kind: value["type"].as_str().unwrap_or_default().to_owned(),
        volume: Micros::from_json(&value["volume"]).ok().map(Decimal),
    }
}

/// One push a session received, applied or not.
pub struct SessionEvent(pub session_event::Model);

/// One push a session received, applied or not.
#[Object]
impl SessionEvent {
    /// The sender's stamp when given, else when we received it.
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }
    /// PUT, PATCH or PULL.
    async fn method(&self) -> &str {
        &self.0.method
    }
    /// The session status the push carried.
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    /// The kWh the push carried.
    async fn kwh(&self) -> Option<Decimal> {
        decimal(self.0.kwh_micro)
    }
    /// The cost excluding VAT the push carried.
    async fn total_cost(&self) -> Option<Decimal> {
        decimal(self.0.total_cost_micro)
    }
    /// False when the push was stale or the session already final.
    async fn applied(&self) -> bool {
        self.0.applied
    }
}

/// An immutable OCPI charge detail record.
pub struct Cdr(pub cdr::Model);

/// An immutable OCPI charge detail record.
#[Object]
impl Cdr {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Cdr, self.0.id)
    }
    /// Country code of the CPO, as first spelled.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    /// CPO party id, as first spelled.
    async fn party_id(&self) -> &str {
        &self.0.party_id
    }
    /// The CPO's id of the CDR.
    async fn ocpi_id(&self) -> &str {
        &self.0.ocpi_id
    }
    /// The CPO's id of the billed session.
    async fn session_id(&self) -> Option<&str> {
        self.0.session_id.as_deref()
    }
    /// The CPO's location id.
    async fn location_id(&self) -> Option<&str> {
        self.0.location_id.as_deref()
    }
    /// The CPO's EVSE uid.
    async fn evse_uid(&self) -> Option<&str> {
        self.0.evse_uid.as_deref()
    }
    /// The CPO's connector id.
    async fn connector_id(&self) -> Option<&str> {
        self.0.connector_id.as_deref()
    }
    /// When charging started.
    async fn start_date_time(&self) -> Option<DateTime> {
        datetime(self.0.start_date_time)
    }
    /// When charging ended.
    async fn end_date_time(&self) -> Option<DateTime> {
        datetime(self.0.end_date_time)
    }
    /// ISO 4217 currency.
    async fn currency(&self) -> Option<&str> {
        self.0.currency.as_deref()
    }
    /// Total cost excluding VAT.
    async fn total_cost(&self) -> Option<Decimal> {
        decimal(self.0.total_cost_micro)
    }
    /// Total cost including VAT, when sent.
    async fn total_cost_incl_vat(&self) -> Option<Decimal> {
        decimal(self.0.total_cost_incl_vat_micro)
    }
    /// Energy in kWh.
    async fn total_energy(&self) -> Option<Decimal> {
        decimal(self.0.total_energy_micro)
    }
    /// Duration in hours.
    async fn total_time(&self) -> Option<Decimal> {
        decimal(self.0.total_time_micro)
    }
    /// Parking time in hours.
    async fn total_parking_time(&self) -> Option<Decimal> {
        decimal(self.0.total_parking_time_micro)
    }
    /// True for a credit CDR.
    async fn credit(&self) -> bool {
        self.0.credit
    }
    /// The id of the CDR a credit CDR corrects.
    async fn credit_reference_id(&self) -> Option<&str> {
        self.0.credit_reference_id.as_deref()
    }
    /// The token's auth id.
    async fn auth_id(&self) -> Option<&str> {
        self.0.auth_id.as_deref()
    }
    /// How the driver was authorised, as sent.
    async fn auth_method(&self) -> Option<&str> {
        self.0.auth_method.as_deref()
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// The CDR as sent, with its location snapshot.
    async fn raw(&self) -> Option<Json<serde_json::Value>> {
        json(Some(&self.0.raw))
    }
    /// The location, when it was pushed (a CDR never creates one).
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.0.location_pk).await
    }
    /// The billed session, when it was received.
    async fn session(&self, ctx: &Context<'_>) -> Result<Option<Session>> {
        let Some(session_id) = &self.0.session_id else {
            return Ok(None);
        };
        let c = &self.0;
        let row = read::session_by_key(store(ctx)?.db(), &c.country_code, &c.party_id, session_id)
            .await
            .map_err(internal)?;
        Ok(row.map(Session))
    }
}

/// A ChargeStation notification (GreenFlux), with its OCPP payload.
pub struct Notification(pub notification::Model);

/// A ChargeStation notification (GreenFlux), with its OCPP payload.
#[Object]
impl Notification {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Notification, self.0.id)
    }
    /// The id in the notification's URL.
    async fn notification_id(&self) -> &str {
        &self.0.notification_id
    }
    /// The charge station that raised it.
    async fn charge_station_id(&self) -> Option<&str> {
        self.0.charge_station_id.as_deref()
    }
    /// The EVSE it concerns.
    async fn evse_id(&self) -> Option<&str> {
        self.0.evse_id.as_deref()
    }
    /// The CPO's location id.
    async fn location_id(&self) -> Option<&str> {
        self.0.location_id.as_deref()
    }
    /// The OCPP action, e.g. StatusNotification.
    async fn message_action(&self) -> Option<&str> {
        self.0.message_action.as_deref()
    }
    /// The OCPP message type.
    async fn message_type(&self) -> Option<&str> {
        self.0.message_type.as_deref()
    }
    /// Which way the OCPP message went.
    async fn direction(&self) -> Option<&str> {
        self.0.direction.as_deref()
    }
    /// Severity, as sent.
    async fn level(&self) -> Option<&str> {
        self.0.level.as_deref()
    }
    /// When the station created it.
    async fn created(&self) -> Option<DateTime> {
        datetime(self.0.created)
    }
    /// The OCPP payload string as sent.
    async fn payload(&self) -> Option<&str> {
        self.0.payload.as_deref()
    }
    /// The OCPP payload parsed, when it is JSON.
    async fn payload_json(&self) -> Option<Json<serde_json::Value>> {
        json(self.0.payload_json.as_deref())
    }
}
