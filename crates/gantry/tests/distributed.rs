//! The distributed pieces against real servers: the two MariaDB instances
//! `scripts/services.sh up` starts (3306 and 3307, or
//! `GANTRY_TEST_MYSQL_SHARDS`), driven through the real binary.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::gantry;
use gantry_core::ShardRouter;
use mysql::prelude::Queryable;

fn servers() -> Vec<String> {
    std::env::var("GANTRY_TEST_MYSQL_SHARDS")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306,mysql://root@127.0.0.1:3307".into())
        .split(',')
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .collect()
}

/// Two shard databases of this test, one per server; dropped on drop.
struct Shards {
    dsns: Vec<String>,
}

impl Shards {
    fn new(tag: &str) -> Self {
        let dsns = servers()
            .iter()
            .cycle()
            .take(2)
            .enumerate()
            .map(|(i, s)| format!("{s}/gantry_it_{tag}_{}_{i}", std::process::id()))
            .collect();
        let shards = Shards { dsns };
        shards.drop_all();
        shards
    }

    fn config(&self, dir: &Path) -> String {
        let path = dir.join("gantry.toml");
        let list: Vec<String> = self.dsns.iter().map(|d| format!("{d:?}")).collect();
        fs::write(
            &path,
            format!(
                "[store]\nengine = \"mysql\"\nmysql_shards = [{}]\n",
                list.join(", ")
            ),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    }

    fn conn(dsn: &str, with_db: bool) -> mysql::Conn {
        let opts = mysql::Opts::from_url(dsn).unwrap();
        let builder = mysql::OptsBuilder::from_opts(opts);
        let builder = if with_db {
            builder
        } else {
            builder.db_name(None::<String>)
        };
        mysql::Conn::new(builder).unwrap()
    }

    /// (rows, distinct GCXH) of each shard.
    fn counts(&self) -> Vec<(u64, u64)> {
        self.dsns
            .iter()
            .map(|dsn| {
                Self::conn(dsn, true)
                    .query_first("SELECT count(*), count(DISTINCT gcxh) FROM passes")
                    .unwrap()
                    .unwrap()
            })
            .collect()
    }

    fn drop_all(&self) {
        for dsn in &self.dsns {
            let db = mysql::Opts::from_url(dsn)
                .unwrap()
                .get_db_name()
                .unwrap()
                .to_owned();
            Self::conn(dsn, false)
                .query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
                .unwrap();
        }
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        self.drop_all();
    }
}

/// Warning ids in `gantry warnings` output.
fn warning_ids(args: &[&str]) -> BTreeSet<String> {
    let mut all = vec!["warnings"];
    all.extend_from_slice(args);
    let out = gantry(&all);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Appends `lines` to the live log while rotating it twice: by rename
/// (kakou.log → kakou.log.1) a third of the way, by copytruncate (copy to
/// kakou.log.2, then empty kakou.log) at two thirds.
fn write_with_rotations(dir: &Path, lines: &[&str]) {
    let live = dir.join("kakou.log");
    let mut file = fs::File::create(&live).unwrap();
    const CHUNK: usize = 150;
    let third = lines.len() / 3 / CHUNK * CHUNK;
    for (i, chunk) in lines.chunks(CHUNK).enumerate() {
        let at = i * CHUNK;
        if at == third {
            fs::rename(&live, dir.join("kakou.log.1")).unwrap();
            file = fs::File::create(&live).unwrap();
        }
        if at == 2 * third {
            fs::copy(&live, dir.join("kakou.log.2")).unwrap();
            file.set_len(0).unwrap();
            file = fs::OpenOptions::new().append(true).open(&live).unwrap();
        }
        for line in chunk {
            writeln!(file, "{line}").unwrap();
        }
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(80));
    }
}

#[test]
fn tail_into_mariadb_shards_survives_kill_9_and_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let input = dir.join("all.log");
    let input_s = input.to_string_lossy().into_owned();
    gantry(&[
        "simulate",
        "--records",
        "6000",
        "--fast",
        "--seed",
        "9",
        "--clones",
        "6",
        "-o",
        &input_s,
    ]);
    let reference = dir.join("reference");
    let reference_s = reference.to_string_lossy().into_owned();
    gantry(&["import", &input_s, "--data-dir", &reference_s]);

    let shards = Shards::new("tail");
    let config = shards.config(dir);
    let live = dir.join("live");
    fs::create_dir(&live).unwrap();
    let pattern = live.join("kakou.log*").to_string_lossy().into_owned();
    let positions = dir.join("positions.json").to_string_lossy().into_owned();
    let text = fs::read_to_string(&input).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    let tail = |extra: &[&str]| {
        let mut args = vec![
            "tail",
            pattern.as_str(),
            "--config",
            &config,
            "--position-file",
            &positions,
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| write_with_rotations(&live, &lines));
        // kill -9 at varied moments while lines flow.
        let mut round = 0u64;
        while !writer.is_finished() {
            let mut child = tail(&[]);
            std::thread::sleep(Duration::from_millis(150 + (round * 137) % 500));
            child.kill().unwrap();
            child.wait().unwrap();
            round += 1;
        }
        writer.join().unwrap();
        assert!(round >= 5, "only {round} kills happened");
    });
    let status = tail(&["--idle-exit-ms", "1500"]).wait().unwrap();
    assert!(status.success());

    let router = ShardRouter::mycat(2);
    let mut expected = [0u64; 2];
    for line in &lines {
        let kkmc = line.split('\t').nth(2).unwrap();
        expected[router.shard_of(kkmc)] += 1;
    }
    let counts = shards.counts();
    assert_eq!(
        counts,
        vec![(expected[0], expected[0]), (expected[1], expected[1])],
        "every line stored exactly once, on its MyCat shard"
    );
    let stored = warning_ids(&["--config", &config]);
    let wanted = warning_ids(&["--data-dir", &reference_s]);
    assert!(!wanted.is_empty());
    assert_eq!(stored, wanted, "warnings equal the uninterrupted import");
}
