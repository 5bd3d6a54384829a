//! Request parameters: extractors that turn every bad parameter into a JSON
//! 400 naming it, and the checks that turn parameters into store queries.
//!
//! Query strings and JSON bodies go through serde with
//! `deny_unknown_fields`, so a misspelt parameter is an error rather than a
//! silently ignored filter. An empty value (`kkmc=`) counts as absent, so
//! forms may send every field.

use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use chrono::{NaiveDate, NaiveDateTime};
use gantry_core::plate::normalize_plate_type;
use gantry_core::time::parse_pass_time;
use gantry_store::{PassQuery, WarningQuery, MAX_PAGE_DEPTH};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;

/// Rows per page unless `size` says otherwise.
pub const DEFAULT_SIZE: u64 = 20;
/// The largest `size` a request may ask for.
pub const MAX_SIZE: u64 = 1000;
/// Entries of a top list unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u64 = 10;
/// The largest `limit` a request may ask for.
pub const MAX_LIMIT: u64 = 1000;

/// Query-string parameters, deserialized into `T`; a bad one is a JSON 400.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|e| deserialize_error(e, "query"))
    }
}

/// A JSON body deserialized into `T` (an empty body is `T::default()`); a bad
/// one is a JSON 400 naming the field at fault.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text(), Some("body".into())))?;
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => return Ok(ApiJson(T::default())),
            Some(b'{') => {}
            Some(_) => return Err(ApiError::bad("body", "the body must be a JSON object")),
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            use serde_json::error::Category;
            match e.inner().classify() {
                // Not JSON at all: the body is at fault, not a field.
                Category::Syntax | Category::Eof | Category::Io => {
                    ApiError::bad("body", e.inner().to_string())
                }
                Category::Data => deserialize_error(e, "body"),
            }
        })?;
        deserializer
            .end()
            .map_err(|e| ApiError::bad("body", format!("text after the JSON value: {e}")))?;
        Ok(ApiJson(value))
    }
}

/// Names the parameter a deserialization error is about: the field path, or
/// for unknown and duplicate fields the name serde quotes in backticks.
fn deserialize_error<E: fmt::Display>(err: serde_path_to_error::Error<E>, whole: &str) -> ApiError {
    let path = err.path().to_string();
    let message = err.inner().to_string();
    let parameter = if !path.is_empty() && path != "." && !path.contains('?') {
        path
    } else {
        quoted_name(&message).unwrap_or(whole).to_owned()
    };
    ApiError::bad(parameter, message)
}

fn quoted_name(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// A whole number from a JSON number or a (query-string) text; blank is absent.
pub(super) fn whole<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct Whole;

    impl<'de> Visitor<'de> for Whole {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a whole number")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} is negative; expected a whole number")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Err(E::custom(format!("{v} is not a whole number")))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let text = v.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse()
                .map(Some)
                .map_err(|_| E::custom(format!("\"{v}\" is not a whole number")))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Whole)
        }
    }

    deserializer.deserialize_any(Whole)
}

/// Filters and paging of pass records (`GET /api/query?…` or a `POST` body).
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PassFilter {
    /// KKMC: checkpoint name, exact.
    #[serde(default)]
    pub kkmc: Option<String>,
    /// HPHM: plate number, exact; a prefix when it ends with `*` ("川A*").
    #[serde(default)]
    pub hphm: Option<String>,
    /// HPZL: plate type code, exact ("02"; "2" means the same).
    #[serde(default)]
    pub hpzl: Option<String>,
    /// Province of the plate, exact ("四川").
    #[serde(default)]
    pub province: Option<String>,
    /// Earliest pass time, inclusive: `YYYY-MM-DD HH:MM:SS` (a bare date is its 00:00:00).
    #[serde(default)]
    #[param(example = "2023-12-01 08:00:00")]
    pub start: Option<String>,
    /// Latest pass time, inclusive: `YYYY-MM-DD HH:MM:SS` (a bare date is its 23:59:59).
    #[serde(default)]
    #[param(example = "2023-12-01 09:00:00")]
    pub end: Option<String>,
    /// 1-based page number (default 1).
    #[serde(default, deserialize_with = "whole")]
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// Rows per page, 1–1000 (default 20).
    #[serde(default, deserialize_with = "whole")]
    #[param(minimum = 1, maximum = 1000)]
    pub size: Option<u64>,
}

