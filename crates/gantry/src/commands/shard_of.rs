//! `gantry shard-of`: what an operator asks when checking a MyCat deployment.

use std::io::Write;

use gantry_core::ShardRouter;

use crate::cli::ShardOfArgs;

pub fn run(args: ShardOfArgs) -> anyhow::Result<()> {
    let router = ShardRouter::mycat(usize::from(args.shards));
    let mut out = std::io::stdout().lock();
    for name in &args.kkmc {
        writeln!(out, "{name}\t{}", router.shard_of(name))?;
    }
    Ok(())
}
