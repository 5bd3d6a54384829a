//! Plate numbers (号牌号码): province of origin and what counts as a real plate.

use std::borrow::Cow;

/// PROVINCE when a plate tells nothing usable (military, placeholders, garbage).
pub const UNKNOWN_PROVINCE: &str = "未知";

/// The mainland province abbreviations (简称) and full names, in GB/T 2260 order.
pub const PROVINCES: [(char, &str); 31] = [
    ('京', "北京"),
    ('津', "天津"),
    ('冀', "河北"),
    ('晋', "山西"),
    ('蒙', "内蒙古"),
    ('辽', "辽宁"),
    ('吉', "吉林"),
    ('黑', "黑龙江"),
    ('沪', "上海"),
    ('苏', "江苏"),
    ('浙', "浙江"),
    ('皖', "安徽"),
    ('闽', "福建"),
    ('赣', "江西"),
    ('鲁', "山东"),
    ('豫', "河南"),
    ('鄂', "湖北"),
    ('湘', "湖南"),
    ('粤', "广东"),
    ('桂', "广西"),
    ('琼', "海南"),
    ('渝', "重庆"),
    ('川', "四川"),
    ('贵', "贵州"),
    ('云', "云南"),
    ('藏', "西藏"),
    ('陕', "陕西"),
    ('甘', "甘肃"),
    ('青', "青海"),
    ('宁', "宁夏"),
    ('新', "新疆"),
];

/// The full province name for a plate's first character ('川' → "四川").
pub fn province_name(abbreviation: char) -> Option<&'static str> {
    Some(match abbreviation {
        '京' => "北京",
        '津' => "天津",
        '冀' => "河北",
        '晋' => "山西",
        '蒙' => "内蒙古",
        '辽' => "辽宁",
        '吉' => "吉林",
        '黑' => "黑龙江",
        '沪' => "上海",
        '苏' => "江苏",
        '浙' => "浙江",
        '皖' => "安徽",
        '闽' => "福建",
        '赣' => "江西",
        '鲁' => "山东",
        '豫' => "河南",
        '鄂' => "湖北",
        '湘' => "湖南",
        '粤' => "广东",
        '桂' => "广西",
        '琼' => "海南",
        '渝' => "重庆",
        '川' => "四川",
        '贵' => "贵州",
        '云' => "云南",
        '藏' => "西藏",
        '陕' => "陕西",
        '甘' => "甘肃",
        '青' => "青海",
        '宁' => "宁夏",
        '新' => "新疆",
        _ => return None,
    })
}

/// The special-plate kind a trailing character marks, if any.
fn suffix_kind(c: char) -> Option<&'static str> {
    Some(match c {
        '领' => "领馆",
        '警' => "警用",
        '学' => "教练",
        '港' | '澳' => "港澳",
        '使' => "使馆",
        _ => return None,
    })
}

/// PROVINCE for a plate: the province of its first character ("川" → "四川"),
/// the kind of special plate ("使馆", "领馆", "警用" …), or "未知".
///
/// A leading "使" gives "使馆"; a trailing 领/警/学/港/澳 (or 使) gives
/// "领馆"/"警用"/"教练"/"港澳" ("使馆"); a trailing "挂" (trailer) keeps the
/// province. Military, armed-police and unreadable plates give "未知".
pub fn province_of(plate: &str) -> &'static str {
    let plate = plate.trim();
    let mut chars = plate.chars();
    let Some(first) = chars.next() else {
        return UNKNOWN_PROVINCE;
    };
    if first == '使' {
        return "使馆";
    }
    if let Some(kind) = chars.next_back().and_then(suffix_kind) {
        return kind;
    }
    province_name(first).unwrap_or(UNKNOWN_PROVINCE)
}

/// Whether a plate identifies one vehicle and so may be tracked for clones.
/// False for placeholders (无牌, 未识别, 车牌, all zeros), masked plates
/// ('*') and ill-formed plates.
///
/// Well-formed (surrounding whitespace ignored):
/// - province character + one ASCII capital letter + 5 (ordinary, 川A12345)
///   or 6 (new-energy, 川AD12345) ASCII capitals or digits;
/// - the same with a special suffix 挂/学/警/领/港/澳, whose body is 4 to 6
///   characters (川A1234学, 粤Z1234港, 川A12345挂);
/// - "使" + 5 or 6 capitals or digits (使014578).
///
/// Letters I and O never appear on real plates but some exports contain
/// them, so every capital A–Z is accepted. Lowercase letters, the middle dot
/// "·", masking ('*', '?') and an all-zero number are not.
pub fn is_trackable(plate: &str) -> bool {
    let plate = plate.trim();
    let mut chars = plate.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let rest = chars.as_str();
    if first == '使' {
        return matches!(rest.len(), 5 | 6) && is_plate_body(rest);
    }
    if province_name(first).is_none() {
        return false;
    }
    let Some(tail) = rest.strip_prefix(|c: char| c.is_ascii_uppercase()) else {
        return false;
    };
    let (body, suffixed) = match tail.strip_suffix(['挂', '学', '警', '领', '港', '澳']) {
        Some(body) => (body, true),
        None => (tail, false),
    };
    let len_ok = if suffixed {
        (4..=6).contains(&body.len())
    } else {
        matches!(body.len(), 5 | 6)
    };
    len_ok && is_plate_body(body)
}

/// ASCII capitals and digits only, not all zeros.
fn is_plate_body(body: &str) -> bool {
    body.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && body.bytes().any(|b| b != b'0')
}

