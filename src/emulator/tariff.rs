//! The emulator's own price model: a price per kWh, per hour of charging and
//! per hour of parking after the battery is full, in EUR with 21 % VAT.
//!
//! OCPI sets no rounding rules (ocpi/ocpi #401); this model rounds each cost
//! component to cents, half away from zero, and adds VAT to the rounded total.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

/// A tariff of the emulated CPO.
#[derive(Debug, Clone, PartialEq)]
pub struct Tariff {
    /// The CPO's tariff id.
    pub id: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Price per kWh, excluding VAT.
    pub energy_per_kwh: Decimal,
    /// Price per hour of charging (TIME), excluding VAT.
    pub time_per_hour: Decimal,
    /// Price per hour parked after charging ended (PARKING_TIME), excluding VAT.
    pub parking_per_hour: Decimal,
    /// VAT percentage added to the total.
    pub vat_percent: Decimal,
    /// When the CPO last changed it.
    pub last_updated: DateTime<Utc>,
}

/// What a session used, in the units a CDR bills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Energy, kWh.
    pub energy_kwh: Decimal,
    /// Hours charging (the session's time less its parking time).
    pub charging_hours: Decimal,
    /// Hours parked after the battery was full.
    pub parking_hours: Decimal,
}

/// A session's costs under a tariff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Price {
    /// Energy cost, excluding VAT.
    pub energy_cost: Decimal,
    /// Charging time cost, excluding VAT.
    pub time_cost: Decimal,
    /// Parking time cost, excluding VAT.
    pub parking_cost: Decimal,
    /// Sum of the components, excluding VAT.
    pub total_excl_vat: Decimal,
    /// The VAT on that sum.
    pub total_vat: Decimal,
    /// The total including VAT.
    pub total_incl_vat: Decimal,
}

/// Rounds money to cents, half away from zero.
fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl Tariff {
    /// The costs of `usage` under this tariff.
    pub fn price(&self, usage: &Usage) -> Price {
        let energy_cost = cents(self.energy_per_kwh * usage.energy_kwh);
        let time_cost = cents(self.time_per_hour * usage.charging_hours);
        let parking_cost = cents(self.parking_per_hour * usage.parking_hours);
        let total_excl_vat = energy_cost + time_cost + parking_cost;
        let total_incl_vat = cents(
            total_excl_vat * (Decimal::ONE_HUNDRED + self.vat_percent) / Decimal::ONE_HUNDRED,
        );
        Price {
            energy_cost,
            time_cost,
            parking_cost,
            total_excl_vat,
            total_vat: total_incl_vat - total_excl_vat,
            total_incl_vat,
        }
    }
}

/// The emulated CPO's tariffs: AC, DC up to 50 kW, and high-power DC.
pub fn standard_tariffs(at: DateTime<Utc>) -> Vec<Tariff> {
    let tariff = |id: &str, energy: i64, time: i64, parking: i64| Tariff {
        id: id.to_owned(),
        currency: "EUR".to_owned(),
        energy_per_kwh: Decimal::new(energy, 2),
        time_per_hour: Decimal::new(time, 2),
        parking_per_hour: Decimal::new(parking, 2),
        vat_percent: Decimal::new(21, 0),
        last_updated: at,
    };
    vec![
        tariff(AC, 35, 0, 120),
        tariff(DC, 49, 240, 0),
        tariff(HPC, 69, 0, 1200),
    ]
}

/// Id of the AC tariff.
pub const AC: &str = "AC22";
/// Id of the DC tariff (up to 50 kW).
pub const DC: &str = "DC50";
/// Id of the high-power DC tariff.
pub const HPC: &str = "HPC";

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn tariffs() -> Vec<Tariff> {
        standard_tariffs(DateTime::UNIX_EPOCH)
    }

    #[test]
    fn an_ac_session_with_parking_is_priced_to_the_cent() {
        // GreenFlux's example CDR: 10.363 kWh over 0.8981 h, here with 0.25 h parked.
        let usage = Usage {
            energy_kwh: dec("10.363"),
            charging_hours: dec("0.6481"),
            parking_hours: dec("0.25"),
        };
        let price = tariffs()[0].price(&usage);
        assert_eq!(
            price,
            Price {
                // 10.363 x 0.35 = 3.62705
                energy_cost: dec("3.63"),
                time_cost: dec("0"),
                // 0.25 x 1.20
                parking_cost: dec("0.30"),
                total_excl_vat: dec("3.93"),
                // 3.93 x 1.21 = 4.7553
                total_vat: dec("0.83"),
                total_incl_vat: dec("4.76"),
            }
        );
    }

    #[test]
    fn a_dc_session_pays_for_its_charging_time() {
        let usage = Usage {
            energy_kwh: dec("31.115"),
            charging_hours: dec("0.5417"),
            parking_hours: dec("0"),
        };
        let price = tariffs()[1].price(&usage);
        // 31.115 x 0.49 = 15.24635; 0.5417 x 2.40 = 1.30008
        assert_eq!(price.energy_cost, dec("15.25"));
        assert_eq!(price.time_cost, dec("1.30"));
        assert_eq!(price.total_excl_vat, dec("16.55"));
        // 16.55 x 1.21 = 20.0255
        assert_eq!(price.total_incl_vat, dec("20.03"));
        assert_eq!(price.total_vat, dec("3.48"));
    }

    #[test]
    fn half_cents_round_away_from_zero() {
        let usage = Usage {
            energy_kwh: dec("0.3"),
            charging_hours: dec("0.1"),
            parking_hours: dec("0"),
        };
        // 0.3 x 0.35 = 0.105: 0.11, where banker's rounding would give 0.10.
        assert_eq!(tariffs()[0].price(&usage).energy_cost, dec("0.11"));
    }

    #[test]
    fn idle_time_at_a_fast_charger_is_expensive() {
        let usage = Usage {
            energy_kwh: dec("40"),
            charging_hours: dec("0.4"),
            parking_hours: dec("0.5"),
        };
        let price = tariffs()[2].price(&usage);
        assert_eq!(price.energy_cost, dec("27.60"));
        assert_eq!(price.parking_cost, dec("6.00"));
        assert_eq!(price.total_incl_vat, dec("40.66"));
    }
}
