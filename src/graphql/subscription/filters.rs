//! Subscription filter inputs, and their translation into the fan-out's
//! `events::Filter` and the snapshot queries' `Narrow`.

use std::sync::Arc;

use async_graphql::{InputObject, Result};

use crate::domain::Access;
use crate::events::{Area, Filter, Kind, Kinds, StatusTest};
use crate::graphql::error::bad_user_input;
use crate::graphql::scalars::EvseStatus;
use crate::store::read::Scope;
use crate::store::snapshot::Narrow;

/// A box of coordinates in decimal degrees; `west` greater than `east` crosses the antimeridian.
#[derive(InputObject, Debug, Clone, Copy, PartialEq)]
pub struct FeedBoundingBox {
    /// Southern edge, -90 to 90.
    pub south: f64,
    /// Western edge, -180 to 180.
    pub west: f64,
    /// Northern edge, -90 to 90, not below `south`.
    pub north: f64,
    /// Eastern edge, -180 to 180.
    pub east: f64,
}

impl FeedBoundingBox {
    fn area(self) -> Result<Area> {
        let latitude = |v: f64| (-90.0..=90.0).contains(&v);
        let longitude = |v: f64| (-180.0..=180.0).contains(&v);
        let valid = latitude(self.south)
            && latitude(self.north)
            && longitude(self.west)
            && longitude(self.east)
            && self.south <= self.north;
        if !valid {
            return Err(bad_user_input(
                "boundingBox: latitudes within -90..90 with south <= north, longitudes within -180..180",
            ));
        }
        Ok(Area {
            south: self.south,
            west: self.west,
            north: self.north,
            east: self.east,
        })
    }
}

/// What `evseStatusChanged` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct EvseStatusChangedFilter {
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// The CPO's location id, case-insensitive.
    pub location_id: Option<String>,
    /// Any of these location ids, case-insensitive.
    pub location_ids: Option<Vec<String>>,
    /// The CPO's EVSE uid, case-insensitive.
    pub evse_uid: Option<String>,
    /// Only changes to one of these statuses.
    pub statuses: Option<Vec<EvseStatus>>,
    /// The location's city, case-insensitive.
    pub city: Option<String>,
    /// The location lies inside this box.
    pub bounding_box: Option<FeedBoundingBox>,
}

/// What `statusSummaryChanged` counts; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct StatusSummaryChangedFilter {
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// The CPO's location id, case-insensitive.
    pub location_id: Option<String>,
    /// Any of these location ids, case-insensitive.
    pub location_ids: Option<Vec<String>>,
    /// The location's city, case-insensitive.
    pub city: Option<String>,
    /// The location lies inside this box.
    pub bounding_box: Option<FeedBoundingBox>,
}

/// What `locationChanged` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct LocationChangedFilter {
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// The CPO's location id, case-insensitive.
    pub location_id: Option<String>,
    /// Any of these location ids, case-insensitive.
    pub location_ids: Option<Vec<String>>,
    /// The location's city, case-insensitive.
    pub city: Option<String>,
    /// The location lies inside this box.
    pub bounding_box: Option<FeedBoundingBox>,
}

/// What `sessionUpdated` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct SessionUpdatedFilter {
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// The CPO's session id, case-insensitive.
    pub session_id: Option<String>,
    /// The CPO's location id, case-insensitive.
    pub location_id: Option<String>,
    /// Any of these location ids, case-insensitive.
    pub location_ids: Option<Vec<String>>,
    /// The CPO's EVSE uid, case-insensitive.
    pub evse_uid: Option<String>,
    /// Only sessions with one of these statuses (ACTIVE, COMPLETED, ...), case-insensitive.
    pub statuses: Option<Vec<String>>,
    /// The location's city, case-insensitive.
    pub city: Option<String>,
    /// The location lies inside this box.
    pub bounding_box: Option<FeedBoundingBox>,
}

/// What `cdrReceived` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct CdrReceivedFilter {
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// The CPO's session id, case-insensitive.
    pub session_id: Option<String>,
    /// The CPO's location id, case-insensitive.
    pub location_id: Option<String>,
    /// Any of these location ids, case-insensitive.
    pub location_ids: Option<Vec<String>>,
    /// The CPO's EVSE uid, case-insensitive.
    pub evse_uid: Option<String>,
    /// The location's city, case-insensitive.
    pub city: Option<String>,
    /// The location lies inside this box.
    pub bounding_box: Option<FeedBoundingBox>,
}

/// What `notificationReceived` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct NotificationReceivedFilter {
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// The location id the notification names, case-insensitive.
    pub location_id: Option<String>,
    /// Any of these location ids, case-insensitive.
    pub location_ids: Option<Vec<String>>,
    /// The location's city, case-insensitive (only notifications of a known location match).
    pub city: Option<String>,
    /// The location lies inside this box (only notifications of a known location match).
    pub bounding_box: Option<FeedBoundingBox>,
}

/// The parts of any of the filters above.
#[derive(Default)]
pub struct Parts {
    country_code: Option<String>,
    party_id: Option<String>,
    location_ids: Option<Vec<String>>,
    evse_uids: Option<Vec<String>>,
    session_ids: Option<Vec<String>>,
    statuses: Option<StatusTest>,
    city: Option<String>,
    area: Option<Area>,
}

