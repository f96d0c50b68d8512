//! Giving the heap that parsing a config leaves behind back to the operating system.
//!
//! Parsing a 10,000-entry config builds a YAML tree that is freed as soon as the config is
//! validated, but glibc's allocator keeps free pages that sit between live allocations: the
//! exporter idled at 14.6 MiB with such a config, 9.1 MiB after `malloc_trim` (BENCHMARKS.md).
//! Other C libraries (musl) give memory back on their own and have no such call.

/// Returns the allocator's free pages to the operating system; a no-op where the C library
/// has no `malloc_trim`. Costs about a millisecond; called after a config is built, not per
/// scrape.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and locks the allocator's arenas itself, so any
    // thread may call it at any time; its result (whether memory was released) needs no check.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}
