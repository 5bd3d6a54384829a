//! The HTTP API (axum on tokio), served by `gantry serve` and `gantry demo`.
//!
//! Queries run on read-only store connections, on tokio's blocking pool;
//! the live feed ([`feed`]) drives `GET /api/stream`. The server runs on its
//! own thread with its own runtime, so the synchronous commands start it,
//! carry on, and stop it with [`Server::stop`]. See docs/API.md.

mod assets;
mod classic;
mod error;
pub mod feed;
mod forecast;
mod iot;
mod metrics;
mod model;
mod params;
mod predict;
mod routes;
mod state;
mod windows;

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::http::{header, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use gantry_core::DetectorConfig;
use gantry_store::Store;
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;

pub use self::feed::{Feed, LiveStore};
pub use self::state::Mode;
use self::state::{AppState, Inner, ReadPool};
use crate::sinks::redis::RedisWarnings;

/// How long a stopping server waits for open requests.
const GRACE: Duration = Duration::from_secs(5);

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "gantry",
        description = "Highway checkpoint pass records and cloned-plate warnings."
    ),
    paths(
        routes::health,
        routes::query_get,
        routes::query_post,
        routes::export,
        routes::checkpoints,
        routes::summary,
        routes::kkmc_count,
        routes::flow_24h,
        predict::predict,
        routes::map_data,
        routes::vehicle_type,
        routes::warnings_realtime,
        routes::warnings,
        routes::trail,
        routes::stream,
        routes::prometheus,
        routes::openapi,
        iot::write,
        iot::series,
        iot::range,
        iot::stats,
        iot::regress,
        windows::windows,
        forecast::forecast,
        classic::connect,
        classic::publish,
        classic::get_data,
    ),
    components(schemas(model::Tick, iot::PointOut, windows::WindowEvent))
)]
pub struct ApiDoc;

/// Which origins besides the API's own may call it from a browser.
#[derive(Debug, Clone, Default)]
pub enum Cors {
    /// Same origin only (no CORS headers).
    #[default]
    SameOrigin,
    Any,
    Origins(Vec<HeaderValue>),
}