/// `locationId` and `locationIds` together select either.
fn locations(one: Option<String>, many: Option<Vec<String>>) -> Option<Vec<String>> {
    match (one, many) {
        (None, None) => None,
        (one, many) => Some(many.unwrap_or_default().into_iter().chain(one).collect()),
    }
}

fn area(bounding_box: Option<FeedBoundingBox>) -> Result<Option<Area>> {
    bounding_box.map(FeedBoundingBox::area).transpose()
}

fn evse_statuses(statuses: Option<Vec<EvseStatus>>) -> Option<StatusTest> {
    statuses.map(|wanted| {
        let test: StatusTest = Arc::new(move |raw| wanted.contains(&EvseStatus::from_raw(raw)));
        test
    })
}

fn text_statuses(statuses: Option<Vec<String>>) -> Option<StatusTest> {
    statuses.map(|wanted| {
        let test: StatusTest =
            Arc::new(move |raw| wanted.iter().any(|w| w.eq_ignore_ascii_case(raw)));
        test
    })
}

impl Parts {
    /// The fan-out filter for these kinds within the caller's scope.
    pub fn filter(&self, kinds: &[Kind], access: &Access) -> Filter {
        Filter {
            country_code: self.country_code.clone(),
            party_id: self.party_id.clone(),
            location_ids: self.location_ids.clone(),
            evse_uids: self.evse_uids.clone(),
            session_ids: self.session_ids.clone(),
            statuses: self.statuses.clone(),
            city: self.city.clone(),
            area: self.area,
            ..Filter::new(Kinds::of(kinds), access.clone())
        }
        .normalized()
    }

    /// What the snapshot query narrows by, the caller's parties included,
    /// so that a capped snapshot is the first rows the caller may read.
    pub fn narrow(&self, access: &Access) -> Narrow {
        Narrow {
            scope: Scope::of(access.parties()),
            country_code: self.country_code.clone(),
            party_id: self.party_id.clone(),
            location_ids: self.location_ids.clone(),
            evse_uids: self.evse_uids.clone(),
            session_ids: self.session_ids.clone(),
        }
    }
}

impl EvseStatusChangedFilter {
    pub fn parts(self) -> Result<Parts> {
        Ok(Parts {
            area: area(self.bounding_box)?,
            country_code: self.country_code,
            party_id: self.party_id,
            location_ids: locations(self.location_id, self.location_ids),
            evse_uids: self.evse_uid.map(|u| vec![u]),
            statuses: evse_statuses(self.statuses),
            city: self.city,
            ..Parts::default()
        })
    }
}

impl StatusSummaryChangedFilter {
    pub fn parts(self) -> Result<Parts> {
        Ok(Parts {
            area: area(self.bounding_box)?,
            country_code: self.country_code,
            party_id: self.party_id,
            location_ids: locations(self.location_id, self.location_ids),
            city: self.city,
            ..Parts::default()
        })
    }
}

impl LocationChangedFilter {
    pub fn parts(self) -> Result<Parts> {
        Ok(Parts {
            area: area(self.bounding_box)?,
            country_code: self.country_code,
            party_id: self.party_id,
            location_ids: locations(self.location_id, self.location_ids),
            city: self.city,
            ..Parts::default()
        })
    }
}

impl SessionUpdatedFilter {
    pub fn parts(self) -> Result<Parts> {
        Ok(Parts {
            area: area(self.bounding_box)?,
            country_code: self.country_code,
            party_id: self.party_id,
            location_ids: locations(self.location_id, self.location_ids),
            evse_uids: self.evse_uid.map(|u| vec![u]),
            session_ids: self.session_id.map(|s| vec![s]),
            statuses: text_statuses(self.statuses),
            city: self.city,
        })
    }
}

impl CdrReceivedFilter {
    pub fn parts(self) -> Result<Parts> {
        Ok(Parts {
            area: area(self.bounding_box)?,
            country_code: self.country_code,
            party_id: self.party_id,
            location_ids: locations(self.location_id, self.location_ids),
            evse_uids: self.evse_uid.map(|u| vec![u]),
            session_ids: self.session_id.map(|s| vec![s]),
            city: self.city,
            ..Parts::default()
        })
    }
}

impl NotificationReceivedFilter {
    pub fn parts(self) -> Result<Parts> {
        Ok(Parts {
            area: area(self.bounding_box)?,
            country_code: self.country_code,
            party_id: self.party_id,
            location_ids: locations(self.location_id, self.location_ids),
            city: self.city,
            ..Parts::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_id_and_ids_select_either_and_boxes_are_checked() {
        let filter = EvseStatusChangedFilter {
            location_id: Some("L3".into()),
            location_ids: Some(vec!["l1".into(), "L2".into()]),
            ..Default::default()
        };
        let parts = filter.parts().unwrap();
        assert_eq!(
            parts
                .filter(&[Kind::EvseStatusChanged], &Access::full())
                .location_ids,
            Some(vec!["L1".to_owned(), "L2".to_owned(), "L3".to_owned()])
        );
        let upside_down = FeedBoundingBox {
            south: 52.0,
            west: 4.0,
            north: 51.0,
            east: 5.0,
        };
        let filter = LocationChangedFilter {
            bounding_box: Some(upside_down),
            ..Default::default()
        };
        assert!(filter.parts().is_err());
    }
}
