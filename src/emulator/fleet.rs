//! The emulated fleet: Dutch and Belgian locations with GreenFlux-like ids,
//! AC stations of two 22 kW Type 2 sockets and DC chargers of 50 to 150 kW.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::model::{Connector, Evse, EvseStatus, Location};
use super::tariff;
use crate::domain::Party;

/// A city: name, ISO alpha-3 country, centre, postal code prefix.
struct City {
    name: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    postal: &'static str,
}

const fn city(
    name: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    postal: &'static str,
) -> City {
    City {
        name,
        country,
        lat,
        lon,
        postal,
    }
}

const CITIES: &[City] = &[
    city("Amsterdam", "NLD", 52.3702, 4.8952, "10"),
    city("Rotterdam", "NLD", 51.9244, 4.4777, "30"),
    city("Utrecht", "NLD", 52.0907, 5.1214, "35"),
    city("Den Haag", "NLD", 52.0705, 4.3007, "25"),
    city("Eindhoven", "NLD", 51.4416, 5.4697, "56"),
    city("Groningen", "NLD", 53.2194, 6.5665, "97"),
    city("Arnhem", "NLD", 51.9851, 5.8987, "68"),
    city("Haarlem", "NLD", 52.3874, 4.6462, "20"),
    city("Amersfoort", "NLD", 52.1561, 5.3878, "38"),
    city("Breda", "NLD", 51.5719, 4.7683, "48"),
    city("Nijmegen", "NLD", 51.8126, 5.8372, "65"),
    city("Zwolle", "NLD", 52.5168, 6.0830, "80"),
    city("Leiden", "NLD", 52.1601, 4.4970, "23"),
    city("Maastricht", "NLD", 50.8514, 5.6910, "62"),
    city("Antwerpen", "BEL", 51.2194, 4.4025, "2000"),
    city("Gent", "BEL", 51.0543, 3.7174, "9000"),
    city("Brussel", "BEL", 50.8503, 4.3517, "1000"),
    city("Leuven", "BEL", 50.8798, 4.7005, "3000"),
    city("Brugge", "BEL", 51.2093, 3.2247, "8000"),
    city("Mechelen", "BEL", 51.0259, 4.4776, "2800"),
    city("Hasselt", "BEL", 50.9307, 5.3325, "3500"),
    city("Namur", "BEL", 50.4674, 4.8720, "5000"),
];

const NL_STREETS: &[&str] = &[
    "Stationsplein",
    "Kerkstraat",
    "Hoofdstraat",
    "Marktplein",
    "Parkweg",
    "Schoolstraat",
    "Molenweg",
    "Julianalaan",
    "Beatrixlaan",
    "Wilhelminastraat",
    "Kanaalweg",
    "Industrieweg",
];

const BE_STREETS: &[&str] = &[
    "Stationsstraat",
    "Kerkstraat",
    "Grote Markt",
    "Nieuwstraat",
    "Molenstraat",
    "Kouter",
    "Koningin Astridlaan",
    "Leopoldlaan",
    "Brusselsesteenweg",
    "Industrieweg",
];

const PLACES: &[&str] = &[
    "Centrum",
    "Station",
    "Zuid",
    "Noord",
    "Oost",
    "West",
    "Ziekenhuis",
    "Sportpark",
    "Winkelcentrum",
    "P+R",
    "Bedrijventerrein",
    "Universiteit",
];

/// Builds `count` locations; about `dc_share` of them are DC fast chargers.
pub fn generate(
    rng: &mut StdRng,
    party: &Party,
    count: usize,
    dc_share: f64,
    at: DateTime<Utc>,
) -> Vec<Location> {
    let mut stations = StationNumbers::default();
    (0..count)
        .map(|_| {
            let dc = rng.gen_bool(dc_share.clamp(0.0, 1.0));
            let mut location = place(rng, dc, at);
            location.evses = if dc {
                dc_evses(rng, party, &mut stations, at)
            } else {
                ac_evses(rng, party, &mut stations, at)
            };
            location
        })
        .collect()
}

