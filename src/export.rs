//! CSV exports for finance teams: `GET /export/cdrs.csv` and
//! `GET /export/billing.csv`.
//!
//! Both take the filters of the GraphQL `cdrs` and `billing` queries as
//! query parameters (`from`, `to`, `partyId`, `countryCode`, `locationId`,
//! `sessionId`, `currency`, `credit`; for billing also `timeZone` and
//! `groupBy=MONTH,LOCATION`), read only the caller's parties (the `Access`
//! that `auth::export_access` puts in the request), and answer a header row
//! and one row per CDR or bucket: exact energy and time, money to at most
//! four decimals (`domain::Money`), UTC instants as
//! `YYYY-MM-DDTHH:MM:SS[.sss]Z`, quoting by the `csv` crate. The CDR export
//! is streamed page by page (keyset on the row id), never held whole; the
//! billing report is one bounded statement, streamed out in chunks. Mount
//! the router with `app::protect_exports`.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use entity::cdr;
use futures::stream::{self, Stream, StreamExt};
use serde_json::json;

use crate::billing::{self, BillingError, BillingRequest, Bucket, GroupBy};
use crate::domain::{time, Access, Micros, Money, Timestamp};
use crate::store::read::{self, CdrFilter, Key, Position, Scope, TimeRange, Window};
use crate::store::{Store, StoreError};

/// CDRs read per statement while streaming.
const PAGE: u64 = 500;

/// Buckets written per chunk of the billing export.
const BUCKETS_PER_CHUNK: usize = 500;

const CDR_HEADER: [&str; 22] = [
    "country_code",
    "party_id",
    "cdr_id",
    "start_date_time",
    "end_date_time",
    "session_id",
    "location_id",
    "evse_uid",
    "connector_id",
    "auth_id",
    "token_uid",
    "auth_method",
    "currency",
    "total_energy",
    "total_time",
    "total_parking_time",
    "total_cost",
    "total_cost_incl_vat",
    "tariff_ids",
    "credit",
    "credit_reference_id",
    "last_updated",
];

const BILLING_HEADER: [&str; 16] = [
    "period",
    "period_start",
    "period_end",
    "country_code",
    "party_id",
    "location_id",
    "evse_uid",
    "tariff_ids",
    "currency",
    "cdr_count",
    "credit_count",
    "total_energy",
    "total_time",
    "total_parking_time",
    "total_cost",
    "total_cost_incl_vat",
];

/// Why an export was refused.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A parameter is wrong: HTTP 400, BAD_USER_INPUT, the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// Our fault: HTTP 500, INTERNAL_SERVER_ERROR (the cause is logged).
    #[error("internal error")]
    Internal,
}

impl ExportError {
    fn internal(cause: impl std::fmt::Display) -> ExportError {
        tracing::error!(error = %cause, "export failed");
        ExportError::Internal
    }
}

impl From<BillingError> for ExportError {
    fn from(err: BillingError) -> ExportError {
        match err {
            BillingError::Input(message) => ExportError::BadRequest(message),
            BillingError::Store(cause) => ExportError::internal(cause),
        }
    }
}

impl IntoResponse for ExportError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ExportError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_USER_INPUT"),
            ExportError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR"),
        };
        let body = json!({"error": self.to_string(), "code": code});
        (status, Json(body)).into_response()
    }
}

/// The export routes over a store; mount them with `app::protect_exports`.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/export/cdrs.csv", get(cdrs_csv))
        .route("/export/billing.csv", get(billing_csv))
        .with_state(store)
}

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The caller's scope; none at all when the export gate did not run.
fn scope(access: Option<Extension<Access>>) -> Scope {
    match access {
        Some(Extension(access)) => Scope::of(access.parties()),
        None => Scope::of(Access::NONE.parties()),
    }
}