impl Cors {
    /// From `--cors-origin` values: "http://host:port" each, or "*".
    pub fn from_args(origins: &[String]) -> anyhow::Result<Cors> {
        if origins.is_empty() {
            return Ok(Cors::SameOrigin);
        }
        if origins.iter().any(|o| o == "*") {
            return Ok(Cors::Any);
        }
        let parsed = origins
            .iter()
            .map(|o| {
                let o = o.trim_end_matches('/');
                let host = o
                    .strip_prefix("http://")
                    .or_else(|| o.strip_prefix("https://"));
                let ok = host.is_some_and(|h| !h.is_empty() && !h.contains('/'));
                if !ok {
                    bail!("--cors-origin {o:?} is not an origin like http://localhost:5173");
                }
                HeaderValue::from_str(o)
                    .with_context(|| format!("--cors-origin {o:?} is not a valid header value"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Cors::Origins(parsed))
    }

    fn layer(&self) -> Option<CorsLayer> {
        let origins = match self {
            Cors::SameOrigin => return None,
            Cors::Any => AllowOrigin::any(),
            Cors::Origins(list) => AllowOrigin::list(list.clone()),
        };
        Some(
            CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE]),
        )
    }
}

/// The routes, over `state`; every other path is a dashboard file or a
/// JSON 404.
fn router(state: AppState, cors: &Cors) -> Router {
    let router = Router::new()
        .route("/api/health", get(routes::health))
        .route(
            "/api/query",
            get(routes::query_get).post(routes::query_post),
        )
        .route("/api/export", get(routes::export))
        .route("/api/checkpoints", get(routes::checkpoints))
        .route("/api/stats/summary", get(routes::summary))
        .route("/api/stats/kkmc_count", get(routes::kkmc_count))
        .route("/api/stats/flow_24h", get(routes::flow_24h))
        .route("/api/predict", get(predict::predict))
        .route("/api/stats/map_data", get(routes::map_data))
        .route("/api/stats/vehicle_type", get(routes::vehicle_type))
        .route("/api/warnings/realtime", get(routes::warnings_realtime))
        .route("/api/warnings", get(routes::warnings))
        .route("/api/trail", get(routes::trail))
        .route("/api/stream", get(routes::stream))
        .route("/api/iot/write", post(iot::write))
        .route("/api/iot/series", get(iot::series))
        .route("/api/iot/series/{*id}", get(iot::range))
        .route("/api/iot/stats", get(iot::stats))
        .route("/api/iot/regress", get(iot::regress))
        .route("/api/iot/windows", get(windows::windows))
        .route("/api/iot/forecast/{*id}", get(forecast::forecast))
        .route("/connect/", post(classic::connect))
        .route("/publish/", post(classic::publish))
        .route("/get_data/", post(classic::get_data))
        .route("/api/openapi.json", get(routes::openapi))
        .route("/metrics", get(routes::prometheus))
        .fallback(assets::serve)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state);
    match cors.layer() {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// What a server needs.
pub struct ServerConfig {
    pub bind: IpAddr,
    /// 0: any free port.
    pub port: u16,
    pub cors: Cors,
    pub mode: Mode,
    /// Read stores (one per concurrent query; at least one).
    pub readers: Vec<Box<dyn Store>>,
    /// Under `demo`, the feed the pipeline's [`LiveStore`] publishes to.
    pub feed: Feed,
    /// The rules `GET /api/trail` judges legs by.
    pub detector: DetectorConfig,
    /// Where `GET /api/warnings/realtime` reads first, when set.
    pub redis: Option<crate::config::RedisConfig>,
    /// The IoT time-series store the `/api/iot` routes write and read.
    pub series: crate::sinks::series::SharedSeries,
    /// The MQTT connection `/connect/` moves and `/publish/` sends on.
    pub mqtt: std::sync::Arc<crate::sources::mqtt::MqttLink>,
}

/// A running API server.
pub struct Server {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    /// Binds the address (errors come back here) and serves on a new thread.
    pub fn start(config: ServerConfig) -> anyhow::Result<Server> {
        if config.readers.is_empty() {
            bail!("the API needs a store to read");
        }
        let listener =
            std::net::TcpListener::bind((config.bind, config.port)).with_context(|| {
                format!(
                    "cannot listen on {}:{} (in use? --port 0 picks a free port)",
                    config.bind, config.port
                )
            })?;
        listener
            .set_nonblocking(true)
            .context("cannot configure the listening socket")?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let realtime = config
            .redis
            .as_ref()
            .map(|redis| RedisWarnings::new(redis).map(Mutex::new))
            .transpose()?;
        metrics::install();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (live_windows, stored_points) = windows::LiveWindows::start(&config.series);
        let state = AppState::new(Inner {
            pool: ReadPool::new(config.readers),
            feed: config.feed,
            mode: config.mode,
            detector: config.detector,
            realtime,
            series: config.series,
            windows: live_windows,
            mqtt: config.mqtt,
            shutdown: shutdown_rx.clone(),
        });
        let app = router(state.clone(), &config.cors);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(16)
            .thread_name("api")
            .enable_all()
            .build()
            .context("cannot start the API's runtime")?;
        let thread = std::thread::Builder::new()
            .name("api".into())
            .spawn(move || {
                let served = runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .context("cannot use the listening socket")?;
                    tokio::spawn(windows::follow(state.clone(), stored_points));
                    tokio::spawn(feed::poll(state));
                    let mut stop = shutdown_rx.clone();
                    let mut server = tokio::spawn(async move {
                        axum::serve(listener, app)
                            .with_graceful_shutdown(async move {
                                let _ = stop.wait_for(|s| *s).await;
                            })
                            .await
                    });
                    let mut stop = shutdown_rx;
                    tokio::select! {
                        done = &mut server => return finished(done),
                        _ = stop.wait_for(|s| *s) => {}
                    }
                    // Live streams end on shutdown; requests in flight get a moment.
                    match tokio::time::timeout(GRACE, server).await {
                        Ok(done) => finished(done),
                        Err(_) => Ok(()),
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
                served
            })
            .context("cannot start the API thread")?;
        Ok(Server {
            addr,
            shutdown,
            thread: Some(thread),
        })
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// What is at [`Server::url`], for the console.
    pub fn describe(&self) -> String {
        if assets::built() {
            format!("Dashboard and API at {}", self.url())
        } else {
            format!(
                "API at {} (this build has no dashboard: it needs Node.js at build time)",
                self.url()
            )
        }
    }

    /// False once the server stopped by itself (it failed).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops accepting, ends live streams, waits (a few seconds at most)
    /// for requests in flight.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.send_replace(true);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("the API thread panicked"))?,
            None => Ok(()),
        }
    }
}

fn finished(done: Result<std::io::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    done.context("the API server panicked")?
        .context("the API server failed")
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_checked() {
        assert!(matches!(Cors::from_args(&[]).unwrap(), Cors::SameOrigin));
        assert!(matches!(
            Cors::from_args(&["http://a.example".into(), "*".into()]).unwrap(),
            Cors::Any
        ));
        let Cors::Origins(list) = Cors::from_args(&["http://localhost:5173/".into()]).unwrap()
        else {
            panic!("a list of origins");
        };
        assert_eq!(list, ["http://localhost:5173"]);
        for bad in [
            "localhost:5173",
            "http://",
            "http://a/b",
            "ftp://x",
            "http://é/x",
            "http://a\nb",
        ] {
            assert!(Cors::from_args(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
