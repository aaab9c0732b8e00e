//! Asks Linux to back large fresh buffers with transparent huge pages.
//!
//! Why this exists: encoding a 64 MiB blob writes about 170 MB of fresh
//! memory (the slivers that hold new symbols). With 4 KiB pages that is
//! about 40,000 page faults, each charged and zeroed on its own, kernel time
//! the encoding thread waits for (figures: bench/RESULTS.md). Marked with
//! `MADV_HUGEPAGE` before the first write, the same memory faults in 2 MiB
//! pages. The call is a hint: where the kernel has transparent huge pages
//! off, or on other systems, nothing changes but the speed. It does no IO.
//!
//! This module holds the codec's third and smallest `unsafe` block: the
//! `madvise` call.
#![allow(unsafe_code)]

/// The size of a transparent huge page on x86-64 and most aarch64 kernels.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Hints that `buffer`, not yet written, should be backed by huge pages:
/// the whole 2 MiB pages inside it. Does nothing for buffers smaller than
/// that, or off Linux.
pub(crate) fn advise<T>(buffer: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        let start = buffer.as_mut_ptr().cast::<u8>();
        let bytes = size_of_val(buffer);
        let first = start.addr().next_multiple_of(HUGE_PAGE) - start.addr();
        let Some(inner) = bytes.checked_sub(first) else {
            return;
        };
        let length = inner / HUGE_PAGE * HUGE_PAGE;
        if length == 0 {
            return;
        }
        // SAFETY: `start + first .. + length` lies inside `buffer`, which we
        // borrow mutably, and is aligned to 2 MiB (a multiple of the page
        // size). `MADV_HUGEPAGE` changes no contents; the result is ignored
        // because the call is only a hint.
        unsafe {
            libc::madvise(start.add(first).cast(), length, libc::MADV_HUGEPAGE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buffer;
}
