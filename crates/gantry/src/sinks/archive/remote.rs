//! Copies committed archive files to an object store over HTTP (a WebDAV
//! server such as Apache's mod_dav, through `object_store`'s HTTP store),
//! keeping the day partitions, and removes each local copy once the store
//! has it. The local directory is the staging area: a file still there is
//! a file not uploaded yet, so an outage or a restart loses nothing, and
//! uploading one again writes the same bytes to the same name.

use std::path::Path;

use anyhow::Context;
use object_store::http::{HttpBuilder, HttpStore};
use object_store::path::Path as StorePath;
use object_store::{ClientOptions, ObjectStoreExt, PutPayload};

use super::parts;

pub struct Remote {
    store: HttpStore,
    runtime: tokio::runtime::Runtime,
}

impl Remote {
    /// The store at `url` (`http://` or `https://`).
    pub fn new(url: &str) -> anyhow::Result<Remote> {
        let store = HttpBuilder::new()
            .with_url(url)
            .with_client_options(ClientOptions::new().with_allow_http(true))
            .build()
            .with_context(|| format!("bad archive url {url}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the archive upload runtime")?;
        Ok(Remote { store, runtime })
    }

    /// Uploads the committed files of `table` under `archive_dir`, oldest
    /// positions first, removing each local copy once stored; returns how
    /// many.
    pub fn upload(&self, archive_dir: &Path, table: &str) -> anyhow::Result<usize> {
        let mut files = parts(&archive_dir.join(table))?;
        files.sort_by(|a, b| (&a.prefix, a.first).cmp(&(&b.prefix, b.first)));
        for part in &files {
            let relative = part
                .path
                .strip_prefix(archive_dir)
                .context("an archive file outside the archive")?;
            let location = StorePath::from(relative.to_string_lossy().as_ref());
            let bytes = std::fs::read(&part.path)
                .with_context(|| format!("cannot read {}", part.path.display()))?;
            self.runtime
                .block_on(self.store.put(&location, PutPayload::from(bytes)))
                .with_context(|| format!("cannot upload {location}"))?;
            std::fs::remove_file(&part.path)
                .with_context(|| format!("cannot remove {}", part.path.display()))?;
        }
        Ok(files.len())
    }
}