impl PassFilter {
    pub fn into_query(self) -> Result<PassQuery, ApiError> {
        let (start, end) = time_range(self.start, self.end)?;
        let (page, size) = paging(self.page, self.size)?;
        Ok(PassQuery {
            checkpoint: text(self.kkmc),
            plate: text(self.hphm),
            plate_type: text(self.hpzl).map(|t| normalize_plate_type(&t).into_owned()),
            province: text(self.province),
            start,
            end,
            page,
            size,
        })
    }

    /// The filters of an export, which holds every page: paging is an error.
    pub fn into_export_query(self) -> Result<PassQuery, ApiError> {
        for (name, given) in [("page", self.page.is_some()), ("size", self.size.is_some())] {
            if given {
                return Err(ApiError::bad(
                    name,
                    format!("an export holds every matching pass; {name} does not apply"),
                ));
            }
        }
        self.into_query()
    }
}

/// `limit` of a top list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// How many entries, 1–1000 (default 10).
    #[serde(default, deserialize_with = "whole")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

impl LimitParams {
    pub fn limit(&self) -> Result<u64, ApiError> {
        in_range("limit", self.limit, DEFAULT_LIMIT, MAX_LIMIT)
    }
}

/// Day and checkpoint of an hourly flow.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlowParams {
    /// The day, `YYYY-MM-DD` (default: the day of the newest stored pass).
    #[serde(default)]
    #[param(example = "2023-12-01")]
    pub date: Option<String>,
    /// KKMC: one checkpoint, exact (default: all).
    #[serde(default)]
    pub kkmc: Option<String>,
}

impl FlowParams {
    pub fn date(&self) -> Result<Option<NaiveDate>, ApiError> {
        text(self.date.clone())
            .map(|d| {
                NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|_| ApiError::bad("date", format!("\"{d}\" is not a YYYY-MM-DD date")))
            })
            .transpose()
    }

    pub fn checkpoint(&self) -> Option<String> {
        text(self.kkmc.clone())
    }
}

/// Paging and plate of stored warnings.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WarningParams {
    /// HPHM: plate number, exact.
    #[serde(default)]
    pub hphm: Option<String>,
    /// 1-based page number (default 1).
    #[serde(default, deserialize_with = "whole")]
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// Rows per page, 1–1000 (default 20).
    #[serde(default, deserialize_with = "whole")]
    #[param(minimum = 1, maximum = 1000)]
    pub size: Option<u64>,
}

impl WarningParams {
    pub fn into_query(self) -> Result<WarningQuery, ApiError> {
        let (page, size) = paging(self.page, self.size)?;
        Ok(WarningQuery {
            plate: text(self.hphm),
            page,
            size,
        })
    }
}

/// One plate's sightings.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrailParams {
    /// HPHM: plate number, exact (required).
    #[serde(default)]
    #[param(required = true)]
    pub hphm: Option<String>,
    /// Earliest pass time, inclusive: `YYYY-MM-DD HH:MM:SS`.
    #[serde(default)]
    pub start: Option<String>,
    /// Latest pass time, inclusive: `YYYY-MM-DD HH:MM:SS`.
    #[serde(default)]
    pub end: Option<String>,
}

impl TrailParams {
    /// The plate and time range asked for.
    pub fn check(self) -> Result<(String, Option<NaiveDateTime>, Option<NaiveDateTime>), ApiError> {
        let plate = text(self.hphm).ok_or_else(|| ApiError::bad("hphm", "hphm is required"))?;
        if plate.ends_with('*') {
            return Err(ApiError::bad(
                "hphm",
                "a trail follows one plate: give it whole, without *",
            ));
        }
        let (start, end) = time_range(self.start, self.end)?;
        Ok((plate, start, end))
    }
}

/// A filter value, trimmed; blank is absent.
fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn paging(page: Option<u64>, size: Option<u64>) -> Result<(u64, u64), ApiError> {
    let page = page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::bad("page", "page numbers start at 1"));
    }
    let size = in_range("size", size, DEFAULT_SIZE, MAX_SIZE)?;
    if page.saturating_mul(size) > MAX_PAGE_DEPTH {
        return Err(ApiError::bad(
            "page",
            format!(
                "page {page} of size {size} reaches past the first {MAX_PAGE_DEPTH} rows; narrow the filters"
            ),
        ));
    }
    Ok((page, size))
}