/// A location without EVSEs, somewhere in a Dutch or Belgian city.
fn place(rng: &mut StdRng, dc: bool, at: DateTime<Utc>) -> Location {
    let city = CITIES.choose(rng).unwrap_or(&CITIES[0]);
    let belgian = city.country == "BEL";
    let streets = if belgian { BE_STREETS } else { NL_STREETS };
    let street = streets.choose(rng).copied().unwrap_or("Kerkstraat");
    let number = rng.gen_range(1..=240);
    let postal_code = if belgian {
        city.postal.to_owned()
    } else {
        let letters: String = (0..2).map(|_| rng.gen_range(b'A'..=b'Z') as char).collect();
        format!("{}{:02}{letters}", city.postal, rng.gen_range(0..100))
    };
    let latitude = city.lat + rng.gen_range(-0.03..0.03);
    let longitude = city.lon + rng.gen_range(-0.045..0.045);
    let kinds: &[&str] = if dc {
        &["PARKING_LOT", "ON_STREET"]
    } else {
        &["ON_STREET", "ON_STREET", "PARKING_LOT", "PARKING_GARAGE"]
    };
    let place = PLACES.choose(rng).copied().unwrap_or("Centrum");
    Location {
        id: uuid::Builder::from_random_bytes(rng.gen())
            .into_uuid()
            .to_string(),
        name: format!("{} {place}", city.name),
        address: format!("{street} {number}"),
        city: city.name.to_owned(),
        postal_code,
        country: city.country.to_owned(),
        latitude: format!("{latitude:.6}"),
        longitude: format!("{longitude:.6}"),
        location_type: kinds.choose(rng).copied().unwrap_or("ON_STREET").to_owned(),
        time_zone: if belgian {
            "Europe/Brussels"
        } else {
            "Europe/Amsterdam"
        }
        .to_owned(),
        operator: "Chargegraph Emulated CPO".to_owned(),
        evses: Vec::new(),
        last_updated: at,
    }
}

/// Unique seven-digit charge station numbers.
#[derive(Default)]
struct StationNumbers(HashSet<u32>);

impl StationNumbers {
    fn next(&mut self, rng: &mut StdRng) -> String {
        loop {
            let n = rng.gen_range(100_000..10_000_000);
            if self.0.insert(n) {
                return format!("{n:07}");
            }
        }
    }
}

/// One to three AC stations, each with two 22 kW Type 2 sockets.
fn ac_evses(
    rng: &mut StdRng,
    party: &Party,
    stations: &mut StationNumbers,
    at: DateTime<Utc>,
) -> Vec<Evse> {
    let mut evses = Vec::new();
    for _ in 0..rng.gen_range(1..=3) {
        let station = stations.next(rng);
        for n in 1..=2 {
            let socket = connector(
                "1",
                "IEC_62196_T2",
                "SOCKET",
                "AC_3_PHASE",
                230,
                32,
                22_000,
                tariff::AC,
                at,
            );
            evses.push(evse(party, &station, n, vec![socket], at));
        }
    }
    evses
}

/// One or two DC stations: a 50 kW one with CCS and CHAdeMO cables on one
/// EVSE, or a 100 or 150 kW one with two CCS EVSEs.
fn dc_evses(
    rng: &mut StdRng,
    party: &Party,
    stations: &mut StationNumbers,
    at: DateTime<Utc>,
) -> Vec<Evse> {
    let mut evses = Vec::new();
    for _ in 0..rng.gen_range(1..=2) {
        let station = stations.next(rng);
        match rng.gen_range(0..3) {
            0 => {
                let ccs = connector(
                    "1",
                    "IEC_62196_T2_COMBO",
                    "CABLE",
                    "DC",
                    400,
                    125,
                    50_000,
                    tariff::DC,
                    at,
                );
                let chademo = connector(
                    "2",
                    "CHADEMO",
                    "CABLE",
                    "DC",
                    500,
                    100,
                    50_000,
                    tariff::DC,
                    at,
                );
                evses.push(evse(party, &station, 1, vec![ccs, chademo], at));
            }
            kind => {
                let (volts, amps, watts) = if kind == 1 {
                    (500, 200, 100_000)
                } else {
                    (750, 200, 150_000)
                };
                for n in 1..=2 {
                    let ccs = connector(
                        "1",
                        "IEC_62196_T2_COMBO",
                        "CABLE",
                        "DC",
                        volts,
                        amps,
                        watts,
                        tariff::HPC,
                        at,
                    );
                    evses.push(evse(party, &station, n, vec![ccs], at));
                }
            }
        }
    }
    evses
}

