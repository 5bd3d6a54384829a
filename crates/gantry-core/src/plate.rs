//! Plate numbers (号牌号码): province of origin and what counts as a real plate.

use std::borrow::Cow;

/// PROVINCE for a plate: the province of its first character ("川" → "四川"),
/// the kind of special plate ("使馆", "领馆", "警用" …), or "未知".
pub fn province_of(plate: &str) -> &'static str {
    let _ = plate;
    todo!("formats helper")
}

/// Whether a plate identifies one vehicle and so may be tracked for clones.
/// False for placeholders (无牌, 未识别, 车牌, all zeros), masked plates
/// ('*') and ill-formed plates.
pub fn is_trackable(plate: &str) -> bool {
    let _ = plate;
    todo!("formats helper")
}

/// Normalises an HPZL code: "'02", "2" and "02" all become "02".
pub fn normalize_plate_type(raw: &str) -> Cow<'_, str> {
    Cow::Borrowed(raw)
}
