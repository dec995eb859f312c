//! Charging physics: the power a car draws as its battery fills (flat, then
//! tapering near full), and the energy a session meters over time.

/// Power as a share of the limit at a state of charge, DC fast charging:
/// flat to 55 %, then down to a third by 85 % and to a trickle at 100 %.
const DC_TAPER: &[(f64, f64)] = &[(0.0, 1.0), (0.55, 1.0), (0.85, 0.35), (1.0, 0.08)];

/// The same for AC: the onboard charger holds its power until 90 %.
const AC_TAPER: &[(f64, f64)] = &[(0.0, 1.0), (0.90, 1.0), (1.0, 0.2)];

/// Integration step, seconds: fine enough that the taper shows in 15-minute periods.
const STEP_SECS: u64 = 30;

/// Power drawn at a state of charge (0 to 1), kW, never above `limit_kw`.
pub fn power_kw(limit_kw: f64, soc: f64, dc: bool) -> f64 {
    if soc >= 1.0 || limit_kw <= 0.0 {
        return 0.0;
    }
    let taper = if dc { DC_TAPER } else { AC_TAPER };
    let soc = soc.max(0.0);
    let share = taper
        .windows(2)
        .find(|w| soc <= w[1].0)
        .map(|w| {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            y0 + (y1 - y0) * (soc - x0) / (x1 - x0)
        })
        .unwrap_or(0.0);
    limit_kw * share
}

/// A car plugged in at an EVSE, charging until its target or until it leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Usable battery capacity, kWh.
    pub capacity_kwh: f64,
    /// State of charge now, 0 to 1.
    pub soc: f64,
    /// Where the driver stops charging, 0 to 1.
    pub target_soc: f64,
    /// Most power the car and the charger together allow, kW.
    pub limit_kw: f64,
    /// DC fast charging (tapers earlier) or AC.
    pub dc: bool,
    /// Energy metered so far, kWh, unrounded.
    pub energy_kwh: f64,
}

impl Charge {
    /// Whether the target is reached (the car now only parks).
    pub fn is_full(&self) -> bool {
        self.soc >= self.target_soc
    }

    /// Charges for `secs` seconds; returns after how many seconds the target
    /// was reached, when it was reached in this stretch.
    pub fn advance(&mut self, secs: u64) -> Option<u64> {
        let mut elapsed = 0;
        while elapsed < secs && !self.is_full() {
            let step = STEP_SECS.min(secs - elapsed);
            let kw = power_kw(self.limit_kw, self.soc, self.dc);
            let room_kwh = (self.target_soc - self.soc) * self.capacity_kwh;
            let kwh = (kw * step as f64 / 3600.0).min(room_kwh);
            self.energy_kwh += kwh;
            self.soc += kwh / self.capacity_kwh;
            if kwh >= room_kwh {
                self.soc = self.target_soc;
                // The share of the step it took to fill up, in whole seconds.
                let used = if kw > 0.0 {
                    (room_kwh / kw * 3600.0).ceil() as u64
                } else {
                    step
                };
                return Some(elapsed + used.min(step));
            }
            elapsed += step;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f64> {
        (0..=100).map(|i| f64::from(i) / 100.0)
    }

    #[test]
    fn power_never_rises_as_the_battery_fills_and_never_exceeds_the_limit() {
        for dc in [true, false] {
            let mut last = f64::INFINITY;
            for soc in grid() {
                let kw = power_kw(150.0, soc, dc);
                assert!(kw <= last, "dc={dc}: {kw} kW at {soc} after {last} kW");
                assert!(kw <= 150.0);
                last = kw;
            }
        }
    }

    #[test]
    fn dc_power_tapers_between_the_knee_and_full() {
        assert_eq!(power_kw(100.0, 0.30, true), 100.0);
        assert_eq!(power_kw(100.0, 0.55, true), 100.0);
        // Halfway down from the knee (55 %, 100 %) to 85 % (35 %).
        assert!((power_kw(100.0, 0.70, true) - 67.5).abs() < 1e-9);
        assert!((power_kw(100.0, 0.85, true) - 35.0).abs() < 1e-9);
        assert!(power_kw(100.0, 0.99, true) < 10.0);
        assert_eq!(power_kw(100.0, 1.0, true), 0.0);
    }

    #[test]
    fn ac_power_holds_until_ninety_percent() {
        assert_eq!(power_kw(11.0, 0.89, false), 11.0);
        assert!((power_kw(11.0, 0.95, false) - 6.6).abs() < 1e-9);
        assert!(power_kw(11.0, 0.999, false) < 2.3);
    }

    #[test]
    fn energy_per_quarter_hour_falls_once_the_taper_begins() {
        let mut charge = Charge {
            capacity_kwh: 60.0,
            soc: 0.1,
            target_soc: 0.8,
            limit_kw: 100.0,
            dc: true,
            energy_kwh: 0.0,
        };
        let mut quarters = Vec::new();
        let mut full_after = None;
        for quarter in 0..8u64 {
            let before = charge.energy_kwh;
            if let Some(secs) = charge.advance(900) {
                full_after = Some(quarter * 900 + secs);
            }
            quarters.push(charge.energy_kwh - before);
        }
        // The first quarter runs at the full 100 kW (10 % to 52 %): 25 kWh.
        assert!((quarters[0] - 25.0).abs() < 1e-9, "{quarters:?}");
        for pair in quarters.windows(2) {
            assert!(pair[1] <= pair[0] + 1e-9, "rising energy: {quarters:?}");
        }
        assert!(quarters[2] < quarters[0] / 2.0, "{quarters:?}");
        assert!((charge.energy_kwh - 42.0).abs() < 1e-9, "70 % of 60 kWh");
        // 972 s at 100 kW to the knee, then about 780 s on the taper.
        let full_after = full_after.expect("the battery reaches its target");
        assert!((1700..1800).contains(&full_after), "{full_after}");
        assert_eq!(charge.advance(900), None, "a full battery draws nothing");
        assert!((charge.energy_kwh - 42.0).abs() < 1e-9);
    }
}
