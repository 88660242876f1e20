//! A clean stop on Ctrl-C: the one place the `socium` binary touches signals, through libc (the
//! dispositions a process started with, and `_exit`), hence its unsafe code.
#![allow(unsafe_code, reason = "libc's signal calls: see each block's SAFETY")]

/// Makes Ctrl-C (or SIGTERM, SIGHUP) leave no partial file in an output folder: the outputs are
/// written to temporary files, renamed in place once whole, and these are removed before the
/// process ends, with status 130. A signal the process was started ignoring (`nohup`'s SIGHUP, a
/// background job's SIGINT) stays ignored.
#[cfg(unix)]
pub(crate) fn on_signals_remove_partial_files() {
    let signals = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
    let ignored: Vec<libc::c_int> = (signals.into_iter())
        .filter(|&signal| {
            // SAFETY: with no new action, sigaction only writes the current one into `old`, a
            // plain C struct for which all zeroes is a valid value.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            let read = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
            read == 0 && old.sa_sigaction == libc::SIG_IGN
        })
        .collect();
    let handled = ctrlc::set_handler(|| {
        let _no_more_files = socium_scenario::remove_own_partial_files();
        // SAFETY: _exit ends the process at once; it runs no exit handlers, which could run
        // while other threads still use what they tear down.
        unsafe { libc::_exit(130) }
    });
    if let Err(e) = handled {
        eprintln!("warning: no handler for Ctrl-C ({e}): an interrupted run leaves partial files");
    }
    for signal in ignored {
        // SAFETY: sets a signal's disposition back to "ignore", as the process started.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
}

/// Elsewhere Ctrl-C ends the process at once; the next run into a folder removes its partial
/// files.
#[cfg(not(unix))]
pub(crate) fn on_signals_remove_partial_files() {}
