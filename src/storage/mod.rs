//! The one interface to stored files (the `object_store` crate): a local directory by default
//! (`ZGLD_STATIC_DIR`), any S3-compatible bucket by configuration (`ZGLD_STORAGE=s3`). Every
//! file the server writes or serves goes through it: uploaded images (PUB-01/02), card photos,
//! the salespeople's mini-program codes (QYW-46), and `/statics/...` (serve.rs).
//!
//! Keys are the documented relative paths (`statics/zhugeleida/imgs/...`, API.md 1.9), so a
//! stored path is also the object's key. Work in progress lives under `uploads/` (never
//! served): `uploads/tmp/<uuid>` for staged writes, `uploads/chunks/<uploader>/<file>/<n>` for
//! upload chunks. A write goes to a staged key first and is published with one rename, so a
//! reader never sees half a file (docs/upload.md).

pub mod serve;

use std::{ops::Range, sync::Arc};

use anyhow::Context;
use bytes::Bytes;
use futures_util::{stream::BoxStream, StreamExt, TryStreamExt};
use object_store::{
    buffered::BufWriter, path::Path, GetOptions, GetResult, GetResultPayload, ObjectMeta,
    ObjectStore,
};
use tokio::sync::Semaphore;

use crate::{config::Settings, domain::image::SNIFF_LEN};

/// Prefix of everything that is not (yet) a published file.
pub const WORK_PREFIX: &str = "uploads";
/// Prefix of the published files.
pub const PUBLIC_PREFIX: &str = "statics";

/// A cheap-clone handle on the store.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Size of the parts a write is cut into: memory held per write in flight (a local file
    /// takes small parts; S3 needs at least 5 MiB per part but the last).
    part_size: usize,
    /// Merges in flight on this node; each holds a few parts of memory (docs/upload.md).
    pub merges: Arc<Semaphore>,
    /// `local` or `s3`, for logs.
    pub kind: &'static str,
}

/// Merges one node runs at once; more wait. Each holds about `2 × part_size` of memory.
const MERGES_PER_NODE: usize = 16;

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.kind)
    }
}

