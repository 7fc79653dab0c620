//! The `verdict` binary: parse the command line and dispatch; see the library for the rest.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = verdict::cli::Cli::parse();
    match verdict::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
