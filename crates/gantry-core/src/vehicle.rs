//! Vehicle type names from plate type codes (GA 24.7 号牌种类).

use crate::plate::normalize_plate_type;

/// VEHICLE_TYPE_NAME for an HPZL code ("02" → "小型汽车"); "未知" when unknown.
///
/// The code is normalised first, so "2" and "'02" name the same type.
pub fn vehicle_type_name(plate_type: &str) -> &'static str {
    match normalize_plate_type(plate_type).as_ref() {
        "01" => "大型汽车",
        "02" => "小型汽车",
        "03" => "使馆汽车",
        "04" => "领馆汽车",
        "05" => "境外汽车",
        "06" => "外籍汽车",
        "07" => "普通摩托车",
        "08" => "轻便摩托车",
        "09" => "使馆摩托车",
        "10" => "领馆摩托车",
        "11" => "境外摩托车",
        "12" => "外籍摩托车",
        "13" => "低速车",
        "14" => "拖拉机",
        "15" => "挂车",
        "16" => "教练汽车",
        "17" => "教练摩托车",
        "20" => "临时入境汽车",
        "21" => "临时入境摩托车",
        "22" => "临时行驶车",
        "23" => "警用汽车",
        "24" => "警用摩托",
        "51" => "大型新能源汽车",
        "52" => "小型新能源汽车",
        _ => "未知",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code() {
        let table = [
            ("01", "大型汽车"),
            ("02", "小型汽车"),
            ("03", "使馆汽车"),
            ("04", "领馆汽车"),
            ("05", "境外汽车"),
            ("06", "外籍汽车"),
            ("07", "普通摩托车"),
            ("08", "轻便摩托车"),
            ("09", "使馆摩托车"),
            ("10", "领馆摩托车"),
            ("11", "境外摩托车"),
            ("12", "外籍摩托车"),
            ("13", "低速车"),
            ("14", "拖拉机"),
            ("15", "挂车"),
            ("16", "教练汽车"),
            ("17", "教练摩托车"),
            ("20", "临时入境汽车"),
            ("21", "临时入境摩托车"),
            ("22", "临时行驶车"),
            ("23", "警用汽车"),
            ("24", "警用摩托"),
            ("51", "大型新能源汽车"),
            ("52", "小型新能源汽车"),
        ];
        for (code, name) in table {
            assert_eq!(vehicle_type_name(code), name, "{code}");
        }
    }

    #[test]
    fn unnormalised_and_unknown_codes() {
        assert_eq!(vehicle_type_name("2"), "小型汽车");
        assert_eq!(vehicle_type_name("'02"), "小型汽车");
        assert_eq!(vehicle_type_name(" 1 "), "大型汽车");
        for code in [
            "",
            "-",
            "00",
            "18",
            "19",
            "25",
            "50",
            "53",
            "99",
            "002",
            "小型汽车",
        ] {
            assert_eq!(vehicle_type_name(code), "未知", "{code:?}");
        }
    }
}
