//! Image upload benchmarks (issue 11, docs/BENCHMARKS.md "Upload"): one image of `size` bytes
//! in `chunk`-byte chunks (PUB-01 multipart file parts, then PUB-02) until it is servable, and
//! `concurrent` such uploads at once while the server's resident memory is sampled.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use bytes::Bytes;
use hdrhistogram::Histogram;
use md5::{Digest, Md5};
use serde_json::{json, Value};

use super::{prepare, round, token, Env, Node};

#[derive(clap::Args, Debug, Clone)]
pub struct UploadArgs {
    /// Image size, bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    size: usize,
    /// Chunk size, bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    chunk: usize,
    /// Timed single uploads (one after the other).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Uploads at once in the memory phase, each by its own salesperson.
    #[arg(long, default_value_t = 100)]
    concurrent: usize,
    /// The server's static directory (emptied first).
    #[arg(long, default_value = "/tmp/zgld-bench-statics")]
    dir: String,
}

/// A strictly increasing millisecond timestamp: every write signature is unique (the server
/// refuses a replayed one).
fn signed(id: usize) -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let ts = LAST
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |l| {
            Some(l.max(now - 1) + 1)
        })
        .map(|l| l.max(now - 1) + 1)
        .unwrap_or(now);
    let sig = hex::encode(Md5::digest(format!("{ts}{}", token('u', id)).as_bytes()));
    format!("rand_str={sig}&timestamp={ts}&user_id={id}")
}

fn image(size: usize) -> Bytes {
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(&[
        0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
    ]);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while v.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(size);
    Bytes::from(v)
}

struct Timing {
    total: Duration,
    merge: Duration,
}

/// Uploads `data` as user `uid` and checks it is served whole; returns the timings.
async fn one_upload(
    http: &reqwest::Client,
    port: u16,
    uid: usize,
    file_id: &str,
    data: &Bytes,
    chunk: usize,
) -> anyhow::Result<Timing> {
    let base = format!("http://127.0.0.1:{port}/zhugeleida/public");
    let start = Instant::now();
    let n = data.len().div_ceil(chunk);
    for i in 0..n {
        let part = data.slice(i * chunk..((i + 1) * chunk).min(data.len()));
        let len = part.len() as u64;
        let form = reqwest::multipart::Form::new()
            .text("img_name", "bench.jpg")
            .text("timestamp", file_id.to_owned())
            .text("chunk", i.to_string())
            .text("img_source", "product_picture")
            .part(
                "img_data",
                reqwest::multipart::Part::stream_with_length(reqwest::Body::from(part), len)
                    .file_name("blob"),
            );
        let r: Value = http
            .post(format!("{base}/img_upload?{}", signed(uid)))
            .multipart(form)
            .send()
            .await?
            .json()
            .await?;
        if r["code"] != 200 {
            bail!("chunk {i}: {r}");
        }
    }
    let merge_start = Instant::now();
    let r: Value = http
        .post(format!("{base}/img_merge?{}", signed(uid)))
        .form(&[
            ("img_name", "bench.jpg"),
            ("timestamp", file_id),
            ("chunk_num", &n.to_string()),
            ("img_source", "product_picture"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let url = r["data"]["ret_data"]["picture_url"]
        .as_str()
        .with_context(|| format!("merge: {r}"))?
        .to_owned();
    let head = http
        .head(format!("http://127.0.0.1:{port}/{url}"))
        .send()
        .await?;
    let merge = merge_start.elapsed();
    let total = start.elapsed();
    let served_len = head
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if head.status() != 200 || served_len != Some(data.len()) {
        bail!("{url} not servable: {} {served_len:?}", head.status());
    }
    Ok(Timing { total, merge })
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    round(h.value_at_quantile(q) as f64 / 1000.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

pub async fn run(env: &Env, a: &UploadArgs) -> anyhow::Result<Value> {
    if a.chunk == 0 || a.size == 0 {
        bail!("--size and --chunk must be positive");
    }
    prepare(env, a.concurrent.max(1), 1).await?;
    let _ = std::fs::remove_dir_all(&a.dir);
    std::fs::create_dir_all(&a.dir)?;
    let max = a.size.max(a.chunk).to_string();
    let node = Node::start(
        env,
        18_500,
        false,
        &[
            ("ZGLD_STATIC_DIR", a.dir.as_str()),
            ("ZGLD_UPLOAD_MAX_FILE_BYTES", max.as_str()),
            ("ZGLD_UPLOAD_MAX_CHUNK_BYTES", max.as_str()),
        ],
    )
    .await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let data = image(a.size);

    // Warm up (connections, the first files), then time single uploads.
    for w in 0..3 {
        one_upload(&http, node.port, 1, &format!("warm{w}"), &data, a.chunk).await?;
    }
    let load_single = loadavg();
    let mut total = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut merge = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for r in 0..a.runs {
        let t = one_upload(&http, node.port, 1, &format!("run{r}"), &data, a.chunk).await?;
        total.record(t.total.as_micros().max(1) as u64)?;
        merge.record(t.merge.as_micros().max(1) as u64)?;
    }
    eprintln!("upload: single uploads done");

    // Concurrent uploads with the server's RSS sampled every 10 ms.
    let rss_before = node.rss_kib();
    let peak = Arc::new(AtomicU64::new(rss_before));
    let stop = Arc::new(AtomicBool::new(false));
    let pid = node.pid();
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(pid.map(super::rss_kib_of).unwrap_or(0), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(a.concurrent);
    for i in 0..a.concurrent {
        let (http, data, port, chunk) = (http.clone(), data.clone(), node.port, a.chunk);
        tasks.push(tokio::spawn(async move {
            one_upload(&http, port, i + 1, &format!("c{i}"), &data, chunk).await
        }));
    }
    let mut ok = 0;
    let mut errors = Vec::new();
    let mut conc = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for t in tasks {
        match t.await? {
            Ok(t) => {
                ok += 1;
                conc.record(t.total.as_micros().max(1) as u64)?;
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let wall = started.elapsed();
    let load_concurrent = loadavg();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let rss_after = node.rss_kib();
    let peak = peak.load(Ordering::Relaxed);
    errors.truncate(5);
    drop(node);
    let _ = std::fs::remove_dir_all(&a.dir);
    Ok(json!({
        "size_bytes": a.size,
        "chunk_bytes": a.chunk,
        "single": {
            "runs": a.runs,
            "upload_to_servable_p50_ms": ms(&total, 0.5),
            "upload_to_servable_p99_ms": ms(&total, 0.99),
            "upload_to_servable_max_ms": ms(&total, 1.0),
            "merge_to_servable_p50_ms": ms(&merge, 0.5),
            "merge_to_servable_max_ms": ms(&merge, 1.0),
            "loadavg": load_single,
        },
        "concurrent": {
            "uploads": a.concurrent,
            "ok": ok,
            "errors": errors,
            "wall_s": round(wall.as_secs_f64()),
            "upload_to_servable_p50_ms": ms(&conc, 0.5),
            "upload_to_servable_max_ms": ms(&conc, 1.0),
            "rss_before_mib": round(rss_before as f64 / 1024.0),
            "rss_peak_mib": round(peak as f64 / 1024.0),
            "rss_growth_peak_mib": round(peak.saturating_sub(rss_before) as f64 / 1024.0),
            "rss_after_mib": round(rss_after as f64 / 1024.0),
            "loadavg": load_concurrent,
        },
    }))
}
