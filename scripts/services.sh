#!/usr/bin/env bash
# Starts the real services the distributed tests use, when they are not
# running yet, and installs what the machine lacks. Idempotent: a second
# `up` only checks.
#
#   scripts/services.sh up      MariaDB :3306 and a second instance :3307,
#                               Redis :6379, Mosquitto :1883, the tansu Kafka broker :19092,
#                               InfluxDB 1.x :18086 (Debian's package); installs
#                               Apache httpd (apache2-bin) for the WebDAV archive test
#   scripts/services.sh down    stops what this script started (not :3306, not Redis)
#   scripts/services.sh env     prints the GANTRY_TEST_* variables the tests read
#
# State (second MariaDB data dir, broker, logs) lives under
# $GANTRY_SERVICES_DIR (default /var/lib/gantry-services, which the mysql
# user can reach, unlike root's home), so later clones reuse it.
set -euo pipefail

STATE=${GANTRY_SERVICES_DIR:-/var/lib/gantry-services}
MARIADB2_PORT=${GANTRY_MARIADB2_PORT:-3307}
KAFKA_PORT=${GANTRY_KAFKA_PORT:-19092}
INFLUX_PORT=${GANTRY_INFLUX_PORT:-18086}
TANSU_VERSION=0.6.0

log() { printf 'services: %s\n' "$*" >&2; }

