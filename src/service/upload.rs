//! Image upload in chunks (PUB-01/02, A-89) on the storage interface, and the check other
//! modules use for an image path a client sends ([`stored_image`]).
//!
//! A chunk is streamed to a staged key and published at
//! `uploads/chunks/<uploader id>/<file>/<chunk>`, where `<file>` hashes the client's file id
//! (the form `timestamp`) and `img_name`: an uploader only ever sees their own chunks, and no
//! client text reaches a key. The merge streams the chunks in numeric order into one staged
//! object, checks the bytes are an image (JPEG, PNG, GIF, WebP) and the size, publishes it at
//! `statics/zhugeleida/imgs/qiyeweixin/<dir>/<YYYYMMDDHHMMSS><µs>.<ext>` and removes the
//! chunks. A sweeper removes chunks and staged writes older than `ZGLD_UPLOAD_ABANDON_SECS`.

use std::time::Duration;

use chrono::Utc;
use futures_util::TryStreamExt;
use object_store::path::Path;
use sha2::{Digest, Sha256};

use crate::{
    config::StorageSettings,
    domain::{
        image::{ImageKind, SNIFF_LEN},
        time,
    },
    error::ApiError,
    storage::{self, Staged, Storage, WORK_PREFIX},
};

/// Where a merged image goes, by `img_source` (A-89: also sent as `cover_picture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImgSource {
    Cover,
    Product,
}

impl ImgSource {
    pub fn parse(v: &str) -> Result<ImgSource, ApiError> {
        match v.trim() {
            "cover_picture" => Ok(ImgSource::Cover),
            "product_picture" => Ok(ImgSource::Product),
            _ => Err(ApiError::form(
                "img_source 只能是 cover_picture 或 product_picture",
            )),
        }
    }

    /// The folder under `statics/zhugeleida/imgs/` (API.md 1.9: merged uploads land in
    /// `qiyeweixin/product/`; covers beside them in `qiyeweixin/cover/`).
    fn dir(self) -> &'static str {
        match self {
            ImgSource::Cover => "qiyeweixin/cover",
            ImgSource::Product => "qiyeweixin/product",
        }
    }
}

/// One uploader's one file: the prefix of its chunks.
#[derive(Debug, Clone)]
pub struct Session {
    prefix: Path,
}

impl Session {
    /// The session of `uploader` for the client's file id and name (both required, 303).
    pub fn new(uploader: i64, file_id: &str, img_name: &str) -> Result<Session, ApiError> {
        let file_id = file_id.trim();
        let img_name = img_name.trim();
        if file_id.is_empty() {
            return Err(ApiError::form("timestamp 不能为空"));
        }
        if img_name.is_empty() {
            return Err(ApiError::form("img_name 不能为空"));
        }
        if file_id.chars().count() > 64 {
            return Err(ApiError::form("timestamp 不能超过64个字符"));
        }
        if img_name.chars().count() > 255 {
            return Err(ApiError::form("img_name 不能超过255个字符"));
        }
        let digest = Sha256::new()
            .chain_update(file_id.as_bytes())
            .chain_update([0u8])
            .chain_update(img_name.as_bytes())
            .finalize();
        let file = hex::encode(&digest[..16]);
        Ok(Session {
            prefix: Path::from(format!("{WORK_PREFIX}/chunks/{uploader}/{file}")),
        })
    }

    fn chunk_key(&self, chunk: u32) -> Path {
        // Zero-padded: key order is numeric order.
        self.prefix.child(format!("{chunk:06}"))
    }

    /// The chunks stored so far: `(index, size, key)` in index order.
    async fn chunks(&self, storage: &Storage) -> Result<Vec<(u32, u64, Path)>, ApiError> {
        let listed = storage.list(&self.prefix).await?;
        let mut out: Vec<(u32, u64, Path)> = listed
            .into_iter()
            .filter_map(|m| {
                let n = m.location.filename()?.parse::<u32>().ok()?;
                Some((n, m.size, m.location))
            })
            .collect();
        out.sort_by_key(|c| c.0);
        Ok(out)
    }

    async fn remove(&self, storage: &Storage) {
        match storage.list(&self.prefix).await {
            Ok(all) => {
                for m in all {
                    storage.delete(&m.location).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = ?e, "could not list an upload's chunks to remove them")
            }
        }
    }
}

