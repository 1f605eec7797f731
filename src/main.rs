fn main() -> std::process::ExitCode {
    release_large_allocations();
    watchfloor::cli::main()
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
