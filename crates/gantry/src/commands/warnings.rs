//! `gantry warnings`: every stored warning, as JSON lines or a table.

use std::io::{BufWriter, Write};

use gantry_core::time::format_pass_time;
use gantry_core::Warning;
use gantry_store::{WarningQuery, MAX_PAGE_SIZE};

use crate::cli::{WarningFormat, WarningsArgs};
use crate::sinks::jsonl;

pub fn run(args: WarningsArgs) -> anyhow::Result<()> {
    let store = super::open_existing_store(&args.store)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    if let WarningFormat::Table = args.format {
        writeln!(
            out,
            "{:<16}  {:<10} {:<4} {:<19}  {:<24} {:<19}  {:<24} {:>9} {:>8} {:>9}  rule",
            "id",
            "hphm",
            "hpzl",
            "first gcsj",
            "first kkmc",
            "second gcsj",
            "second kkmc",
            "km",
            "s",
            "km/h"
        )?;
    }
    let mut query = WarningQuery {
        size: MAX_PAGE_SIZE,
        ..WarningQuery::default()
    };
    loop {
        let page = store.warnings(&query)?;
        for warning in &page.items {
            match args.format {
                WarningFormat::Jsonl => jsonl::write_warning(&mut out, warning)?,
                WarningFormat::Table => write_row(&mut out, warning)?,
            }
        }
        if page.items.is_empty() || query.page * query.size >= page.total {
            break;
        }
        query.page += 1;
    }
    out.flush()?;
    Ok(())
}

fn write_row(out: &mut impl Write, w: &Warning) -> anyhow::Result<()> {
    let num = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.1}"));
    writeln!(
        out,
        "{:<16}  {:<10} {:<4} {:<19}  {:<24} {:<19}  {:<24} {:>9} {:>8} {:>9}  {}",
        w.id,
        w.plate,
        w.plate_type,
        format_pass_time(w.first.time),
        w.first.checkpoint,
        format_pass_time(w.second.time),
        w.second.checkpoint,
        num(w.distance_km),
        w.interval_s,
        num(w.speed_kmh),
        w.rule.as_str()
    )?;
    Ok(())
}
