//! The one place the binary reads the wall clock. Pass times are China
//! Standard Time wall-clock times, so "now" is too.

use chrono::{FixedOffset, NaiveDateTime, Utc};

/// China Standard Time: UTC+8, no daylight saving.
pub fn china_now() -> NaiveDateTime {
    let cst = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    Utc::now().with_timezone(&cst).naive_local()
}

/// `china_now` to the whole second, for times written in GCSJ form.
pub fn china_now_seconds() -> NaiveDateTime {
    use chrono::Timelike;
    let now = china_now();
    now.with_nanosecond(0).unwrap_or(now)
}