async fn cdrs_csv(
    State(store): State<Store>,
    access: Option<Extension<Access>>,
    params: Params,
) -> Result<Response, ExportError> {
    let params = Parsed::read(params, CDR_PARAMS)?;
    let filter = params.filter(scope(access))?;

    tracing::debug!(export = "cdrs", "export started");
    let body = cdr_csv(store, filter, PAGE)
        .await
        .map_err(ExportError::internal)?;
    Ok(csv_response("cdrs.csv", body))
}

async fn billing_csv(
    State(store): State<Store>,
    access: Option<Extension<Access>>,
    params: Params,
) -> Result<Response, ExportError> {
    let params = Parsed::read(params, BILLING_PARAMS)?;
    let request = params.billing(scope(access))?;

    let buckets = billing::report(store.db(), &request).await?;
    tracing::debug!(
        export = "billing",
        buckets = buckets.len(),
        "export started"
    );

    let header = stream::once(async { csv_chunk(Some(&BILLING_HEADER[..]), &[], billing_record) });
    let chunks: Vec<Vec<Bucket>> = buckets
        .chunks(BUCKETS_PER_CHUNK)
        .map(<[Bucket]>::to_vec)
        .collect();
    let rows = stream::iter(chunks).map(|chunk| csv_chunk(None, &chunk, billing_record));
    Ok(csv_response("billing.csv", header.chain(rows)))
}

fn csv_response(
    name: &str,
    chunks: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// Parameters

const FILTER_PARAMS: [&str; 8] = [
    "from",
    "to",
    "partyId",
    "countryCode",
    "locationId",
    "sessionId",
    "currency",
    "credit",
];
const CDR_PARAMS: &[&str] = &FILTER_PARAMS;
const BILLING_PARAMS: &[&str] = &[
    "from",
    "to",
    "partyId",
    "countryCode",
    "locationId",
    "sessionId",
    "currency",
    "credit",
    "timeZone",
    "groupBy",
];

/// Query parameters, each known and given once (`groupBy` may repeat).
struct Parsed(Vec<(String, String)>);

impl Parsed {
    fn read(params: Params, known: &[&str]) -> Result<Parsed, ExportError> {
        let Query(pairs) = params.map_err(|e| ExportError::BadRequest(e.body_text()))?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !known.contains(&name.as_str()) {
                return Err(ExportError::BadRequest(format!(
                    "unknown parameter `{name}`; expected {}",
                    known.join(", ")
                )));
            }
            let repeated = pairs[..i].iter().any(|(earlier, _)| earlier == name);
            if repeated && name != "groupBy" {
                return Err(ExportError::BadRequest(format!(
                    "`{name}` is given more than once"
                )));
            }
        }
        Ok(Parsed(pairs))
    }

    fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn instant(&self, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ExportError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        time::parse(&text)
            .map(|parsed| Some(parsed.at.as_datetime()))
            .map_err(|err| ExportError::BadRequest(format!("`{name}`: {err}")))
    }

    fn credit(&self) -> Result<Option<bool>, ExportError> {
        match self.text("credit").as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ExportError::BadRequest(format!(
                "`credit` must be true or false, not {other:?}"
            ))),
        }
    }

    /// The CDR filter; `from` and `to` bound the CDRs' start.
    fn filter(&self, scope: Scope) -> Result<CdrFilter, ExportError> {
        Ok(CdrFilter {
            scope,
            party_id: self.text("partyId"),
            country_code: self.text("countryCode"),
            location_id: self.text("locationId"),
            session_id: self.text("sessionId"),
            currency: self.text("currency"),
            credit: self.credit()?,
            started: TimeRange {
                from: self.instant("from")?,
                to: self.instant("to")?,
            },
        })
    }

    fn billing(&self, scope: Scope) -> Result<BillingRequest, ExportError> {
        let required = |name: &str| {
            self.instant(name)?.ok_or_else(|| {
                ExportError::BadRequest(format!("`{name}` is required (an RFC 3339 instant)"))
            })
        };
        let (from, to) = (required("from")?, required("to")?);
        let mut group_by = Vec::new();
        let lists = self.0.iter().filter(|(n, _)| n == "groupBy");
        for name in lists
            .flat_map(|(_, v)| v.split(','))
            .filter(|n| !n.is_empty())
        {
            let group = GroupBy::parse(name).ok_or_else(|| {
                let names: Vec<&str> = GroupBy::ALL.iter().map(|g| g.name()).collect();
                ExportError::BadRequest(format!(
                    "unknown groupBy {name:?}; expected {}",
                    names.join(", ")
                ))
            })?;
            group_by.push(group);
        }
        Ok(BillingRequest {
            from,
            to,
            time_zone: self.text("timeZone").unwrap_or_else(|| "UTC".into()),
            group_by,
            filter: self.filter(scope)?,
        })
    }
}

