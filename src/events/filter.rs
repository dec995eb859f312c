//! What one subscription selects, and the keys the fan-out indexes it under.

use std::fmt;
use std::sync::Arc;

use super::event::{Event, Kind, Kinds};
use crate::domain::party::key;
use crate::domain::Access;

/// Whether a status (as sent) is one a subscription asked for.
pub type StatusTest = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A subscription's selection; every given part must match. Ids are compared
/// case-insensitively, cities too.
#[derive(Clone)]
pub struct Filter {
    /// The kinds of event wanted.
    pub kinds: Kinds,
    /// The caller's read scope.
    pub access: Access,
    /// CPO country code.
    pub country_code: Option<String>,
    /// CPO party id.
    pub party_id: Option<String>,
    /// Any of these location ids.
    pub location_ids: Option<Vec<String>>,
    /// Any of these EVSE uids.
    pub evse_uids: Option<Vec<String>>,
    /// Any of these session ids.
    pub session_ids: Option<Vec<String>>,
    /// Only statuses that pass this test.
    pub statuses: Option<StatusTest>,
    /// The location's city.
    pub city: Option<String>,
    /// The location lies inside this box.
    pub area: Option<Area>,
}

/// A bounding box in degrees; `west > east` crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    /// Lowest latitude.
    pub south: f64,
    /// Lowest longitude (or, across the antimeridian, the western edge).
    pub west: f64,
    /// Highest latitude.
    pub north: f64,
    /// Highest longitude (or, across the antimeridian, the eastern edge).
    pub east: f64,
}

impl Area {
    /// Whether the point lies inside, edges included.
    pub fn contains(&self, (latitude, longitude): (f64, f64)) -> bool {
        let within_latitude = self.south <= latitude && latitude <= self.north;
        let within_longitude = if self.west <= self.east {
            self.west <= longitude && longitude <= self.east
        } else {
            longitude >= self.west || longitude <= self.east
        };
        within_latitude && within_longitude
    }
}

/// Where the fan-out files a subscription, so that an event is checked only
/// against the subscriptions that could want it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum IndexKey {
    Location(String),
    Evse(String),
    Session(String),
    Party(String),
    All,
}

impl Filter {
    /// Everything of these kinds the caller may read.
    pub fn new(kinds: Kinds, access: Access) -> Filter {
        Filter {
            kinds,
            access,
            country_code: None,
            party_id: None,
            location_ids: None,
            evse_uids: None,
            session_ids: None,
            statuses: None,
            city: None,
            area: None,
        }
    }

    /// Every event of every kind, for tests and tools.
    pub fn everything() -> Filter {
        Filter::new(Kinds::of(&Kind::ALL), Access::full())
    }

    /// Whether the subscription wants this event.
    pub fn matches(&self, event: &Event) -> bool {
        self.kinds.contains(event.kind) && self.in_scope(event) && self.selects(event)
    }

    /// The same filter without its city and area, for a subscriber that must
    /// also see what leaves the area.
    pub fn without_place(&self) -> Filter {
        Filter {
            city: None,
            area: None,
            ..self.clone()
        }
    }

    /// Whether the place parts (city, area) hold for a location there.
    pub fn place_matches(&self, city: Option<&str>, coordinates: Option<(f64, f64)>) -> bool {
        let city_ok = self.city.as_deref().is_none_or(|want| {
            city.is_some_and(|have| have.trim().eq_ignore_ascii_case(want.trim()))
        });
        let area_ok = self
            .area
            .is_none_or(|area| coordinates.is_some_and(|point| area.contains(point)));
        city_ok && area_ok
    }

    /// Whether the filter's parts hold for an object with these ids (as sent).
    pub fn ids_match(&self, ids: &Ids<'_>) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref()
                .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        let listed = |want: &Option<Vec<String>>, have: Option<&str>| {
            want.as_ref().is_none_or(|list| {
                have.is_some_and(|h| list.iter().any(|w| w.eq_ignore_ascii_case(h)))
            })
        };
        self.access.may_read(ids.country_code, ids.party_id)
            && same(&self.country_code, Some(ids.country_code))
            && same(&self.party_id, Some(ids.party_id))
            && listed(&self.location_ids, ids.location_id)
            && listed(&self.evse_uids, ids.evse_uid)
            && listed(&self.session_ids, ids.session_id)
            && self
                .statuses
                .as_ref()
                .is_none_or(|test| ids.status.is_some_and(|s| test(s)))
    }

