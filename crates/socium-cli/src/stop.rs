//! A clean stop on Ctrl-C: the one place the `socium` binary touches signals, through
//! signal-hook and libc (the dispositions a process started with, and `_exit`), hence its unsafe
//! code.
#![allow(unsafe_code, reason = "libc's signal calls: see each block's SAFETY")]

/// Makes Ctrl-C (SIGINT), SIGTERM and SIGHUP leave no partial file in an output folder: the
/// outputs are written to temporary files, renamed in place once whole, and these are removed
/// before the process ends, with status 128 + the signal's number (130 for Ctrl-C, 143 for
/// SIGTERM, 129 for SIGHUP), as a shell reports a process the signal ended. A signal the process
/// was started ignoring (`nohup`'s SIGHUP, a background job's SIGINT) stays ignored.
#[cfg(unix)]
pub(crate) fn on_signals_remove_partial_files() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let handled: Vec<libc::c_int> = ([SIGINT, SIGTERM, SIGHUP].into_iter())
        .filter(|&signal| !ignored(signal))
        .collect();
    let mut signals = match signal_hook::iterator::Signals::new(&handled) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!(
                "warning: no handler for Ctrl-C ({e}): an interrupted run leaves partial files"
            );
            return;
        }
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _no_more_files = socium_scenario::remove_own_partial_files();
            // SAFETY: _exit ends the process at once; it runs no exit handlers, which could run
            // while other threads still use what they tear down.
            unsafe { libc::_exit(128 + signal) }
        }
    });
}

/// Whether `signal` is ignored (its disposition as the process started).
#[cfg(unix)]
fn ignored(signal: libc::c_int) -> bool {
    // SAFETY: with no new action, sigaction only writes the current one into `old`, a plain C
    // struct for which all zeroes is a valid value.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let read = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
    read == 0 && old.sa_sigaction == libc::SIG_IGN
}

/// Elsewhere Ctrl-C ends the process at once; the next run into a folder removes its partial
/// files.
#[cfg(not(unix))]
pub(crate) fn on_signals_remove_partial_files() {}
