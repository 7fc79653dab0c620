//! The `verdict` binary: parse the command line and dispatch; see the library for the rest.

fn main() -> std::process::ExitCode {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`verdict log | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Private by default: whatever verdict or a library creates (the cache's -wal and -shm
    // files, bundles, exports, the hub's database) is the user's alone. verdict::private
    // also sets the modes explicitly where it creates files itself.
    #[cfg(unix)]
    // SAFETY: umask has no preconditions; called before any thread exists.
    unsafe {
        libc::umask(0o077);
    }
    let cli = verdict::cli::Cli::parse_args();
    match verdict::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A comparison that found a regression beyond --fail-on is an answer, not an error:
        // its own status, so that a release pipeline can tell the two apart.
        Err(e)
            if e.downcast_ref::<verdict::commands::metrics::Regressed>()
                .is_some() =>
        {
            verdict::errln!("{e:#}");
            std::process::ExitCode::from(3)
        }
        Err(e) => {
            verdict::errln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