fn evse(
    party: &Party,
    station: &str,
    n: u32,
    connectors: Vec<Connector>,
    at: DateTime<Utc>,
) -> Evse {
    let (cc, pty) = (&party.country_code, &party.party_id);
    Evse {
        uid: format!("{cc}-{pty}-E{station}-{n}"),
        evse_id: format!("{cc}*{pty}*E{station}*{n}"),
        station_id: station.to_owned(),
        station_connector: n,
        status: EvseStatus::Available,
        capabilities: vec!["RFID_READER".into(), "REMOTE_START_STOP_CAPABLE".into()],
        connectors,
        last_updated: at,
    }
}

#[allow(clippy::too_many_arguments)]
fn connector(
    id: &str,
    standard: &str,
    format: &str,
    power_type: &str,
    voltage: u32,
    amperage: u32,
    max_electric_power: u32,
    tariff_id: &str,
    at: DateTime<Utc>,
) -> Connector {
    Connector {
        id: id.to_owned(),
        standard: standard.to_owned(),
        format: format.to_owned(),
        power_type: power_type.to_owned(),
        voltage,
        amperage,
        max_electric_power,
        tariff_id: tariff_id.to_owned(),
        last_updated: at,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn ids_look_like_greenflux_ids_and_are_unique() {
        let mut rng = StdRng::seed_from_u64(1);
        let party = Party::new("NL", "GFX");
        let fleet = generate(&mut rng, &party, 40, 0.3, DateTime::UNIX_EPOCH);
        let mut uids = HashSet::new();
        for location in &fleet {
            assert_eq!(location.id.len(), 36, "{}", location.id);
            assert_eq!(location.id.matches('-').count(), 4);
            assert!(!location.evses.is_empty());
            for evse in &location.evses {
                // NL-GFX-E0123456-1
                let parts: Vec<&str> = evse.uid.split('-').collect();
                assert_eq!(parts.len(), 4, "{}", evse.uid);
                assert_eq!(parts[..2], ["NL", "GFX"]);
                assert_eq!(parts[2].len(), 8);
                assert!(parts[2].starts_with('E'));
                assert_eq!(evse.evse_id, evse.uid.replace('-', "*"));
                assert!(uids.insert(evse.uid.clone()), "duplicate {}", evse.uid);
            }
        }
        let dc = fleet.iter().filter(|l| l.evses[0].is_dc()).count();
        assert!((5..=20).contains(&dc), "{dc} DC locations of 40");
    }

    #[test]
    fn the_same_seed_builds_the_same_fleet() {
        let party = Party::new("BE", "EMU");
        let build = || {
            generate(
                &mut StdRng::seed_from_u64(9),
                &party,
                5,
                0.5,
                DateTime::UNIX_EPOCH,
            )
        };
        assert_eq!(build(), build());
    }

    #[test]
    fn connector_powers_match_their_volts_and_amperes() {
        let mut rng = StdRng::seed_from_u64(3);
        let fleet = generate(
            &mut rng,
            &Party::new("NL", "EMU"),
            30,
            0.5,
            DateTime::UNIX_EPOCH,
        );
        for connector in fleet
            .iter()
            .flat_map(|l| &l.evses)
            .flat_map(|e| &e.connectors)
        {
            let phases = if connector.power_type == "AC_3_PHASE" {
                3
            } else {
                1
            };
            let watts = connector.voltage * connector.amperage * phases;
            // 230 V x 32 A x 3 = 22,080 W is sold as 22 kW.
            assert!(
                watts.abs_diff(connector.max_electric_power) <= 80,
                "{connector:?}"
            );
        }
    }
}