    fn in_scope(&self, event: &Event) -> bool {
        match (&event.country_code, &event.party_id) {
            (Some(cc), Some(party)) => self.access.may_read(cc, party),
            _ => self.access.parties().is_none(),
        }
    }

    fn selects(&self, event: &Event) -> bool {
        let facts = &event.facts;
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref()
                .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        // Facts hold keys (upper-cased); the filter's lists are keys too.
        let listed = |want: &Option<Vec<String>>, have: &Option<String>| {
            want.as_ref()
                .is_none_or(|list| have.as_ref().is_some_and(|h| list.contains(h)))
        };
        same(&self.country_code, event.country_code.as_deref())
            && same(&self.party_id, event.party_id.as_deref())
            && listed(&self.location_ids, &facts.location_id)
            && listed(&self.evse_uids, &facts.evse_uid)
            && listed(&self.session_ids, &facts.session_id)
            && self
                .statuses
                .as_ref()
                .is_none_or(|test| facts.status.as_deref().is_some_and(|s| test(s)))
            && self.place_matches(facts.city.as_deref(), facts.coordinates)
    }

    /// Upper-cases the id lists so that matching compares keys.
    pub fn normalized(mut self) -> Filter {
        let keys = |list: Option<Vec<String>>| list.map(|l| l.iter().map(|s| key(s)).collect());
        self.location_ids = keys(self.location_ids);
        self.evse_uids = keys(self.evse_uids);
        self.session_ids = keys(self.session_ids);
        self
    }

    /// The narrowest index that still finds every event this filter wants.
    pub(crate) fn index_keys(&self) -> Vec<IndexKey> {
        let each = |list: &Vec<String>, make: fn(String) -> IndexKey| {
            list.iter().cloned().map(make).collect()
        };
        if let Some(list) = &self.location_ids {
            each(list, IndexKey::Location)
        } else if let Some(list) = &self.evse_uids {
            each(list, IndexKey::Evse)
        } else if let Some(list) = &self.session_ids {
            each(list, IndexKey::Session)
        } else if let Some(party) = &self.party_id {
            vec![IndexKey::Party(key(party))]
        } else {
            vec![IndexKey::All]
        }
    }
}

