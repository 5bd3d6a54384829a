//! Great-circle distance between checkpoints.

/// A point on the earth, degrees (WGS-84 / GCJ-02 alike at this precision).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub lon: f64,
    pub lat: f64,
}

/// Mean earth radius used by the haversine formula, km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Straight-line (haversine) distance in km. A road is never shorter, so a
/// speed computed from it is a lower bound of the speed actually driven.
pub fn haversine_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chengdu_to_chongqing_is_about_264_km() {
        let chengdu = GeoPoint {
            lon: 104.0665,
            lat: 30.5723,
        };
        let chongqing = GeoPoint {
            lon: 106.5516,
            lat: 29.5630,
        };
        let d = haversine_km(chengdu, chongqing);
        assert!((260.0..270.0).contains(&d), "{d}");
    }

    #[test]
    fn same_point_is_zero() {
        let p = GeoPoint {
            lon: 104.0,
            lat: 30.0,
        };
        assert_eq!(haversine_km(p, p), 0.0);
    }

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let d = haversine_km(
            GeoPoint { lon: 0.0, lat: 0.0 },
            GeoPoint { lon: 0.0, lat: 1.0 },
        );
        assert!((d - 111.19).abs() < 0.05, "{d}");
    }
}
