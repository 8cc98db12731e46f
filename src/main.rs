#![forbid(unsafe_code)]

use clap::Parser;

// jemalloc instead of the C library's allocator: under sustained ingest glibc's free lists
// fragment and each allocation walks them longer as the store grows (measured: malloc's share of
// the service's CPU per message grew by half over a million messages). Its settings (background
// purging, two arenas, freed pages returned after a second) are compiled in from
// `.cargo/config.toml`, so what is freed leaves the resident memory within a second. It is built
// to take the place of `malloc` itself (Cargo.toml), so SQLite, which allocates with `malloc`,
// uses it too: in the C library's allocator SQLite's memory grew by about 1.7 MiB a minute under
// steady load, in 14 per-thread arenas that did not give it back (issue 17).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() {
    let cli = tavla::cli::Cli::parse();
    if let Err(e) = tavla::cli::run(cli).await {
        eprintln!("tavla: {e:#}");
        std::process::exit(1);
    }
}