# Waits up to $2 seconds for `$1` (a command) to succeed.
wait_for() {
    local check=$1 seconds=$2
    for _ in $(seq $((seconds * 10))); do
        if eval "$check" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

mariadb_ok() { mariadb -uroot -h127.0.0.1 -P"$1" -e 'SELECT 1' >/dev/null 2>&1; }

primary_mariadb() {
    if mariadb_ok 3306; then return; fi
    log "starting MariaDB on 3306"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for "mariadb_ok 3306" 60 || { log "MariaDB on 3306 did not start"; exit 1; }
}

# A second, independent server: its own data dir, socket, pid and port, so
# a test can stop one shard while the other keeps running.
second_mariadb() {
    local dir=$STATE/mariadb-$MARIADB2_PORT
    if mariadb_ok "$MARIADB2_PORT"; then return; fi
    mkdir -p "$dir"
    if [ ! -d "$dir/data/mysql" ]; then
        log "initialising a second MariaDB in $dir/data"
        mkdir -p "$dir/data"
        chown -R mysql:mysql "$dir" 2>/dev/null || true
        mariadb-install-db --no-defaults --user=mysql --datadir="$dir/data" \
            --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
    fi
    log "starting the second MariaDB on $MARIADB2_PORT"
    chown -R mysql:mysql "$dir" 2>/dev/null || true
    # Same settings as the machine's server, so both shards compare.
    (setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$dir/data" \
        --port="$MARIADB2_PORT" --bind-address=127.0.0.1 --socket="$dir/mariadbd.sock" \
        --pid-file="$dir/mariadbd.pid" --log-error="$dir/error.log" \
        --innodb-buffer-pool-size=128M --local-infile=1 >/dev/null 2>&1 &)
    wait_for "mariadb_ok $MARIADB2_PORT" 60 || {
        log "the second MariaDB did not start; see $dir/error.log"
        tail -20 "$dir/error.log" >&2 || true
        exit 1
    }
}

redis() {
    if redis-cli -p 6379 ping >/dev/null 2>&1; then return; fi
    log "starting Redis on 6379"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for "redis-cli -p 6379 ping" 20 || { log "Redis did not start"; exit 1; }
}

tansu_bin() {
    local bin
    bin=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
    echo "$bin"
}

# The broker is built from crates.io once (12–19 min on 2 cores) and reused.
install_tansu() {
    local bin
    bin=$(tansu_bin)
    if [ -x "$bin" ] && grep -q "$TANSU_VERSION" <<<"$(cargo install --list | grep '^tansu ')"; then
        return
    fi
    log "building the tansu $TANSU_VERSION Kafka broker (once; about 15 minutes)"
    cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql
}

kafka() {
    if port_open "$KAFKA_PORT"; then return; fi
    install_tansu
    mkdir -p "$STATE"
    log "starting the tansu broker on $KAFKA_PORT"
    (setsid "$(tansu_bin)" broker \
        --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --storage-engine memory://tansu/ >"$STATE/tansu.log" 2>&1 &
        echo $! >"$STATE/tansu.pid")
    wait_for "port_open $KAFKA_PORT" 30 || {
        log "the broker did not start; see $STATE/tansu.log"
        tail -20 "$STATE/tansu.log" >&2 || true
        exit 1
    }
}

# Mosquitto as the machine runs it; a fresh machine may lack its run, log
# and data dirs.
mosquitto() {
    if port_open 1883; then return; fi
    log "starting Mosquitto on 1883"
    mkdir -p /run/mosquitto /var/log/mosquitto /var/lib/mosquitto
    chown mosquitto: /run/mosquitto /var/log/mosquitto /var/lib/mosquitto 2>/dev/null || true
    command mosquitto -d -c /etc/mosquitto/mosquitto.conf
    wait_for "port_open 1883" 20 || { log "Mosquitto did not start"; exit 1; }
}

influx_ok() { curl -sf "http://127.0.0.1:$INFLUX_PORT/ping" >/dev/null 2>&1; }

# InfluxDB 1.x from Debian's packages, on its own data dir and port (the
# package's own service, if any, is left alone).
influxdb() {
    if influx_ok; then return; fi
    if ! command -v influxd >/dev/null; then
        log "installing InfluxDB (Debian package influxdb)"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq influxdb >/dev/null
    fi
    local dir=$STATE/influxdb
    mkdir -p "$dir"
    cat >"$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$((INFLUX_PORT + 2))"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$INFLUX_PORT"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
    log "starting InfluxDB on $INFLUX_PORT"
    (setsid influxd -config "$dir/influxdb.conf" >"$dir/influxd.log" 2>&1 &
        echo $! >"$dir/influxd.pid")
    wait_for influx_ok 60 || {
        log "InfluxDB did not start; see $dir/influxd.log"
        tail -20 "$dir/influxd.log" >&2 || true
        exit 1
    }
}

# Apache httpd's binary and modules (Debian's apache2-bin, no service):
# the archive test runs its own WebDAV server (mod_dav) with it.
apache_httpd() {
    if [ -x /usr/sbin/apache2 ]; then return; fi
    log "installing Apache httpd (Debian package apache2-bin) for the WebDAV archive test"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq apache2-bin >/dev/null
}

down() {
    local dir=$STATE/mariadb-$MARIADB2_PORT
    if [ -f "$dir/mariadbd.pid" ]; then
        kill "$(cat "$dir/mariadbd.pid")" 2>/dev/null || true
    fi
    if [ -f "$STATE/influxdb/influxd.pid" ]; then
        kill "$(cat "$STATE/influxdb/influxd.pid")" 2>/dev/null || true
        rm -f "$STATE/influxdb/influxd.pid"
    fi
    if [ -f "$STATE/tansu.pid" ]; then
        kill "$(cat "$STATE/tansu.pid")" 2>/dev/null || true
        rm -f "$STATE/tansu.pid"
    fi
}

print_env() {
    echo "export GANTRY_TEST_MYSQL_SHARDS=mysql://root@127.0.0.1:3306,mysql://root@127.0.0.1:$MARIADB2_PORT"
    echo "export GANTRY_TEST_MARIADB2_PID_FILE=$STATE/mariadb-$MARIADB2_PORT/mariadbd.pid"
    echo "export GANTRY_TEST_REDIS=redis://127.0.0.1:6379"
    echo "export GANTRY_TEST_KAFKA=127.0.0.1:$KAFKA_PORT"
    echo "export GANTRY_TEST_MQTT=127.0.0.1:1883"
    echo "export GANTRY_TEST_INFLUXDB=http://127.0.0.1:$INFLUX_PORT"
}

case ${1:-up} in
up)
    primary_mariadb
    second_mariadb
    redis
    mosquitto
    [ "${GANTRY_SKIP_KAFKA:-}" = 1 ] || kafka
    [ "${GANTRY_SKIP_KAFKA:-}" = 1 ] || influxdb
    apache_httpd
    log "up: MariaDB 3306 and $MARIADB2_PORT, Redis 6379, Mosquitto 1883, Kafka $KAFKA_PORT, InfluxDB $INFLUX_PORT"
    ;;
down) down ;;
env) print_env ;;
*)
    echo "usage: $0 up|down|env" >&2
    exit 2
    ;;
esac
