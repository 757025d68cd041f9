//! A model built into the provider and pre-initialised at build time
//! (`make portable MODEL=<name>`, scripts/build-portable.sh).
//!
//! Spin never reuses an instance of a WASIp2 component, so every request
//! would otherwise parse and optimise the model before inferring. Built with
//! the `bake` feature, the provider carries one model's ONNX bytes
//! (`WASI_NN_TRACT_BAKE_ONNX`, loaded by the name `WASI_NN_TRACT_BAKE_NAME`).
//! Wizer calls the `wizer-initialize` export, which parses and optimises it,
//! then snapshots the instance's memory into the component. Every instance
//! made from the snapshot starts with the optimised plan in its memory
//! (wasmtime maps it copy-on-write) and `load-by-name` finds it there.
//!
//! What the snapshot must not carry:
//! - the weights twice: the ONNX bytes are zeroed once parsed, and while
//!   baking every freed buffer is zeroed too (the parsed graph, the copies
//!   made while optimising); Wizer leaves zero pages out of the snapshot, so
//!   the artifact holds the code and the plan;
//! - wasi-libc's caches of the environment and the preopened directories,
//!   which the bake fills (tract reads its settings from the environment):
//!   they are reset, so each instance reads its own.

use crate::engine::Model;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The built-in model's name.
pub const NAME: &str = env!("WASI_NN_TRACT_BAKE_NAME");

const ONNX_LEN: usize = include_bytes!(env!("WASI_NN_TRACT_BAKE_ONNX")).len();

/// The ONNX bytes, writable so they can be zeroed once parsed.
struct Onnx(UnsafeCell<[u8; ONNX_LEN]>);
// SAFETY: wasm32-wasip2 components are single-threaded, and the bytes are
// only touched by `bake`, which Wizer calls once.
unsafe impl Sync for Onnx {}
static ONNX: Onnx = Onnx(UnsafeCell::new(*include_bytes!(env!(
    "WASI_NN_TRACT_BAKE_ONNX"
))));

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

/// Parses and optimises the built-in model, leaving no trace of its bytes.
/// Panics (a trap, which fails the build) when the model cannot be loaded.
pub fn bake() -> Model {
    BAKING.store(true, Ordering::Relaxed);
    // SAFETY: see `Onnx`; nothing else holds a reference to the bytes.
    let bytes = unsafe { &mut *ONNX.0.get() };
    let model = Model::from_onnx(bytes)
        .unwrap_or_else(|e| panic!("the built-in model '{NAME}' cannot be loaded: {e}"));
    bytes.fill(0);
    // SAFETY: plain C functions without arguments; no environment or
    // directory handle is held across them.
    unsafe {
        __wasilibc_deinitialize_environ();
        __wasilibc_reset_preopens();
    }
    BAKING.store(false, Ordering::Relaxed);
    model
}
