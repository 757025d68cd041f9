//! The instance's memory: what a request may take, and the reservation that
//! makes a request that cannot have it a JSON error instead of an abort.
//!
//! Hosts cap an instance's linear memory (`wasmtime serve -W
//! max-memory-size`, `spin up --max-instance-memory`, SpinKube's
//! `invocationLimits.memory`, a serverless platform's limit per execution),
//! and the component is not told the cap. When the host refuses a
//! `memory.grow`, Rust's infallible allocations abort the instance and the
//! client gets the host's 500. So a request's large buffers are reckoned
//! from the image's header before they exist (`decode::decode_within`), and
//! [`Budget::reserve`] asks the allocator for that much at once, fallibly:
//! given, it is freed again and the decode's own allocations take it back
//! from the allocator's free memory (linear memory never shrinks); refused,
//! by the `max_memory` setting or by the host, the request is answered 413
//! saying how much was free. Everything after the reservation fits inside it.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `bytes` in MiB for messages, "198 MiB".
pub fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

/// A global allocator that counts the bytes it has given out and not taken
/// back, and the most it has at once: what the `max_memory` setting is held
/// against, and what tests measure a decode's peak with.
pub struct Counting<A> {
    inner: A,
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl<A> Counting<A> {
    pub const fn new(inner: A) -> Self {
        Counting {
            inner,
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Bytes allocated and not freed.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The most bytes allocated at once since the last [`Counting::reset_peak`].
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn reset_peak(&self) {
        self.peak.store(self.live(), Ordering::Relaxed);
    }

    fn added(&self, bytes: usize) {
        let live = self.live.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    fn removed(&self, bytes: usize) {
        self.live.fetch_sub(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to `inner` unchanged; only counters are kept.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.inner.alloc(layout);
        if !p.is_null() {
            self.added(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = self.inner.alloc_zeroed(layout);
        if !p.is_null() {
            self.added(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.inner.dealloc(ptr, layout);
        self.removed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = self.inner.realloc(ptr, layout, new_size);
        if !p.is_null() {
            self.added(new_size);
            self.removed(layout.size());
        }
        p
    }
}

/// How much of its memory an instance may use for requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The `max_memory` setting: the most the instance's memory may hold,
    /// in bytes; `None` leaves the bound to the host.
    pub max_memory: Option<u64>,
    /// What the instance holds besides the heap: its data, its stack.
    pub fixed: u64,
}

impl Budget {
    /// Whether `need` more bytes can be had now, with `live` bytes in use:
    /// within the setting, then from the allocator (the host's cap). Either
    /// way refused, `Err` says how many bytes were free.
    pub fn reserve(&self, need: u64, live: u64) -> Result<(), u64> {
        if let Some(max) = self.max_memory {
            let free = max.saturating_sub(self.fixed + live);
            if need > free {
                return Err(free);
            }
        }
        if can_allocate(need) {
            Ok(())
        } else {
            Err(largest(need, can_allocate))
        }
    }
}

/// Whether the allocator gives `bytes` in one piece; freed at once.
fn can_allocate(bytes: u64) -> bool {
    let Ok(bytes) = usize::try_from(bytes) else {
        return false;
    };
    Vec::<u8>::new().try_reserve_exact(bytes).is_ok()
}

/// The largest amount below `need` that `fits` takes, to a MiB: what the
/// refusal reports as free.
pub fn largest(need: u64, fits: impl Fn(u64) -> bool) -> u64 {
    const STEP: u64 = 1 << 20;
    let (mut yes, mut no) = (0, need);
    while no - yes > STEP {
        let mid = yes + (no - yes) / 2;
        if fits(mid) {
            yes = mid;
        } else {
            no = mid;
        }
    }
    yes
}

/// A size setting: bytes, or a number with `KiB`, `MiB`, `GiB` (or `K`,
/// `M`, `G`, also powers of 1024), e.g. `128MiB`.
pub fn parse_size(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => {
            return Err(format!(
                "'{value}' is not a size (e.g. 134217728 or 128MiB)"
            ))
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("'{value}' is not a size (e.g. 134217728 or 128MiB)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_bytes_and_binary_units() {
        assert_eq!(parse_size("134217728"), Ok(128 << 20));
        assert_eq!(parse_size("128MiB"), Ok(128 << 20));
        assert_eq!(parse_size(" 64 M "), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        for bad in [
            "",
            "0",
            "-1",
            "12.5MiB",
            "128 TiB",
            "MiB",
            "99999999999999999999G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_setting_counts_what_is_held_already() {
        let budget = Budget {
            max_memory: Some(100 << 20),
            fixed: 2 << 20,
        };
        assert_eq!(budget.reserve(50 << 20, 10 << 20), Ok(()));
        assert_eq!(budget.reserve(90 << 20, 10 << 20), Err(88 << 20));
        let unbounded = Budget {
            max_memory: None,
            fixed: 0,
        };
        assert_eq!(unbounded.reserve(1 << 20, u64::MAX / 2), Ok(()));
    }

    #[test]
    fn what_is_free_is_found_to_a_mib() {
        let free = 37 << 20;
        let found = largest(200 << 20, |n| n <= free);
        assert!(found <= free && free - found <= 1 << 20, "{found}");
        assert_eq!(largest(200 << 20, |_| false), 0);
    }

    #[test]
    fn the_allocator_is_asked_fallibly() {
        assert!(can_allocate(1 << 20));
        assert!(!can_allocate(u64::MAX));
    }

    #[test]
    fn counts_live_bytes_and_the_peak() {
        let counting = Counting::new(std::alloc::System);
        let layout = Layout::from_size_align(1000, 8).unwrap();
        unsafe {
            let a = counting.alloc(layout);
            let b = counting.realloc(a, layout, 3000);
            assert_eq!((counting.live(), counting.peak()), (3000, 4000));
            counting.reset_peak();
            counting.dealloc(b, Layout::from_size_align(3000, 8).unwrap());
        }
        assert_eq!((counting.live(), counting.peak()), (0, 3000));
    }
}