fn in_range(name: &str, value: Option<u64>, default: u64, max: u64) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) if (1..=max).contains(&v) => Ok(v),
        Some(v) => Err(ApiError::bad(
            name,
            format!("{name} must be between 1 and {max}, not {v}"),
        )),
    }
}

fn time_range(
    start: Option<String>,
    end: Option<String>,
) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>), ApiError> {
    let start = text(start)
        .map(|t| parse_time(&t, false).ok_or_else(|| bad_time("start", &t)))
        .transpose()?;
    let end = text(end)
        .map(|t| parse_time(&t, true).ok_or_else(|| bad_time("end", &t)))
        .transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if e < s {
            return Err(ApiError::bad("end", format!("end {e} is before start {s}")));
        }
    }
    Ok((start, end))
}

fn bad_time(name: &str, text: &str) -> ApiError {
    ApiError::bad(
        name,
        format!("\"{text}\" is not a time like 2023-12-01 08:00:00"),
    )
}

/// A pass time, or a bare date as the first (or, for an end, last) second of it.
fn parse_time(text: &str, end_of_day: bool) -> Option<NaiveDateTime> {
    parse_pass_time(text).or_else(|| {
        let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        if end_of_day {
            day.and_hms_opt(23, 59, 59)
        } else {
            day.and_hms_opt(0, 0, 0)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map_err(|e| deserialize_error(e, "query"))
    }

    fn parameter(err: ApiError) -> String {
        err.body.parameter.unwrap_or_default()
    }

    #[test]
    fn bad_parameters_are_named() {
        let bad = |q: &str| {
            parameter(
                query::<PassFilter>(q)
                    .and_then(PassFilter::into_query)
                    .unwrap_err(),
            )
        };
        assert_eq!(bad("size=abc"), "size");
        assert_eq!(bad("size=0"), "size");
        assert_eq!(bad("size=1001"), "size");
        assert_eq!(bad("page=0"), "page");
        assert_eq!(bad("page=-1"), "page");
        assert_eq!(bad("page=100000&size=1000"), "page");
        assert_eq!(bad("start=yesterday"), "start");
        assert_eq!(bad("end=2023-13-01"), "end");
        assert_eq!(bad("start=2023-12-02&end=2023-12-01"), "end");
        assert_eq!(bad("colour=red"), "colour");
        assert_eq!(bad("page=1&page=2"), "page");
    }

    #[test]
    fn blank_values_are_absent_and_dates_widen() {
        let q = query::<PassFilter>(
            "kkmc=&hphm=%20&page=&size=&start=2023-12-01&end=2023-12-01&hpzl=2",
        )
        .and_then(PassFilter::into_query)
        .unwrap();
        assert_eq!(q.checkpoint, None);
        assert_eq!(q.plate, None);
        assert_eq!((q.page, q.size), (1, DEFAULT_SIZE));
        assert_eq!(q.plate_type.as_deref(), Some("02"));
        assert_eq!(q.start.unwrap().to_string(), "2023-12-01 00:00:00");
        assert_eq!(q.end.unwrap().to_string(), "2023-12-01 23:59:59");
    }

    #[test]
    fn json_numbers_and_texts_both_work() {
        let parse = |body: &str| -> Result<PassFilter, ApiError> {
            let mut d = serde_json::Deserializer::from_str(body);
            serde_path_to_error::deserialize(&mut d).map_err(|e| deserialize_error(e, "body"))
        };
        let f = parse(r#"{"page": 2, "size": "30", "kkmc": null}"#).unwrap();
        assert_eq!((f.page, f.size), (Some(2), Some(30)));
        assert_eq!(parameter(parse(r#"{"size": 1.5}"#).unwrap_err()), "size");
        assert_eq!(parameter(parse(r#"{"kkmc": 5}"#).unwrap_err()), "kkmc");
        assert_eq!(parameter(parse(r#"{"bogus": 1}"#).unwrap_err()), "bogus");
    }
}