// ---------------------------------------------------------------------------
// Rows

/// A page of CDRs and the row id to read the next page after, if any.
struct CdrPage {
    rows: Vec<cdr::Model>,
    next: Option<i64>,
}

/// The CSV text of the CDRs of `filter`, `page` rows a chunk. The first
/// page is read before the answer starts, so that a failing store is a 500
/// rather than a cut body.
async fn cdr_csv(
    store: Store,
    filter: CdrFilter,
    page: u64,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>>, StoreError> {
    let first = cdr_page(&store, &filter, None, page).await?;
    let head =
        stream::once(async move { csv_chunk(Some(&CDR_HEADER[..]), &first.rows, cdr_record) });
    Ok(head.chain(cdr_pages(store, filter, first.next, page)))
}

async fn cdr_page(
    store: &Store,
    filter: &CdrFilter,
    after: Option<i64>,
    page: u64,
) -> Result<CdrPage, StoreError> {
    let window = Window {
        after: after.map(|id| Position { key: Key::None, id }),
        before: None,
        size: page,
        from_end: false,
    };
    let mut rows = read::cdrs_page(store.db(), filter, &window).await?;
    let more = rows.len() as u64 > page;
    rows.truncate(page as usize);
    let next = more.then(|| rows.last().map(|r| r.id)).flatten();
    Ok(CdrPage { rows, next })
}

/// The pages after the first, one chunk each; a failing read ends the
/// body with an error, so the client sees a cut transfer, never a short file.
fn cdr_pages(
    store: Store,
    filter: CdrFilter,
    next: Option<i64>,
    page: u64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    stream::try_unfold(next, move |next| {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            let Some(after) = next else {
                return Ok(None);
            };
            let batch = cdr_page(&store, &filter, Some(after), page)
                .await
                .map_err(|err| {
                    tracing::error!(error = %err, "cdr export failed while streaming");
                    std::io::Error::other("cdr export failed")
                })?;
            let chunk = csv_chunk(None, &batch.rows, cdr_record)?;
            Ok(Some((chunk, batch.next)))
        }
    })
}

/// Writes an optional header and rows as CSV text.
fn csv_chunk<T>(
    header: Option<&[&str]>,
    rows: &[T],
    record: fn(&T) -> Vec<String>,
) -> Result<Bytes, std::io::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if let Some(header) = header {
        writer.write_record(header)?;
    }
    for row in rows {
        writer.write_record(record(row))?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|err| std::io::Error::other(err.to_string()))
}

fn instant(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| Timestamp::from_datetime(t).to_string())
        .unwrap_or_default()
}

/// Energy or time: every stored decimal.
fn amount(micros: Option<i64>) -> String {
    micros.map(|m| Micros(m).to_string()).unwrap_or_default()
}