/// Why a staged write stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// More bytes than the writer's limit.
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl Storage {
    /// The store `settings` ask for: S3 when configured, else the local `static_dir`.
    pub fn open(settings: &Settings) -> anyhow::Result<Storage> {
        let merges = Arc::new(Semaphore::new(MERGES_PER_NODE));
        match &settings.storage.s3 {
            Some(s3) => {
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region);
                if let Some(endpoint) = &s3.endpoint {
                    b = b
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let Some(k) = &s3.access_key_id {
                    b = b.with_access_key_id(k);
                }
                if let Some(s) = &s3.secret_access_key {
                    b = b.with_secret_access_key(s.expose());
                }
                let store = b.build().context("configuring the S3 store (ZGLD_S3_*)")?;
                Ok(Storage {
                    store: Arc::new(store),
                    part_size: 5 * 1024 * 1024,
                    merges,
                    kind: "s3",
                })
            }
            None => {
                let root = &settings.static_dir;
                std::fs::create_dir_all(root)
                    .with_context(|| format!("creating ZGLD_STATIC_DIR {}", root.display()))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(root)
                    .with_context(|| format!("opening ZGLD_STATIC_DIR {}", root.display()))?
                    .with_automatic_cleanup(true);
                Ok(Storage {
                    store: Arc::new(store),
                    part_size: 256 * 1024,
                    merges,
                    kind: "local",
                })
            }
        }
    }

    /// Metadata of `key`, `None` when there is no such file.
    pub async fn head(&self, key: &Path) -> anyhow::Result<Option<ObjectMeta>> {
        match self.store.head(key).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("head {key}"))),
        }
    }

    /// The first `n` bytes of `key` (fewer when the file is shorter), `None` when there is
    /// no such file.
    pub async fn first_bytes(&self, key: &Path, n: u64) -> anyhow::Result<Option<Bytes>> {
        let Some(meta) = self.head(key).await? else {
            return Ok(None);
        };
        let end = n.min(meta.size);
        if end == 0 {
            return Ok(Some(Bytes::new()));
        }
        let opts = GetOptions {
            range: Some((0..end).into()),
            ..Default::default()
        };
        match self.get(key, opts).await? {
            Some(r) => Ok(Some(
                r.bytes().await.with_context(|| format!("read {key}"))?,
            )),
            None => Ok(None),
        }
    }

    /// A read of `key`; `Ok(None)` when there is no such file.
    pub async fn get(&self, key: &Path, opts: GetOptions) -> anyhow::Result<Option<GetResult>> {
        match self.store.get_opts(key, opts).await {
            Ok(r) => Ok(Some(r)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("get {key}"))),
        }
    }

    /// The bytes of `range` of `key` as a stream (None when the file is gone).
    pub async fn stream(
        &self,
        key: &Path,
        range: Option<Range<u64>>,
    ) -> anyhow::Result<Option<BoxStream<'static, anyhow::Result<Bytes>>>> {
        let opts = GetOptions {
            range: range.map(Into::into),
            ..Default::default()
        };
        Ok(self.get(key, opts).await?.map(into_stream))
    }

    /// Writes `bytes` to `key` atomically (staged, then published).
    pub async fn put(&self, key: &Path, bytes: Bytes) -> anyhow::Result<()> {
        let mut w = self.stage(bytes.len() as u64);
        match w.put(bytes).await {
            Ok(()) => {}
            Err(e) => {
                w.abort().await;
                return Err(anyhow::anyhow!("staging {key}: {e}"));
            }
        }
        let staged = w.finish().await?;
        self.publish(&staged.key, key).await
    }

    /// A new staged write of at most `limit` bytes.
    pub fn stage(&self, limit: u64) -> Staging {
        let key = Path::from(format!(
            "{WORK_PREFIX}/tmp/{}",
            uuid::Uuid::new_v4().simple()
        ));
        Staging {
            writer: Some(
                BufWriter::with_capacity(self.store.clone(), key.clone(), self.part_size)
                    .with_max_concurrency(2),
            ),
            key,
            written: 0,
            limit,
            head: Vec::with_capacity(SNIFF_LEN),
        }
    }

    /// Moves a staged object to `dest` in one step; a reader sees the whole file or none.
    pub async fn publish(&self, staged: &Path, dest: &Path) -> anyhow::Result<()> {
        let r = self.store.rename(staged, dest).await;
        if r.is_err() {
            self.delete(staged).await;
        }
        r.with_context(|| format!("publishing {dest}"))
    }

    /// Removes `key`; a missing file is fine, other failures are logged (the sweeper retries
    /// what is under `uploads/`).
    pub async fn delete(&self, key: &Path) {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(%key, error = %e, "could not delete a stored file"),
        }
    }

    /// Every object under `prefix`, in key order.
    pub async fn list(&self, prefix: &Path) -> anyhow::Result<Vec<ObjectMeta>> {
        let mut all: Vec<ObjectMeta> = self
            .store
            .list(Some(prefix))
            .try_collect()
            .await
            .with_context(|| format!("listing {prefix}"))?;
        all.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(all)
    }
}

/// A read as a stream of bytes. Local files are read in 64 KiB pieces (object_store's own
/// local stream reads 8 KiB per blocking call).
pub fn into_stream(r: GetResult) -> BoxStream<'static, anyhow::Result<Bytes>> {
    let range = r.range.clone();
    match r.payload {
        GetResultPayload::File(file, _path) => {
            let fut = async move {
                use tokio::io::{AsyncReadExt, AsyncSeekExt};
                let mut f = tokio::fs::File::from_std(file);
                f.seek(std::io::SeekFrom::Start(range.start)).await?;
                Ok::<_, std::io::Error>(read_pieces(f.take(range.end.saturating_sub(range.start))))
            };
            futures_util::stream::once(fut)
                .try_flatten()
                .map_err(|e| anyhow::Error::new(e).context("reading a stored file"))
                .boxed()
        }
        GetResultPayload::Stream(s) => s
            .map_err(|e| anyhow::Error::new(e).context("reading a stored file"))
            .boxed(),
    }
}

