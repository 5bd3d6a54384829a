//! The classic Flask IoT app's endpoints, same paths and JSON, so its
//! pages and scripts keep working: attach a broker, publish, read the
//! latest value of an id.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::params::ApiJson;
use super::state::AppState;
use crate::config::MqttConfig;

/// `POST /connect/`'s body, as the classic app sends it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectIn {
    pub data: Option<ConnectData>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectData {
    pub host: Option<String>,
    /// A number or a numeric string.
    #[schema(value_type = u16)]
    pub port: Option<Value>,
    /// Generated when absent.
    pub clientid: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Topic filters (default `sensors/#`).
    pub topics: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectOut {
    /// "success", or why the broker could not be reached.
    pub rc_status: String,
}

/// Switches the MQTT source to another broker and subscribes there.
#[utoipa::path(post, path = "/connect/", tag = "iot classic", request_body = ConnectIn,
    responses((status = 200, body = ConnectOut), (status = 400, body = ErrorBody)))]
pub async fn connect(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ConnectIn>,
) -> Result<Json<ConnectOut>, ApiError> {
    let config = broker_config(body.data.unwrap_or_default())?;
    let link = Arc::clone(state.mqtt());
    let connected = tokio::task::spawn_blocking(move || link.connect(&config))
        .await
        .map_err(|e| ApiError::internal(format!("connecting failed: {e}")))?;
    Ok(Json(ConnectOut {
        rc_status: match connected {
            Ok(()) => "success".into(),
            Err(e) => format!("{e:#}"),
        },
    }))
}

fn broker_config(data: ConnectData) -> Result<MqttConfig, ApiError> {
    let host = data
        .host
        .filter(|h| !h.trim().is_empty())
        .ok_or_else(|| ApiError::bad("data.host", "data.host is required"))?;
    let port = match data.port {
        None => 1883,
        Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        Some(_) => 0,
    };
    if port == 0 {
        return Err(ApiError::bad(
            "data.port",
            "data.port must be a port number, 1–65535",
        ));
    }
    let client_id = data
        .clientid
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| format!("gantry-{}", std::process::id()));
    let defaults = MqttConfig::default();
    Ok(MqttConfig {
        host,
        port,
        client_id,
        topics: data
            .topics
            .filter(|t| !t.is_empty())
            .unwrap_or(defaults.topics),
        username: data.username.unwrap_or_default(),
        password: data.password.unwrap_or_default(),
        ..defaults
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishIn {
    pub topic: Option<String>,
    /// A string is sent as it is; any other JSON value as its JSON text.
    #[schema(value_type = Object)]
    pub payload: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishOut {
    pub status: &'static str,
    pub topic: String,
}

/// Publishes a message on the connected broker (QoS 1).
#[utoipa::path(post, path = "/publish/", tag = "iot classic", request_body = PublishIn,
    responses((status = 200, body = PublishOut), (status = 400, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PublishIn>,
) -> Result<Json<PublishOut>, ApiError> {
    let topic = body
        .topic
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad("topic", "topic is required"))?;
    let payload = match body.payload {
        Some(Value::String(text)) => text.into_bytes(),
        Some(value) => value.to_string().into_bytes(),
        None => return Err(ApiError::bad("payload", "payload is required")),
    };
    state.mqtt().publish(&topic, payload).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("{e:#}"),
            None,
        )
    })?;
    Ok(Json(PublishOut {
        status: "published",
        topic,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDataIn {
    /// A series id; a number is read as its decimal text.
    #[schema(value_type = String)]
    pub id: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GetDataOut {
    /// "ok" or "not_found".
    pub status: &'static str,
    pub id: String,
    pub value: Option<f64>,
}

/// The latest value of one series.
#[utoipa::path(post, path = "/get_data/", tag = "iot classic", request_body = GetDataIn,
    responses((status = 200, body = GetDataOut), (status = 400, body = ErrorBody)))]
pub async fn get_data(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<GetDataIn>,
) -> Result<Json<GetDataOut>, ApiError> {
    let id = match body.id {
        Some(Value::String(id)) if !id.is_empty() => id,
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(ApiError::bad("id", "id is required (a string or a number)")),
    };
    let series = state.series().clone();
    let lookup = id.clone();
    let latest = tokio::task::spawn_blocking(move || series.lock().latest_of(&lookup))
        .await
        .map_err(|e| ApiError::internal(format!("a lookup failed: {e}")))??;
    Ok(Json(GetDataOut {
        status: if latest.is_some() { "ok" } else { "not_found" },
        id,
        value: latest.map(|(_, value)| value),
    }))
}