/// The index a client gave (`chunk`): 0- or 1-based, at most `max_chunks` (303).
pub fn chunk_index(v: i64, limits: &StorageSettings) -> Result<u32, ApiError> {
    u32::try_from(v)
        .ok()
        .filter(|n| *n <= limits.max_chunks)
        .ok_or_else(|| {
            ApiError::form(format!(
                "chunk 只能是 0 到 {} 之间的整数",
                limits.max_chunks
            ))
        })
}

fn too_large(limits: &StorageSettings) -> ApiError {
    ApiError::form(format!("图片不能超过 {} 字节", limits.max_file_bytes))
}

fn not_an_image() -> ApiError {
    ApiError::form("只能上传 JPEG、PNG、GIF 或 WebP 图片")
}

/// PUB-01: publishes a staged chunk as chunk `chunk` of `session` (a retry replaces it).
/// Refuses, and drops the staged bytes, when the file would get too many chunks or too
/// large, or when chunk 0 does not start like an image.
pub async fn store_chunk(
    storage: &Storage,
    limits: &StorageSettings,
    session: &Session,
    chunk: u32,
    staged: Staged,
) -> Result<(), ApiError> {
    let refused = async {
        if chunk == 0 && staged.size >= SNIFF_LEN as u64 && ImageKind::sniff(&staged.head).is_none()
        {
            return Err(not_an_image());
        }
        let others = session.chunks(storage).await?;
        let count = others.iter().filter(|c| c.0 != chunk).count() + 1;
        if count > limits.max_chunks as usize {
            return Err(ApiError::form(format!(
                "分片不能超过 {} 个",
                limits.max_chunks
            )));
        }
        let total: u64 = others
            .iter()
            .filter(|c| c.0 != chunk)
            .map(|c| c.1)
            .sum::<u64>()
            + staged.size;
        if total > limits.max_file_bytes {
            return Err(too_large(limits));
        }
        Ok(())
    }
    .await;
    if let Err(e) = refused {
        storage.delete(&staged.key).await;
        return Err(e);
    }
    storage
        .publish(&staged.key, &session.chunk_key(chunk))
        .await?;
    metrics::counter!("zgld_upload_chunks_total").increment(1);
    Ok(())
}

/// PUB-02: merges chunks `0..n` (or `1..=n`) of `session` into one image and publishes it;
/// returns its `statics/...` path. Missing chunks: 303, the chunks stay for a retry. Too
/// large or not an image: 303, the chunks are removed.
pub async fn merge(
    storage: &Storage,
    limits: &StorageSettings,
    session: &Session,
    chunk_num: i64,
    source: ImgSource,
) -> Result<String, ApiError> {
    let n = u32::try_from(chunk_num)
        .ok()
        .filter(|n| (1..=limits.max_chunks).contains(n))
        .ok_or_else(|| {
            ApiError::form(format!(
                "chunk_num 只能是 1 到 {} 之间的整数",
                limits.max_chunks
            ))
        })?;
    let chunks = session.chunks(storage).await?;
    let Some(first) = chunks.first().map(|c| c.0) else {
        return Err(ApiError::form("没有找到已上传的分片"));
    };
    let base = if first == 0 { 0 } else { 1 };
    for i in 0..n {
        let want = base + i;
        if !chunks.iter().any(|c| c.0 == want) {
            return Err(ApiError::form(format!("分片不完整: 缺少第 {want} 片")));
        }
    }
    if chunks.len() != n as usize {
        return Err(ApiError::form(format!(
            "分片数 {} 与 chunk_num {n} 不符",
            chunks.len()
        )));
    }
    if chunks.iter().map(|c| c.1).sum::<u64>() > limits.max_file_bytes {
        session.remove(storage).await;
        return Err(too_large(limits));
    }
    let _permit = storage
        .merges
        .acquire()
        .await
        .map_err(|e| anyhow::Error::new(e).context("merge semaphore closed"))?;
    let mut w = storage.stage(limits.max_file_bytes);
    for (_, _, key) in &chunks {
        let Some(mut s) = storage.stream(key, None).await? else {
            w.abort().await;
            return Err(ApiError::form("分片不完整: 分片已被删除"));
        };
        loop {
            let piece = match s.try_next().await {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) => {
                    w.abort().await;
                    return Err(e.into());
                }
            };
            if let Err(e) = w.put(piece).await {
                w.abort().await;
                return Err(match e {
                    storage::WriteError::TooLarge(_) => {
                        session.remove(storage).await;
                        too_large(limits)
                    }
                    storage::WriteError::Store(e) => e.into(),
                });
            }
        }
        if ImageKind::sniff(w.head()).is_none() && w.head().len() >= SNIFF_LEN {
            w.abort().await;
            session.remove(storage).await;
            return Err(not_an_image());
        }
    }
    let staged = w.finish().await?;
    let Some(kind) = ImageKind::sniff(&staged.head) else {
        storage.delete(&staged.key).await;
        session.remove(storage).await;
        return Err(not_an_image());
    };
    let stamp = time::local(Utc::now()).format("%Y%m%d%H%M%S%6f");
    let relative = format!(
        "statics/zhugeleida/imgs/{}/{stamp}.{}",
        source.dir(),
        kind.ext()
    );
    storage
        .publish(&staged.key, &Path::from(relative.as_str()))
        .await?;
    session.remove(storage).await;
    metrics::counter!("zgld_upload_merged_total").increment(1);
    metrics::histogram!("zgld_upload_merged_bytes").record(staged.size as f64);
    Ok(relative)
}

