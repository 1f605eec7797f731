fn main() -> std::process::ExitCode {
    release_large_allocations();
    abort_on_uncontained_panics();
    watchfloor::cli::main()
}

/// The release build unwinds only so that the parse stage can catch feed-rs's panics. Any other
/// panic ends the process at once, as `panic = "abort"` would: a task that died alone (the
/// mail dispatcher, say) would leave a daemon that looks alive and does not work, where an
/// exit lets systemd restart it. A contained panic prints nothing: its message becomes the
/// feed's parse error.
fn abort_on_uncontained_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if watchfloor::parse::panics_are_contained() {
            return;
        }
        report(info);
        std::process::abort();
    }));
}

/// Bodies and parse trees of big feeds are megabytes each. glibc serves such allocations
/// from `mmap` and returns them when freed, until a free raises its adaptive threshold; from
/// then on they come from the heap arenas, one per thread, where freed megabytes stay
/// resident. A fixed threshold keeps every allocation of a megabyte or more on `mmap`, so
/// the daemon's memory falls back after a large feed (measured with the hostile-feeds suite:
/// peak RSS 167 MB with the adaptive threshold, about 100 MB with this).
fn release_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}
