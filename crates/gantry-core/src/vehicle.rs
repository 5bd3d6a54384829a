//! Vehicle type names from plate type codes (GA 24.7 号牌种类).

/// VEHICLE_TYPE_NAME for an HPZL code ("02" → "小型汽车"); "未知" when unknown.
pub fn vehicle_type_name(plate_type: &str) -> &'static str {
    let _ = plate_type;
    todo!("formats helper")
}