/// For other modules (products, website, card photos): checks that `path`, an image path a
/// client sent (`statics/...`, a leading `/` allowed), names a stored JPEG/PNG/GIF/WebP image,
/// and returns it in its stored form (`statics/...`). Anything else is 303 `图片地址无效`
/// (unknown, outside `statics/`, not an image). One small read of the store.
pub async fn stored_image(storage: &Storage, path: &str) -> Result<String, ApiError> {
    let relative = path.trim().trim_start_matches('/');
    let invalid = || ApiError::form("图片地址无效");
    let key = storage::public_key(relative).ok_or_else(invalid)?;
    let head = storage
        .first_bytes(&key, SNIFF_LEN as u64)
        .await?
        .ok_or_else(invalid)?;
    ImageKind::sniff(&head).ok_or_else(invalid)?;
    Ok(relative.to_owned())
}

/// Removes chunks and staged writes older than `age`; returns how many.
pub async fn sweep(storage: &Storage, age: Duration) -> anyhow::Result<usize> {
    let cutoff = Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
    let old: Vec<Path> = storage
        .list(&Path::from(WORK_PREFIX))
        .await?
        .into_iter()
        .filter(|m| m.last_modified < cutoff)
        .map(|m| m.location)
        .collect();
    for key in &old {
        storage.delete(key).await;
    }
    if !old.is_empty() {
        tracing::info!(
            removed = old.len(),
            "upload sweeper removed abandoned chunks"
        );
        metrics::counter!("zgld_upload_swept_total").increment(old.len() as u64);
    }
    Ok(old.len())
}

/// The sweeper of this node: every quarter of `age` (at most every 5 minutes). Nodes sweeping
/// the same store at once is harmless.
pub fn spawn_sweeper(storage: Storage, age: Duration) -> tokio::task::JoinHandle<()> {
    let every = (age / 4).clamp(Duration::from_millis(50), Duration::from_secs(300));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&storage, age).await {
                tracing::warn!(error = ?e, "upload sweep failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_per_uploader_and_hide_client_text() {
        let a = Session::new(1, "1530156149132", "../../x.jpg").unwrap();
        let b = Session::new(2, "1530156149132", "../../x.jpg").unwrap();
        assert_ne!(a.prefix, b.prefix);
        assert!(!a.prefix.as_ref().contains(".."));
        assert!(a.prefix.as_ref().starts_with("uploads/chunks/1/"));
        assert_eq!(a.chunk_key(3).filename(), Some("000003"));
        assert!(Session::new(1, " ", "a.jpg").is_err());
        assert!(Session::new(1, "1", "").is_err());
    }

    #[test]
    fn chunk_indices_are_capped() {
        let limits = StorageSettings::default();
        assert_eq!(chunk_index(0, &limits).unwrap(), 0);
        assert_eq!(chunk_index(1000, &limits).unwrap(), 1000);
        assert!(chunk_index(1001, &limits).is_err());
        assert!(chunk_index(-1, &limits).is_err());
    }
}
