//! The `aeternum` command: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = aeternum::cli::Cli::parse();
    match aeternum::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "aeternum stopped on an error");
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
