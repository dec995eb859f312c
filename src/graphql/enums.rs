//! OCPI enums as GraphQL enums. The store keeps every value as sent (DESIGN:
//! open enums), so each enum field has a `...Raw` field beside it and an
//! OTHER value for what this version does not know.

/// Declares an OCPI enum: its variants, the OCPI spelling of each, OTHER,
/// and the mapping from a raw value.
macro_rules! ocpi_enum {
    (
        $(#[doc = $doc:literal])*
        $name:ident {
            $($(#[doc = $vdoc:literal])* $variant:ident = $raw:literal,)*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[doc = $vdoc])* #[graphql(name = $raw)] $variant,)*
            /// A value outside the OCPI list; the raw field beside it has it as sent.
            #[graphql(name = "OTHER")]
            Other,
        }

        impl $name {
            /// The OCPI spellings this version knows.
            pub const KNOWN: &'static [&'static str] = &[$($raw),*];

            /// Maps a raw OCPI value, whatever its case, never failing.
            pub fn from_raw(raw: &str) -> $name {
                let raw = raw.trim();
                $(if raw.eq_ignore_ascii_case($raw) {
                    return $name::$variant;
                })*
                $name::Other
            }

            /// The OCPI spelling; `None` for OTHER.
            pub fn raw(self) -> Option<&'static str> {
                match self {
                    $($name::$variant => Some($raw),)*
                    $name::Other => None,
                }
            }

            /// The store's set of raw values matching any of `wanted`.
            pub fn raw_set(wanted: &[$name]) -> $crate::store::read::RawSet {
                $crate::store::read::RawSet {
                    values: wanted.iter().filter_map(|w| w.raw()).map(str::to_owned).collect(),
                    other: wanted.contains(&$name::Other),
                    known: $name::KNOWN.to_vec(),
                }
            }
        }
    };
}

ocpi_enum! {
    /// OCPI EVSE status.
    EvseStatus {
        /// Free to start a new session.
        Available = "AVAILABLE",
        /// Blocked by an obstacle, e.g. a parked car.
        Blocked = "BLOCKED",
        /// In use.
        Charging = "CHARGING",
        /// Not usable, e.g. disabled by the operator.
        Inoperative = "INOPERATIVE",
        /// Broken.
        Outoforder = "OUTOFORDER",
        /// Being built.
        Planned = "PLANNED",
        /// Taken away.
        Removed = "REMOVED",
        /// Reserved for a driver.
        Reserved = "RESERVED",
        /// No status known (also offline).
        Unknown = "UNKNOWN",
    }
}

ocpi_enum! {
    /// OCPI session status.
    SessionStatus {
        /// Charging or about to; the session is running.
        Active = "ACTIVE",
        /// Ended; final, no more updates apply.
        Completed = "COMPLETED",
        /// Declared invalid by the CPO.
        Invalid = "INVALID",
        /// Created but not yet started.
        Pending = "PENDING",
        /// A reservation, not a charge.
        Reservation = "RESERVATION",
    }
}

ocpi_enum! {
    /// OCPI connector standard (plug type).
    ConnectorType {
        /// The CHAdeMO DC plug.
        Chademo = "CHADEMO",
        /// The ChaoJi DC plug.
        Chaoji = "CHAOJI",
        /// Domestic plug type A (NEMA 1-15).
        DomesticA = "DOMESTIC_A",
        /// Domestic plug type B (NEMA 5-15).
        DomesticB = "DOMESTIC_B",
        /// Domestic plug type C (CEE 7/17).
        DomesticC = "DOMESTIC_C",
        /// Domestic plug type D (3 pin).
        DomesticD = "DOMESTIC_D",
        /// Domestic plug type E (CEE 7/5).
        DomesticE = "DOMESTIC_E",
        /// Domestic plug type F (CEE 7/4, Schuko).
        DomesticF = "DOMESTIC_F",
        /// Domestic plug type G (BS 1363).
        DomesticG = "DOMESTIC_G",
        /// Domestic plug type H (SI-32).
        DomesticH = "DOMESTIC_H",
        /// Domestic plug type I (AS 3112).
        DomesticI = "DOMESTIC_I",
        /// Domestic plug type J (SEV 1011).
        DomesticJ = "DOMESTIC_J",
        /// Domestic plug type K (DS 60884-2-D1).
        DomesticK = "DOMESTIC_K",
        /// Domestic plug type L (CEI 23-16-VII).
        DomesticL = "DOMESTIC_L",
        /// Domestic plug type M (South Africa).
        DomesticM = "DOMESTIC_M",
        /// Domestic plug type N (NBR 14136).
        DomesticN = "DOMESTIC_N",
        /// Domestic plug type O (TIS 166-2549).
        DomesticO = "DOMESTIC_O",
        /// Guobiao GB/T 20234.2 AC.
        GbtAc = "GBT_AC",
        /// Guobiao GB/T 20234.3 DC.
        GbtDc = "GBT_DC",
        /// IEC 60309-2 industrial, single phase 16 A (blue).
        Iec60309Single16 = "IEC_60309_2_single_16",
        /// IEC 60309-2 industrial, three phase 16 A (red).
        Iec60309Three16 = "IEC_60309_2_three_16",
        /// IEC 60309-2 industrial, three phase 32 A (red).
        Iec60309Three32 = "IEC_60309_2_three_32",
        /// IEC 60309-2 industrial, three phase 64 A (red).
        Iec60309Three64 = "IEC_60309_2_three_64",
        /// IEC 62196 Type 1 (SAE J1772).
        Iec62196T1 = "IEC_62196_T1",
        /// Combo Type 1 (CCS1).
        Iec62196T1Combo = "IEC_62196_T1_COMBO",
        /// IEC 62196 Type 2 (Mennekes).
        Iec62196T2 = "IEC_62196_T2",
        /// Combo Type 2 (CCS2).
        Iec62196T2Combo = "IEC_62196_T2_COMBO",
        /// IEC 62196 Type 3A.
        Iec62196T3a = "IEC_62196_T3A",
        /// IEC 62196 Type 3C (Scame).
        Iec62196T3c = "IEC_62196_T3C",
        /// NEMA 5-20, 3 pin.
        Nema520 = "NEMA_5_20",
        /// NEMA 6-30, 3 pin.
        Nema630 = "NEMA_6_30",
        /// NEMA 6-50, 3 pin.
        Nema650 = "NEMA_6_50",
        /// NEMA 10-30, 3 pin.
        Nema1030 = "NEMA_10_30",
        /// NEMA 10-50, 3 pin.
        Nema1050 = "NEMA_10_50",
        /// NEMA 14-30, 3 pin.
        Nema1430 = "NEMA_14_30",
        /// NEMA 14-50, 3 pin.
        Nema1450 = "NEMA_14_50",
        /// Pantograph connector mounted on the vehicle.
        PantographBottomUp = "PANTOGRAPH_BOTTOM_UP",
        /// Pantograph connector mounted on the infrastructure.
        PantographTopDown = "PANTOGRAPH_TOP_DOWN",
        /// Tesla Roadster.
        TeslaR = "TESLA_R",
        /// Tesla Model S.
        TeslaS = "TESLA_S",
    }
}

ocpi_enum! {
    /// Whether a connector is a socket or has its own cable.
    ConnectorFormat {
        /// A socket: the driver brings the cable.
        Socket = "SOCKET",
        /// A cable fixed to the EVSE.
        Cable = "CABLE",
    }
}

ocpi_enum! {
    /// The current a connector delivers.
    PowerType {
        /// AC, single phase.
        Ac1Phase = "AC_1_PHASE",
        /// AC, two phases, only two of the three wires connected.
        Ac2Phase = "AC_2_PHASE",
        /// AC, two phases, split phase.
        Ac2PhaseSplit = "AC_2_PHASE_SPLIT",
        /// AC, three phases.
        Ac3Phase = "AC_3_PHASE",
        /// Direct current.
        Dc = "DC",
    }
}

ocpi_enum! {
    /// How a driver was authorised.
    AuthMethod {
        /// Checked with the eMSP in real time.
        AuthRequest = "AUTH_REQUEST",
        /// Started by a command from the eMSP.
        Command = "COMMAND",
        /// On the CPO's whitelist.
        Whitelist = "WHITELIST",
    }
}

ocpi_enum! {
    /// What a charging period's dimension measures.
    CdrDimensionType {
        /// Average charging current, A.
        Current = "CURRENT",
        /// Energy charged, kWh.
        Energy = "ENERGY",
        /// Energy fed back to the grid, kWh.
        EnergyExport = "ENERGY_EXPORT",
        /// Energy taken from the grid, kWh.
        EnergyImport = "ENERGY_IMPORT",
        /// Flat fee, no unit (OCPI 2.1.1).
        Flat = "FLAT",
        /// Highest current reached, A.
        MaxCurrent = "MAX_CURRENT",
        /// Lowest current, A.
        MinCurrent = "MIN_CURRENT",
        /// Highest power reached, kW.
        MaxPower = "MAX_POWER",
        /// Lowest power, kW.
        MinPower = "MIN_POWER",
        /// Time parked without charging, hours.
        ParkingTime = "PARKING_TIME",
        /// Average power, kW.
        Power = "POWER",
        /// Time reserved, hours.
        ReservationTime = "RESERVATION_TIME",
        /// Battery state of charge, percent.
        StateOfCharge = "STATE_OF_CHARGE",
        /// Time charging, hours.
        Time = "TIME",
    }
}

ocpi_enum! {
    /// What kind of tariff it is (OCPI 2.2.1 TariffType).
    TariffType {
        /// For ad hoc payment, e.g. by credit card.
        AdHocPayment = "AD_HOC_PAYMENT",
        /// For a driver who chose the cheapest charging profile.
        ProfileCheapest = "PROFILE_CHEAPEST",
        /// For a driver who chose the fastest charging profile.
        ProfileFastest = "PROFILE_FASTEST",
        /// For a driver who chose the greenest charging profile.
        ProfileGreen = "PROFILE_GREEN",
        /// The regular tariff.
        Regular = "REGULAR",
    }
}

ocpi_enum! {
    /// Where the location is: the OCPI 2.1.1 LocationType and the 2.2.1
    /// ParkingType in one (2.1.1's own OTHER is OTHER here too).
    LocationType {
        /// Along a motorway, such as a service area (2.2.1).
        AlongMotorway = "ALONG_MOTORWAY",
        /// A multi-storey car park.
        ParkingGarage = "PARKING_GARAGE",
        /// A car park at ground level.
        ParkingLot = "PARKING_LOT",
        /// A private driveway (2.2.1).
        OnDriveway = "ON_DRIVEWAY",
        /// Parking in public space along the street.
        OnStreet = "ON_STREET",
        /// A car park under ground.
        UndergroundGarage = "UNDERGROUND_GARAGE",
        /// The CPO does not know (2.1.1).
        Unknown = "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_map_case_insensitively_and_unknown_ones_to_other() {
        assert_eq!(EvseStatus::from_raw("AVAILABLE"), EvseStatus::Available);
        assert_eq!(EvseStatus::from_raw("outoforder"), EvseStatus::Outoforder);
        assert_eq!(EvseStatus::from_raw("SUSPENDED_EV"), EvseStatus::Other);
        assert_eq!(
            ConnectorType::from_raw("IEC_60309_2_SINGLE_16"),
            ConnectorType::Iec60309Single16
        );
        assert_eq!(
            ConnectorType::Iec60309Single16.raw(),
            Some("IEC_60309_2_single_16")
        );
        assert_eq!(PowerType::from_raw("AC_3_PHASE"), PowerType::Ac3Phase);
        assert_eq!(SessionStatus::Other.raw(), None);
        assert_eq!(LocationType::from_raw("on_street"), LocationType::OnStreet);
        assert_eq!(LocationType::from_raw("OTHER"), LocationType::Other);
    }

    #[test]
    fn raw_sets_list_the_wanted_spellings_and_other() {
        let set = EvseStatus::raw_set(&[EvseStatus::Charging, EvseStatus::Other]);
        assert_eq!(set.values, vec!["CHARGING".to_owned()]);
        assert!(set.other);
        assert_eq!(set.known.len(), 9);
    }
}
