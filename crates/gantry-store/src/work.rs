//! A batch split by shard, the same way for every engine.

use gantry_core::{Pass, Rejection, ShardRouter, Warning};

use crate::Batch;

/// What one shard stores of a batch.
#[derive(Default)]
pub(crate) struct ShardWork<'a> {
    pub passes: Vec<&'a Pass>,
    pub warnings: Vec<&'a Warning>,
    pub rejected: &'a [Rejection],
}

impl ShardWork<'_> {
    pub fn is_empty(&self) -> bool {
        self.passes.is_empty() && self.warnings.is_empty() && self.rejected.is_empty()
    }
}

/// Splits `batch` by shard: a pass goes where MyCat puts its KKMC, a
/// warning where its second sighting's checkpoint is (the plate's latest
/// sighting, so a reader of one shard sees the warning beside the pass that
/// raised it), rejected rows to shard 0.
pub(crate) fn split<'a>(batch: &'a Batch, router: &ShardRouter) -> Vec<ShardWork<'a>> {
    let mut work: Vec<ShardWork<'a>> = (0..router.shards()).map(|_| ShardWork::default()).collect();
    for pass in &batch.passes {
        work[router.shard_of(&pass.checkpoint)].passes.push(pass);
    }
    for warning in &batch.warnings {
        work[router.shard_of(&warning.second.checkpoint)]
            .warnings
            .push(warning);
    }
    if let Some(first) = work.first_mut() {
        first.rejected = &batch.rejected;
    }
    work
}
