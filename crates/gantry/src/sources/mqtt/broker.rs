//! An MQTT broker inside gantry (rumqttd), so `gantry demo` takes device
//! readings with no other service: devices publish to it, and the demo's
//! MQTT source follows it like any broker.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use anyhow::Context;

/// The port devices know MQTT by.
pub const DEFAULT_PORT: u16 = 1883;

/// Starts the broker on 127.0.0.1:`port` in its own thread; `None` takes
/// 1883, or any free port when 1883 is in use. Returns the address.
pub fn start(port: Option<u16>) -> anyhow::Result<SocketAddr> {
    let listen = free_address(port)?;
    let config: rumqttd::Config = toml::from_str(&config(listen))
        .context("the embedded MQTT broker's settings do not parse")?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                eprintln!("gantry: the embedded MQTT broker stopped: {e}");
            }
        })
        .context("cannot start the embedded MQTT broker")?;
    wait_until_listening(listen)?;
    Ok(listen)
}

/// rumqttd binds inside its thread: callers announce the address, and
/// devices connect to it, only once it accepts connections.
fn wait_until_listening(at: SocketAddr) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(at).is_err() {
        if std::time::Instant::now() >= deadline {
            anyhow::bail!("the embedded MQTT broker did not start listening on {at}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

/// rumqttd reports a port in use only inside its thread, so the port is
/// tried here first.
fn free_address(port: Option<u16>) -> anyhow::Result<SocketAddr> {
    let at = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let probe = match port {
        Some(port) => TcpListener::bind(at(port)).with_context(|| {
            format!(
                "cannot listen for MQTT on {} (in use? --mqtt-port 0 picks a free port)",
                at(port)
            )
        })?,
        None => TcpListener::bind(at(DEFAULT_PORT))
            .or_else(|_| TcpListener::bind(at(0)))
            .context("cannot find a free port for the embedded MQTT broker")?,
    };
    probe
        .local_addr()
        .context("cannot read the MQTT broker's address")
}

/// One MQTT 3.1.1 listener on `listen`, local clients only.
fn config(listen: SocketAddr) -> String {
    format!(
        r#"id = 0

[router]
id = 0
max_connections = 1000
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "{listen}"
next_connection_delay_ms = 1

[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 262144
max_inflight_count = 100
dynamic_filters = true
"#
    )
}
