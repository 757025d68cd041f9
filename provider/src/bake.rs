//! A model pre-initialised into the provider at build time
//! (`make portable MODEL=<name>`, scripts/build-portable.sh).
//!
//! Spin never reuses an instance of a WASIp2 component, so every request
//! would otherwise parse and optimise the model before inferring. At build
//! time Wizer calls the `wizer-initialize` export with
//! `WASI_NN_TRACT_BAKE=<name>` and the models folder mounted: it loads
//! `<name>` as `load-by-name` does (parse, optimise, plan), inside
//! [`baking`], and Wizer snapshots the instance's memory into the component.
//! Every instance made from the snapshot starts with the optimised plan in
//! its memory, and `load-by-name` finds it there.
//!
//! wasmtime (and Spin, which embeds it) maps a snapshot into each new
//! instance copy-on-write only if its data fills at least half of the range
//! it spans (or the range is within 16 MiB); a sparser one is copied into
//! every instance as it starts, 19 MB for coco-ssd on every request. The
//! range runs to the end of memory, where the allocator keeps its records,
//! so memory must stay within twice the plan: the model is read as it is
//! decoded ([`crate::engine::Model::from_onnx_reader`]), never held whole
//! beside the decoded protobuf and tract's graph (tests/portable.rs checks
//! the built artifact).
//!
//! What the snapshot must not carry:
//! - the weights twice: while baking every freed buffer is zeroed (the file's
//!   bytes, the parsed graph, the copies made while optimising), and Wizer
//!   leaves zero pages out of the snapshot, so the artifact holds the code
//!   and the plan;
//! - wasi-libc's caches of the environment and the preopened directories,
//!   which the bake fills: they are reset, so each instance reads its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// True while baking: freed memory is zeroed.
static BAKING: AtomicBool = AtomicBool::new(false);

/// The system allocator, zeroing what is freed while baking.
struct ZeroFreedWhileBaking;

// SAFETY: every call is forwarded to `System`; the only addition is zeroing
// a block that is being freed, which the caller owns until then.
unsafe impl GlobalAlloc for ZeroFreedWhileBaking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if BAKING.load(Ordering::Relaxed) {
            ptr.write_bytes(0, layout.size());
            // The compiler may drop stores to memory that is freed right
            // after; the snapshot reads it, so keep them.
            std::hint::black_box(ptr);
        }
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !BAKING.load(Ordering::Relaxed) {
            return System.realloc(ptr, layout, new_size);
        }
        // Move by hand, so the old block is zeroed when it is freed.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = System.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: ZeroFreedWhileBaking = ZeroFreedWhileBaking;

extern "C" {
    // wasi-libc's resets for pre-initialisers such as Wizer.
    fn __wasilibc_deinitialize_environ();
    fn __wasilibc_reset_preopens();
}

/// Whether a model is being built in now: no memory limit applies then, and
/// what a reservation grew would stay in every instance's memory.
pub fn is_baking() -> bool {
    BAKING.load(Ordering::Relaxed)
}

/// Runs `bake` with freed memory zeroed, then resets wasi-libc's caches of
/// the environment and the preopened directories.
#[cfg_attr(test, allow(dead_code))] // called by the exports, which unit tests leave out
pub fn baking<T>(bake: impl FnOnce() -> T) -> T {
    BAKING.store(true, Ordering::Relaxed);
    let baked = bake();
    // SAFETY: plain C functions without arguments; no environment or
    // directory handle is held across them.
    unsafe {
        __wasilibc_deinitialize_environ();
        __wasilibc_reset_preopens();
    }
    BAKING.store(false, Ordering::Relaxed);
    baked
}
