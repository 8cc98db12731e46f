#![forbid(unsafe_code)]

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = tavla::cli::Cli::parse();
    if let Err(e) = tavla::cli::run(cli).await {
        eprintln!("tavla: {e:#}");
        std::process::exit(1);
    }
}