/// The ids of a stored object, for checking a snapshot row against a filter.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ids<'a> {
    /// Country code.
    pub country_code: &'a str,
    /// Party id.
    pub party_id: &'a str,
    /// Location id.
    pub location_id: Option<&'a str>,
    /// EVSE uid.
    pub evse_uid: Option<&'a str>,
    /// Session id.
    pub session_id: Option<&'a str>,
    /// EVSE or session status.
    pub status: Option<&'a str>,
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("kinds", &self.kinds)
            .field("access", &self.access)
            .field("country_code", &self.country_code)
            .field("party_id", &self.party_id)
            .field("location_ids", &self.location_ids)
            .field("evse_uids", &self.evse_uids)
            .field("session_ids", &self.session_ids)
            .field("statuses", &self.statuses.is_some())
            .field("city", &self.city)
            .field("area", &self.area)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::domain::Party;
    use crate::events::event::Facts;

    fn status_event(payload: serde_json::Value) -> Event {
        Event {
            seq: 1,
            kind: Kind::EvseStatusChanged,
            created_at: chrono::Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap(),
            country_code: Some("NL".into()),
            party_id: Some("GFX".into()),
            location_pk: Some(3),
            evse_pk: Some(4),
            session_pk: None,
            facts: Facts::read(Kind::EvseStatusChanged, &payload),
            payload,
        }
    }

    fn gent_charging() -> Event {
        status_event(json!({
            "location_id": "LOC1", "evse_uid": "E1", "status": "CHARGING",
            "city": "Gent", "latitude": 51.047599, "longitude": 3.729944
        }))
    }

    fn statuses(wanted: &'static [&'static str]) -> Option<StatusTest> {
        Some(Arc::new(move |s: &str| wanted.contains(&s)))
    }

    #[test]
    fn each_part_narrows_and_ids_compare_case_insensitively() {
        let event = gent_charging();
        let all = Filter::new(Kinds::of(&[Kind::EvseStatusChanged]), Access::full());
        let cases = [
            (all.clone(), true),
            (
                Filter {
                    party_id: Some("gfx".into()),
                    ..all.clone()
                },
                true,
            ),
            (
                Filter {
                    party_id: Some("BEC".into()),
                    ..all.clone()
                },
                false,
            ),
            (
                Filter {
                    location_ids: Some(vec!["loc2".into(), "loc1".into()]),
                    ..all.clone()
                }
                .normalized(),
                true,
            ),
            (
                Filter {
                    location_ids: Some(vec!["LOC2".into()]),
                    ..all.clone()
                },
                false,
            ),
            (
                Filter {
                    evse_uids: Some(vec!["e1".into()]),
                    ..all.clone()
                }
                .normalized(),
                true,
            ),
            (
                Filter {
                    statuses: statuses(&["AVAILABLE"]),
                    ..all.clone()
                },
                false,
            ),
            (
                Filter {
                    statuses: statuses(&["CHARGING"]),
                    ..all.clone()
                },
                true,
            ),
            (
                Filter {
                    city: Some(" gent".into()),
                    ..all.clone()
                },
                true,
            ),
            (
                Filter {
                    city: Some("Brugge".into()),
                    ..all.clone()
                },
                false,
            ),
            (
                Filter {
                    session_ids: Some(vec!["S1".into()]),
                    ..all.clone()
                },
                false,
            ),
            (
                Filter {
                    kinds: Kinds::of(&[Kind::SessionUpdated]),
                    ..all.clone()
                },
                false,
            ),
        ];
        for (n, (filter, want)) in cases.into_iter().enumerate() {
            assert_eq!(filter.matches(&event), want, "case {n}: {filter:?}");
        }
    }

    #[test]
    fn area_holds_points_inside_and_wraps_across_the_antimeridian() {
        let event = gent_charging();
        let belgium = Area {
            south: 50.6,
            west: 2.5,
            north: 51.5,
            east: 6.4,
        };
        let nl_north = Area {
            south: 52.0,
            west: 4.0,
            north: 53.5,
            east: 7.2,
        };
        let all = Filter::new(Kinds::of(&[Kind::EvseStatusChanged]), Access::full());
        assert!(Filter {
            area: Some(belgium),
            ..all.clone()
        }
        .matches(&event));
        assert!(!Filter {
            area: Some(nl_north),
            ..all.clone()
        }
        .matches(&event));
        let pacific = Area {
            south: -20.0,
            west: 170.0,
            north: 0.0,
            east: -170.0,
        };
        assert!(pacific.contains((-10.0, 179.5)));
        assert!(pacific.contains((-10.0, -175.0)));
        assert!(!pacific.contains((-10.0, 0.0)));
        let nowhere = status_event(json!({"location_id": "LOC1", "status": "CHARGING"}));
        assert!(!Filter {
            area: Some(belgium),
            ..all
        }
        .matches(&nowhere));
    }

    #[test]
    fn access_scope_hides_other_parties() {
        let event = gent_charging();
        let kinds = Kinds::of(&[Kind::EvseStatusChanged]);
        let theirs = Filter::new(kinds, Access::scoped(vec![Party::new("BE", "BEC")], false));
        let ours = Filter::new(kinds, Access::scoped(vec![Party::new("nl", "gfx")], false));
        assert!(!theirs.matches(&event));
        assert!(ours.matches(&event));
    }

    #[test]
    fn the_narrowest_index_is_chosen() {
        let all = Filter::everything();
        assert_eq!(all.index_keys(), [IndexKey::All]);
        let by_party = Filter {
            party_id: Some("gfx".into()),
            ..all.clone()
        };
        assert_eq!(by_party.index_keys(), [IndexKey::Party("GFX".into())]);
        let by_location = Filter {
            location_ids: Some(vec!["a".into(), "b".into()]),
            ..by_party
        }
        .normalized();
        assert_eq!(
            by_location.index_keys(),
            [
                IndexKey::Location("A".into()),
                IndexKey::Location("B".into())
            ]
        );
    }
}