/// Money: at most four decimals (see `domain::Money`).
fn money(amount: Option<Money>) -> String {
    amount.map(|m| m.to_string()).unwrap_or_default()
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

fn cdr_record(row: &cdr::Model) -> Vec<String> {
    let tariff_ids: Vec<String> = serde_json::from_str(&row.tariff_ids).unwrap_or_default();
    vec![
        row.country_code.clone(),
        row.party_id.clone(),
        row.ocpi_id.clone(),
        instant(row.start_date_time),
        instant(row.end_date_time),
        text(&row.session_id),
        text(&row.location_id),
        text(&row.evse_uid),
        text(&row.connector_id),
        text(&row.auth_id),
        text(&row.token_uid),
        text(&row.auth_method),
        text(&row.currency),
        amount(row.total_energy_micro),
        amount(row.total_time_micro),
        amount(row.total_parking_time_micro),
        money(Money::of(row.total_cost_micro)),
        money(Money::of(row.total_cost_incl_vat_micro)),
        tariff_ids.join(";"),
        row.credit.to_string(),
        text(&row.credit_reference_id),
        instant(row.last_updated),
    ]
}

fn billing_record(bucket: &Bucket) -> Vec<String> {
    let period = bucket.period.as_ref();
    vec![
        period.map(|p| p.label.clone()).unwrap_or_default(),
        instant(period.map(|p| p.start)),
        instant(period.map(|p| p.end)),
        text(&bucket.country_code),
        text(&bucket.party_id),
        text(&bucket.location_id),
        text(&bucket.evse_uid),
        bucket
            .tariff_ids
            .as_ref()
            .map(|ids| ids.join(";"))
            .unwrap_or_default(),
        text(&bucket.currency),
        bucket.cdrs.to_string(),
        bucket.credits.to_string(),
        bucket.energy.to_string(),
        bucket.time.to_string(),
        bucket.parking_time.to_string(),
        bucket.cost.to_string(),
        money(bucket.cost_incl_vat),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::cdrs::{insert, CdrRow};
    use crate::store::testdb::TestDb;

    /// A store over the test's own database (SQLite, or PostgreSQL when
    /// CHARGEGRAPH_TEST_DATABASE_URL names a server) holding `n` CDRs.
    async fn store_with_cdrs(n: usize) -> (TestDb, Store) {
        let db = TestDb::create().await;
        let store = db.store().await;
        for i in 1..=n {
            let row = CdrRow {
                country_code: "NL".into(),
                party_id: "GFX".into(),
                ocpi_id: format!("C{i}"),
                currency: Some("EUR".into()),
                total_cost_micro: Some(i as i64 * 1_250_000),
                received_at: chrono::DateTime::from_timestamp(1_714_550_400, 0).unwrap(),
                raw: "{}".into(),
                ..CdrRow::default()
            };
            insert(store.db(), row).await.unwrap();
        }
        (db, store)
    }

    #[tokio::test]
    async fn the_cdr_export_streams_page_after_page_in_row_order() {
        let (_db, store) = store_with_cdrs(5).await;
        let filter = CdrFilter::default();

        let body = cdr_csv(store, filter, 2).await.unwrap();
        let chunks: Vec<Bytes> = body.map(|c| c.unwrap()).collect().await;

        let text: Vec<String> = chunks
            .iter()
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let rows: Vec<&str> = text.iter().flat_map(|c| c.lines()).skip(1).collect();
        assert_eq!(chunks.len(), 3, "header and two rows, then two, then one");
        assert!(text[0].starts_with("country_code,party_id,cdr_id,"));
        assert_eq!(
            rows,
            [
                "NL,GFX,C1,,,,,,,,,,EUR,,,,1.25,,,false,,",
                "NL,GFX,C2,,,,,,,,,,EUR,,,,2.5,,,false,,",
                "NL,GFX,C3,,,,,,,,,,EUR,,,,3.75,,,false,,",
                "NL,GFX,C4,,,,,,,,,,EUR,,,,5,,,false,,",
                "NL,GFX,C5,,,,,,,,,,EUR,,,,6.25,,,false,,",
            ]
        );
    }
}
