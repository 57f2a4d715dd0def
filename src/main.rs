//! The `zhugeleida` binary: parse the command line, set up logs, run.

use clap::Parser;

/// mimalloc instead of glibc malloc: glibc's malloc and free took ~19 % of the server's CPU
/// under radar ingest (docs/BENCHMARKS.md, allocator experiment).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let blocking = match zhugeleida::config::blocking_threads() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(blocking)
        .build();
    match runtime {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> std::process::ExitCode {
    zhugeleida::telemetry::init();
    // Every WebSocket is a file descriptor: take the hard limit.
    match zhugeleida::serve::raise_open_files_limit() {
        Ok(l) => tracing::info!(
            before = l.before,
            after = l.after,
            hard = l.hard,
            "open-files limit (RLIMIT_NOFILE): {} (each WebSocket takes one)",
            l.after
        ),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
    let cli = zhugeleida::cli::Cli::parse();
    match zhugeleida::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = ?e, "fatal");
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
