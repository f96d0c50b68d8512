//! Keeping glibc's heap small: one malloc arena for the whole process, and the heap that
//! parsing a config leaves behind given back to the operating system.
//!
//! Parsing a large config builds YAML events that are freed as soon as the config is validated, but
//! glibc's allocator keeps free pages that sit between live allocations: after such a parse the
//! exporter idled well above the memory it used until `malloc_trim` gave them back (BENCHMARKS.md,
//! "Figures behind the code"). Other C libraries (musl) give memory back on their own and have
//! neither call.

/// Makes every thread allocate from one malloc arena. Call first thing in `main`, before any
/// thread exists; a no-op where the C library has no `mallopt`.
///
/// By default glibc gives a thread that finds the arena busy one of its own, up to eight per
/// core, and memory freed in one arena is not reused by another: each scrape's transient
/// memory (the results, the text in flight) was held once per worker thread that ever
/// allocated it. One arena lowers the peak of serving a large list from the cache markedly;
/// small allocations stay in each thread's own cache (tcache), so the shared arena's lock is
/// rarely taken (BENCHMARKS.md, "Figures behind the code").
pub fn use_one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers and no pointer; called before other threads exist,
    // it changes a setting the allocator reads when a thread first needs an arena. Its result
    // (whether the setting was taken) needs no check: without it the heap is merely larger.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns the allocator's free pages to the operating system; a no-op where the C library
/// has no `malloc_trim`. Called after a config is built, not per scrape: it walks the heap.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and locks the allocator's arenas itself, so any
    // thread may call it at any time; its result (whether memory was released) needs no check.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}
