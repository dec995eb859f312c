//! Great-circle geometry for location search, without trigonometry in SQL.
//!
//! SQLite as bundled by sqlx has no `sin`/`cos` (it is built without
//! SQLITE_ENABLE_MATH_FUNCTIONS), so each location keeps the unit vector of
//! its coordinates. The haversine of the central angle between two points is
//! a quarter of their squared chord, `((x1-x2)² + (y1-y2)² + (z1-z2)²) / 4`:
//! plain arithmetic that both backends compute, compare and sort. The
//! distance itself, `2R·asin(√hav)`, is then taken in Rust.

/// Mean Earth radius in metres (IUGG), the radius haversine distances use.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A point given in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Degrees north, -90 to 90.
    pub latitude: f64,
    /// Degrees east, -180 to 180.
    pub longitude: f64,
}

/// The unit vector `[x, y, z]` of a point, when both degrees are known.
pub fn unit_vector(latitude: Option<f64>, longitude: Option<f64>) -> Option<[f64; 3]> {
    let (lat, lon) = (latitude?.to_radians(), longitude?.to_radians());
    Some([lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()])
}

impl Point {
    /// The point's unit vector.
    pub fn unit(&self) -> [f64; 3] {
        let [x, y, z] = unit_vector(Some(self.latitude), Some(self.longitude)).unwrap_or_default();
        [x, y, z]
    }

    /// Whether both coordinates are within their ranges.
    pub fn is_valid(&self) -> bool {
        (-90.0..=90.0).contains(&self.latitude) && (-180.0..=180.0).contains(&self.longitude)
    }
}

/// The distance in metres for a haversine value (a quarter squared chord).
pub fn distance_m(haversine: f64) -> f64 {
    2.0 * EARTH_RADIUS_M * haversine.clamp(0.0, 1.0).sqrt().asin()
}

/// The haversine value of a distance in metres; the inverse of `distance_m`.
pub fn haversine_of(distance_m: f64) -> f64 {
    let half_angle = (distance_m / EARTH_RADIUS_M / 2.0).min(std::f64::consts::FRAC_PI_2);
    half_angle.sin().powi(2)
}

/// Degrees north and east that hold every point within `radius_m` of a centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Southern and northern edge.
    pub latitude: (f64, f64),
    /// Western and eastern edge; `None` when the circle covers every
    /// longitude (it reaches a pole). West may exceed east across ±180°.
    pub longitude: Option<(f64, f64)>,
}

/// The bounding box of a circle, used to prefilter on indexed columns.
pub fn bounds(centre: Point, radius_m: f64) -> Bounds {
    let angle = (radius_m / EARTH_RADIUS_M).to_degrees();
    let south = centre.latitude - angle;
    let north = centre.latitude + angle;
    if south <= -90.0 || north >= 90.0 || angle >= 90.0 {
        return Bounds {
            latitude: (south.max(-90.0), north.min(90.0)),
            longitude: None,
        };
    }
    // The widest longitude span of the circle is at the latitude where a
    // meridian touches it: asin(sin(angle) / cos(lat)).
    let ratio = angle.to_radians().sin() / centre.latitude.to_radians().cos();
    if ratio >= 1.0 {
        return Bounds {
            latitude: (south, north),
            longitude: None,
        };
    }
    let span = ratio.asin().to_degrees();
    let wrap = |lon: f64| (lon + 540.0).rem_euclid(360.0) - 180.0;
    Bounds {
        latitude: (south, north),
        longitude: Some((wrap(centre.longitude - span), wrap(centre.longitude + span))),
    }
}

/// The haversine value between two unit vectors, as the SQL computes it.
pub fn haversine_between(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    (dx * dx + dy * dy + dz * dz) / 4.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMSTERDAM: Point = Point {
        latitude: 52.379189,
        longitude: 4.899431,
    };
    const UTRECHT: Point = Point {
        latitude: 52.089444,
        longitude: 5.110278,
    };

    #[test]
    fn amsterdam_to_utrecht_is_about_35_km() {
        let hav = haversine_between(AMSTERDAM.unit(), UTRECHT.unit());
        let d = distance_m(hav);
        // Reference: the classic haversine formula with R = 6371008.8 m.
        assert!((d - 35_272.9).abs() < 0.1, "{d}");
        assert!((haversine_of(d) - hav).abs() < 1e-15);
    }

    #[test]
    fn bounds_hold_the_circle_and_wrap_at_the_antimeridian() {
        let b = bounds(AMSTERDAM, 10_000.0);
        assert!(b.latitude.0 < 52.29 && b.latitude.1 > 52.46, "{b:?}");
        let (west, east) = b.longitude.unwrap();
        assert!(west < 4.76 && east > 5.04, "{b:?}");

        let fiji = Point {
            latitude: -17.0,
            longitude: 179.99,
        };
        let (west, east) = bounds(fiji, 10_000.0).longitude.unwrap();
        assert!(west > 179.0 && east < -179.0, "{west} {east}");
        let pole = Point {
            latitude: 89.99,
            longitude: 0.0,
        };
        assert_eq!(bounds(pole, 10_000.0).longitude, None);
    }
}