/// An `AsyncRead` as a stream of 64 KiB `Bytes`.
fn read_pieces<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    r: R,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    const PIECE: usize = 64 * 1024;
    futures_util::stream::try_unfold(r, |mut r| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = bytes::BytesMut::with_capacity(PIECE);
        while buf.len() < PIECE {
            if r.read_buf(&mut buf).await? == 0 {
                break;
            }
        }
        if buf.is_empty() {
            Ok(None)
        } else {
            Ok(Some((buf.freeze(), r)))
        }
    })
    .boxed()
}

/// A write in progress to a staged key: counts bytes against a limit and keeps the first
/// bytes (to tell the image format).
pub struct Staging {
    writer: Option<BufWriter>,
    key: Path,
    written: u64,
    limit: u64,
    head: Vec<u8>,
}

/// A finished staged object, not yet published.
#[derive(Debug, Clone)]
pub struct Staged {
    pub key: Path,
    pub size: u64,
    /// Its first bytes (up to [`SNIFF_LEN`]).
    pub head: Vec<u8>,
}

impl Staging {
    /// Bytes so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The first bytes so far.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Appends `bytes`; refuses (and writes nothing of them) past the limit.
    pub async fn put(&mut self, bytes: Bytes) -> Result<(), WriteError> {
        let after = self.written + bytes.len() as u64;
        if after > self.limit {
            return Err(WriteError::TooLarge(self.limit));
        }
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
        self.written = after;
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("staged write already closed"))?;
        w.put(bytes)
            .await
            .map_err(|e| WriteError::Store(anyhow::Error::new(e).context("staged write")))
    }

    /// Closes the write; the object exists under `key` afterwards.
    pub async fn finish(mut self) -> anyhow::Result<Staged> {
        use tokio::io::AsyncWriteExt;
        let mut w = self
            .writer
            .take()
            .ok_or_else(|| anyhow::anyhow!("staged write already closed"))?;
        if let Err(e) = w.shutdown().await {
            // No `abort` here: object_store's BufWriter panics on an abort after a shutdown
            // began ("Already shut down"). Whatever part of the object exists is under the
            // work prefix, which the upload sweeper clears (src/service/upload.rs).
            drop(w);
            return Err(anyhow::Error::new(e).context("finishing a staged write"));
        }
        Ok(Staged {
            key: self.key.clone(),
            size: self.written,
            head: std::mem::take(&mut self.head),
        })
    }

    /// Drops what was written.
    pub async fn abort(mut self) {
        if let Some(mut w) = self.writer.take() {
            if let Err(e) = w.abort().await {
                tracing::warn!(key = %self.key, error = %e, "could not abort a staged write");
            }
        }
    }
}

/// The store key of a client-given relative path, or `None` when it is not a plain path below
/// the root: no empty, `.`-leading (`.`, `..`, hidden) or `#` segments (local staging files are
/// `name#n`), no backslashes or control characters.
pub fn key(relative: &str) -> Option<Path> {
    if relative.is_empty() || relative.len() > 1024 {
        return None;
    }
    for seg in relative.split('/') {
        if seg.is_empty()
            || seg.starts_with('.')
            || seg
                .chars()
                .any(|c| c == '\\' || c == '#' || c == '%' || c.is_control())
        {
            return None;
        }
    }
    Path::parse(relative).ok()
}

/// The key of a published file (`statics/...`), `None` for anything else.
pub fn public_key(relative: &str) -> Option<Path> {
    let k = key(relative)?;
    relative
        .strip_prefix(PUBLIC_PREFIX)
        .is_some_and(|rest| rest.starts_with('/'))
        .then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_leave_the_root() {
        assert!(public_key("statics/zhugeleida/imgs/a.jpg").is_some());
        assert!(public_key("statics/imgs/hello.txt").is_some());
        for bad in [
            "",
            "statics",
            "statics/",
            "/statics/a.jpg",
            "statics/../private.txt",
            "statics/./a.jpg",
            "statics//a.jpg",
            "statics/..\\private.txt",
            "statics/a.jpg#1",
            "statics/.hidden",
            "statics/%2e%2e/x",
            "statics/a\u{0}b",
            "uploads/tmp/x",
            "staticsx/a.jpg",
        ] {
            assert!(public_key(bad).is_none(), "{bad:?}");
        }
    }
}