/// "00".."09": the padded one-digit codes, borrowed so nothing is allocated.
const PADDED: [&str; 10] = ["00", "01", "02", "03", "04", "05", "06", "07", "08", "09"];

/// Normalises an HPZL code: "'02", "2" and "02" all become "02".
///
/// Surrounding whitespace and a leading apostrophe (Excel's text marker) are
/// stripped; a one-digit code gets a leading zero; anything else is kept as
/// is. Never allocates.
pub fn normalize_plate_type(raw: &str) -> Cow<'_, str> {
    let t = raw.trim();
    let t = match t.strip_prefix('\'') {
        Some(rest) => rest.trim(),
        None => t,
    };
    match t.as_bytes() {
        [d @ b'0'..=b'9'] => Cow::Borrowed(PADDED[(d - b'0') as usize]),
        _ => Cow::Borrowed(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_province() {
        let expected = [
            ("京", "北京"),
            ("津", "天津"),
            ("沪", "上海"),
            ("渝", "重庆"),
            ("冀", "河北"),
            ("豫", "河南"),
            ("云", "云南"),
            ("辽", "辽宁"),
            ("黑", "黑龙江"),
            ("湘", "湖南"),
            ("皖", "安徽"),
            ("鲁", "山东"),
            ("新", "新疆"),
            ("苏", "江苏"),
            ("浙", "浙江"),
            ("赣", "江西"),
            ("鄂", "湖北"),
            ("桂", "广西"),
            ("甘", "甘肃"),
            ("晋", "山西"),
            ("蒙", "内蒙古"),
            ("陕", "陕西"),
            ("吉", "吉林"),
            ("闽", "福建"),
            ("贵", "贵州"),
            ("粤", "广东"),
            ("青", "青海"),
            ("藏", "西藏"),
            ("川", "四川"),
            ("宁", "宁夏"),
            ("琼", "海南"),
        ];
        assert_eq!(expected.len(), 31);
        for (abbr, name) in expected {
            let plate = format!("{abbr}A12345");
            assert_eq!(province_of(&plate), name, "{plate}");
            assert!(is_trackable(&plate), "{plate}");
            let c = abbr.chars().next().unwrap();
            assert!(PROVINCES.contains(&(c, name)), "{abbr}");
            assert_eq!(province_name(c), Some(name));
        }
    }

    #[test]
    fn special_plates() {
        assert_eq!(province_of("使014578"), "使馆");
        assert_eq!(province_of("沪A1234领"), "领馆");
        assert_eq!(province_of("川A1234警"), "警用");
        assert_eq!(province_of("川A1234学"), "教练");
        assert_eq!(province_of("粤Z1234港"), "港澳");
        assert_eq!(province_of("粤Z1234澳"), "港澳");
        assert_eq!(province_of("川A1234挂"), "四川");
        assert_eq!(province_of("WJ川12345"), "未知");
        assert_eq!(province_of("VA12345"), "未知");
        assert_eq!(province_of("甲12345"), "未知");
        assert_eq!(province_of("无牌"), "未知");
        assert_eq!(province_of(""), "未知");
        assert_eq!(province_of("-"), "未知");
        assert_eq!(province_of(" 川A12345 "), "四川");
        // Masked plates still tell their province.
        assert_eq!(province_of("川A***45"), "四川");
    }

    #[test]
    fn trackable_plates() {
        for p in [
            "川A12345",
            "川AD12345",
            "京AF12345",
            "川A1234挂",
            "川A12345挂",
            "川A1234学",
            "川A1234警",
            "沪A1234领",
            "粤Z1234港",
            "粤Z1234澳",
            "使014578",
            "使01457",
            "川AIO123",
            "川A00001",
            " 川A12345\t",
        ] {
            assert!(is_trackable(p), "{p}");
        }
    }

    #[test]
    fn untrackable_plates() {
        for p in [
            "",
            " ",
            "-",
            "无牌",
            "未识别",
            "车牌",
            "无车牌",
            "00000000",
            "0",
            "川A00000",
            "川A*2345",
            "川A12?45",
            "6***",
            "川A1234",
            "川A1234567",
            "川12345",
            "川a12345",
            "川A·12345",
            "川A12345港港",
            "川A123学",
            "AA12345",
            "WJ川12345",
            "港A12345",
            "使0145",
            "使0145789",
            "使000000",
            "川A12345X学X",
        ] {
            assert!(!is_trackable(p), "{p:?}");
        }
    }

    #[test]
    fn plate_type_normalisation() {
        assert_eq!(normalize_plate_type("2"), "02");
        assert_eq!(normalize_plate_type("'02"), "02");
        assert_eq!(normalize_plate_type("'2"), "02");
        assert_eq!(normalize_plate_type(" 02 "), "02");
        assert_eq!(normalize_plate_type("0"), "00");
        assert_eq!(normalize_plate_type("52"), "52");
        assert_eq!(normalize_plate_type("-"), "-");
        assert_eq!(normalize_plate_type(""), "");
        assert_eq!(normalize_plate_type("'"), "");
        assert_eq!(normalize_plate_type("小型汽车"), "小型汽车");
        // Nothing is ever allocated.
        for raw in ["2", "'02", "02", " 15 ", "x"] {
            assert!(
                matches!(normalize_plate_type(raw), Cow::Borrowed(_)),
                "{raw}"
            );
        }
        // "02" comes back as a slice of the input itself.
        let raw = String::from("02");
        match normalize_plate_type(&raw) {
            Cow::Borrowed(s) => assert_eq!(s.as_ptr(), raw.as_ptr()),
            Cow::Owned(_) => panic!("allocated"),
        }
    }
}
