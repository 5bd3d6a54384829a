// scratch experiment, to be deleted
use gantry_store::*;
use rusqlite::Connection;
#[path = "../benches/synth.rs"]
mod synth;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let threads: usize = std::env::var("T").ok().map_or(1, |t| t.parse().unwrap());
    let t0 = std::time::Instant::now();
    std::thread::scope(|s| { for _ in 0..threads { let a = a.clone(); s.spawn(move || run(a)); } });
    println!("all: {} rows/s", (threads as f64 * a[1].parse::<f64>().unwrap() / t0.elapsed().as_secs_f64()) as u64);
}
fn run(a: Vec<String>) {
    let n: usize = a[1].parse().unwrap();
    let without_rowid = a[2] == "wr";
    let page: u32 = a[3].parse().unwrap();
    let idx = &a[4]; // letters: t=gcsj h=hphm k=kkmc_gcsj
    let sort = a.get(5).is_some_and(|s| s == "sort");
    let tmp = tempfile::TempDir::new().unwrap();
    let c = Connection::open(tmp.path().join("x.sqlite")).unwrap();
    c.execute_batch(&format!("PRAGMA page_size={page}; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=4096;")).unwrap();
    c.execute_batch(&format!("CREATE TABLE passes (gcxh TEXT PRIMARY KEY NOT NULL, xzqhmc TEXT NOT NULL, kkmc TEXT NOT NULL, fxlx TEXT NOT NULL, gcsj TEXT NOT NULL, hpzl TEXT NOT NULL, hphm TEXT NOT NULL, clppxh TEXT NOT NULL, province TEXT NOT NULL, is_weekend INTEGER NOT NULL, is_peak_hour INTEGER NOT NULL, vehicle_type_name TEXT NOT NULL){};", if without_rowid {" WITHOUT ROWID"} else {""})).unwrap();
    if idx.contains('t') { c.execute_batch("CREATE INDEX i1 ON passes(gcsj)").unwrap(); }
    if idx.contains('h') { c.execute_batch("CREATE INDEX i2 ON passes(hphm)").unwrap(); }
    if idx.contains('k') { c.execute_batch("CREATE INDEX i3 ON passes(kkmc, gcsj)").unwrap(); }
    let _ = Batch::default();
    let mut done = 0;
    let mut c = c;
    let mut gen = std::time::Duration::ZERO;
    let t0 = std::time::Instant::now();
    while done < n {
        let tg = std::time::Instant::now();
        let bsz: usize = std::env::var("B").ok().map_or(50_000, |t| t.parse().unwrap());
        let mut ps = synth::passes(done as u64, bsz);
        if sort { ps.sort_by(|a, b| a.id.cmp(&b.id)); }
        gen += tg.elapsed();
        done += ps.len();
        let tx = c.transaction().unwrap();
        {
            let m: usize = std::env::var("M").ok().map_or(1, |t| t.parse().unwrap());
            let ret = std::env::var("RET").is_ok();
            let one = "(?,?,?,?,?,?,?,?,?,?,?,?)";
            let sql = format!("INSERT INTO passes VALUES {} ON CONFLICT(gcxh) DO NOTHING{}", vec![one; m].join(","), if ret {" RETURNING gcxh"} else {""});
            let sql1 = format!("INSERT INTO passes VALUES {} ON CONFLICT(gcxh) DO NOTHING", one);
            let mut st = tx.prepare_cached(&sql).unwrap();
            let mut st1 = tx.prepare_cached(&sql1).unwrap();
            let ts: Vec<String> = ps.iter().map(|p| p.time.format("%Y-%m-%d %H:%M:%S").to_string()).collect();
            let mut i = 0;
            while i < ps.len() {
                let (stm, k) = if ps.len() - i >= m { (&mut st, m) } else { (&mut st1, 1) };
                for j in 0..k {
                    let p = &ps[i + j];
                    let b = j * 12;
                    stm.raw_bind_parameter(b + 1, p.id.as_str()).unwrap();
                    stm.raw_bind_parameter(b + 2, p.district.as_str()).unwrap();
                    stm.raw_bind_parameter(b + 3, p.checkpoint.as_str()).unwrap();
                    stm.raw_bind_parameter(b + 4, p.direction.as_str()).unwrap();
                    stm.raw_bind_parameter(b + 5, ts[i + j].as_str()).unwrap();
                    stm.raw_bind_parameter(b + 6, p.plate_type.as_str()).unwrap();
                    stm.raw_bind_parameter(b + 7, p.plate.as_str()).unwrap();
                    stm.raw_bind_parameter(b + 8, p.brand.as_str()).unwrap();
                    stm.raw_bind_parameter(b + 9, "四川").unwrap();
                    stm.raw_bind_parameter(b + 10, 0).unwrap();
                    stm.raw_bind_parameter(b + 11, 1).unwrap();
                    stm.raw_bind_parameter(b + 12, "小型汽车").unwrap();
                }
                if ret && k == m {
                    let mut rows = stm.raw_query();
                    let mut c = 0;
                    while let Some(r) = rows.next().unwrap() { let _: &str = r.get_ref(0).unwrap().as_str().unwrap(); c += 1; }
                    assert!(c <= k);
                } else {
                    stm.raw_execute().unwrap();
                }
                i += k;
            }
        }
        tx.commit().unwrap();
    }
    let el = t0.elapsed() - gen;
    if std::env::var("POST").is_ok() {
        let tp = std::time::Instant::now();
        c.execute_batch(&std::env::var("POST").unwrap()).unwrap();
        c.execute_batch("CREATE INDEX i1 ON passes(gcsj); CREATE INDEX i2 ON passes(hphm); CREATE INDEX i3 ON passes(kkmc, gcsj);").unwrap();
        let p = tp.elapsed();
        println!("post index {:.2}s -> overall {} rows/s", p.as_secs_f64(), (n as f64 / (el + p).as_secs_f64()) as u64);
    }
    println!("{} rows/s (gen {:.2}s)", (n as f64 / el.as_secs_f64()) as u64, gen.as_secs_f64());
}
