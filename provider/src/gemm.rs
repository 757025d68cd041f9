//! A 4x8 matrix kernel for tract in wasm, chosen over tract's own 8x8 for
//! every f32 matrix product with more than one column. It is where the
//! portable build spends most of its inference (SSDLite and NanoDet are
//! mostly 1x1 convolutions, which are matrix products).
//!
//! It is written for the code Cranelift (wasmtime, Spin) makes of it on
//! x86-64, read with `wasi-detect-host compile` and `objdump -d`:
//!
//! - **16 vector registers.** tract's 8x8 keeps 16 accumulators and needs
//!   more for B and the broadcast A value, so its inner loop spills: 12
//!   stack loads and 15 stores around 16 multiply-adds per step. Four rows
//!   of two vectors are 8 accumulators; with A's four values (one load),
//!   B's two vectors, the broadcast and the product, 13 registers.
//! - **Multiply, then add, not the fused multiply-add** that tract's
//!   kernels use with relaxed SIMD: Cranelift writes an FMA's result over
//!   one of the factors (`vfmadd213ps`), never over the accumulator, so each
//!   needs a copy and the accumulators change registers every step, which
//!   spilled them through the stack, on the loop's critical path. AVX's
//!   three-operand multiply and add leave the accumulator where it is.
//!   (The answers were the same to the byte on the test photos.)
//! - **Epoch interruption** (Spin always turns it on): every loop
//!   iteration checks the epoch and on its slow path calls the host, which
//!   clobbers every vector register, so the accumulators go through the
//!   stack at each back edge. Eight steps share one such round trip.
//!
//! Measured on coco-ssd, 640x480 JPEG, inference with instances reused,
//! A/B in one run (2-core AMD EPYC): under plain `wasmtime serve` 57-58 to
//! 51 ms; under Spin's engine settings (epoch interruption, the pooling
//! allocator) 79 to 60 ms. docs/performance.md has the steps between.
//!
//! tract-linalg lets a crate add kernels and dispatch rules through its
//! `inventory` registries ([`MmmRoutine`], [`MmmTier`]), so this needs no
//! copy of tract.
#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]

use std::arch::wasm32::*;
use std::sync::LazyLock;
use tract_linalg::isa::Arch;
use tract_linalg::mmm::{DynKernel, FusedKerSpec, MatMatMul, OutputStoreKer, Query, Suitable};
use tract_linalg::mmm_routines::MmmRoutine;
use tract_linalg::mmm_tiers::MmmTier;
use tract_linalg::pack::Packing;
use tract_onnx::prelude::DatumType;

/// Rows of A per tile: 4 rows x 2 vectors = 8 accumulators.
const MR: usize = 4;
/// Columns of B per tile: two 4-lane vectors.
const NR: usize = 8;
/// The kernel's name, which the dispatch rule below answers with.
const NAME: &str = "wasi_nn_tract_f32_4x8";

static KERNEL: LazyLock<DynKernel<MR, NR, f32>> = LazyLock::new(|| {
    let mut kernel =
        DynKernel::<MR, NR, f32>::new(NAME, run_ops, f32::packing(MR), f32::packing(NR));
    kernel.arch = Some(Arch::Wasm32Simd128);
    kernel
});

inventory::submit! {
    MmmRoutine { make: || -> Box<dyn MatMatMul> { KERNEL.mmm() } }
}

/// Asked before tract's own wasm rule (precedence 1): every f32 product
/// with more than one column. Matrix-vector products (one column) and
/// integer ones stay with tract's choice.
fn preferred(
    _isa: &tract_linalg::isa::IsaSet,
    accumulator: DatumType,
    query: &Query,
    _suitable: &[Suitable],
) -> Option<&'static str> {
    match (accumulator, query.n) {
        (DatumType::F32, Some(1)) => None,
        (DatumType::F32, _) => Some(NAME),
        _ => None,
    }
}

inventory::submit! {
    MmmTier {
        arch: Some(Arch::Wasm32Simd128),
        precedence: 2,
        name: "wasi-nn-tract-4x8",
        applies: |_| true,
        preferred,
    }
}

/// `acc + a * b`, as a multiply and an add (see the module's notes).
#[inline(always)]
fn madd(acc: v128, a: v128, b: v128) -> v128 {
    f32x4_add(acc, f32x4_mul(a, b))
}

/// The tile: row `r` is `acc[2r]` (columns 0-3) and `acc[2r + 1]` (4-7).
type Tile = [v128; 2 * MR];

/// `min(s, a)` as tract's own kernels take it, `s < a ? s : a`:
/// `f32x4.pmin(a, s)` is exactly that and one `minps` on x86-64, where
/// wasm's `f32x4.min`, with its NaN and signed-zero rules, is about ten
/// instructions, on every ReLU6 of every tile.
#[inline(always)]
fn min(s: v128, a: v128) -> v128 {
    f32x4_pmin(a, s)
}

/// `max(s, a)`, `s > a ? s : a`, as [`min`].
#[inline(always)]
fn max(s: v128, a: v128) -> v128 {
    f32x4_pmax(a, s)
}

/// `acc = op(splat(p[row]), acc)`, one value per row.
#[inline(always)]
unsafe fn per_row(acc: &mut Tile, p: *const f32, op: impl Fn(v128, v128) -> v128) {
    for r in 0..MR {
        let s = f32x4_splat(unsafe { *p.add(r) });
        acc[2 * r] = op(s, acc[2 * r]);
        acc[2 * r + 1] = op(s, acc[2 * r + 1]);
    }
}

/// `acc = op(cols, acc)`, one value per column.
#[inline(always)]
unsafe fn per_col(acc: &mut Tile, p: *const f32, op: impl Fn(v128, v128) -> v128) {
    let p = p as *const v128;
    let (lo, hi) = unsafe { (v128_load(p), v128_load(p.add(1))) };
    for r in 0..MR {
        acc[2 * r] = op(lo, acc[2 * r]);
        acc[2 * r + 1] = op(hi, acc[2 * r + 1]);
    }
}

/// `acc = op(s, acc)` for every accumulator.
#[inline(always)]
fn scalar(acc: &mut Tile, s: f32, op: impl Fn(v128, v128) -> v128) {
    let s = f32x4_splat(s);
    for v in acc.iter_mut() {
        *v = op(s, *v);
    }
}

/// Runs one tile's list of operations, as tract's kernels do: the list
/// ends with `Done`. A convolution's usual tile takes the straight path
/// ([`ConvTile`]); any other list, the loop over its operations.
unsafe fn run_ops(ops: &[FusedKerSpec<f32>]) -> isize {
    if let Some(tile) = ConvTile::of(ops) {
        unsafe { tile.run() };
        return 0;
    }
    let mut acc: Tile = [f32x4_splat(0.0); 2 * MR];
    for op in ops {
        unsafe {
            match *op {
                FusedKerSpec::Done => break,
                FusedKerSpec::Clear => acc = [f32x4_splat(0.0); 2 * MR],
                FusedKerSpec::LoadTile(_col_major, row_major) => {
                    let p = row_major as *const v128;
                    for (i, v) in acc.iter_mut().enumerate() {
                        *v = v128_load(p.add(i));
                    }
                }
                FusedKerSpec::ScalarMin(s) => scalar(&mut acc, s, min),
                FusedKerSpec::ScalarMax(s) => scalar(&mut acc, s, max),
                FusedKerSpec::ScalarAdd(s) => scalar(&mut acc, s, |s, a| f32x4_add(s, a)),
                FusedKerSpec::ScalarMul(s) => scalar(&mut acc, s, |s, a| f32x4_mul(s, a)),
                FusedKerSpec::ScalarSub(s) => scalar(&mut acc, s, |s, a| f32x4_sub(s, a)),
                FusedKerSpec::ScalarSubF(s) => scalar(&mut acc, s, |s, a| f32x4_sub(a, s)),
                FusedKerSpec::LeakyRelu(alpha) => {
                    let s = f32x4_splat(alpha);
                    let zero = f32x4_splat(0.0);
                    for v in acc.iter_mut() {
                        *v = v128_bitselect(*v, f32x4_mul(s, *v), f32x4_gt(*v, zero));
                    }
                }
                FusedKerSpec::PerRowMin(p) => per_row(&mut acc, p, min),
                FusedKerSpec::PerRowMax(p) => per_row(&mut acc, p, max),
                FusedKerSpec::PerRowAdd(p) => per_row(&mut acc, p, |s, a| f32x4_add(s, a)),
                FusedKerSpec::PerRowMul(p) => per_row(&mut acc, p, |s, a| f32x4_mul(s, a)),
                FusedKerSpec::PerRowSub(p) => per_row(&mut acc, p, |s, a| f32x4_sub(s, a)),
                FusedKerSpec::PerRowSubF(p) => per_row(&mut acc, p, |s, a| f32x4_sub(a, s)),
                FusedKerSpec::PerColMin(p) => per_col(&mut acc, p, min),
                FusedKerSpec::PerColMax(p) => per_col(&mut acc, p, max),
                FusedKerSpec::PerColAdd(p) => per_col(&mut acc, p, |s, a| f32x4_add(s, a)),
                FusedKerSpec::PerColMul(p) => per_col(&mut acc, p, |s, a| f32x4_mul(s, a)),
                FusedKerSpec::PerColSub(p) => per_col(&mut acc, p, |s, a| f32x4_sub(s, a)),
                FusedKerSpec::PerColSubF(p) => per_col(&mut acc, p, |s, a| f32x4_sub(a, s)),
                // Quantised ops reach an f32 kernel only as scalings.
                FusedKerSpec::QScale(shift, rp, mult) => {
                    let scale = tract_linalg::Scaler::from_fuse_params(shift, rp, mult).scale;
                    scalar(&mut acc, scale, |s, a| f32x4_mul(s, a))
                }
                FusedKerSpec::RoundingShiftRight(shift, _) => {
                    scalar(&mut acc, 2f32.powi(-(shift as i32)), |s, a| f32x4_mul(s, a))
                }
                FusedKerSpec::ShiftLeft(shift) => {
                    scalar(&mut acc, 2f32.powi(shift as i32), |s, a| f32x4_mul(s, a))
                }
                FusedKerSpec::AddUnicast(tile) => add_unicast(&mut acc, &tile),
                FusedKerSpec::AddRowColProducts(rows, cols) => {
                    let cols = cols as *const v128;
                    let (lo, hi) = (v128_load(cols), v128_load(cols.add(1)));
                    for r in 0..MR {
                        let s = f32x4_splat(*rows.add(r));
                        acc[2 * r] = madd(acc[2 * r], s, lo);
                        acc[2 * r + 1] = madd(acc[2 * r + 1], s, hi);
                    }
                }
                FusedKerSpec::Store(tile) => store(&acc, &tile),
                FusedKerSpec::AddMatMul { k, pa, pb, .. } => add_mat_mul(&mut acc, k, pa, pb),
            }
        }
    }
    0
}

/// The tile of almost every convolution (coco-ssd: over 99% of them):
/// products from zero, a residual tile added, a bias per row or per column,
/// a ReLU6's maximum and minimum, stored; each but the products and the
/// store optional, in that order (tract's). Run without the loop over the
/// operations, whose dispatch keeps the accumulators on the stack and
/// stores and reloads them around every operation; here they stay in
/// registers. The same operations in the same order: the same bits.
struct ConvTile {
    k: usize,
    pa: *const u8,
    pb: *const u8,
    residual: Option<OutputStoreKer>,
    bias: Bias,
    max: Option<f32>,
    min: Option<f32>,
    out: OutputStoreKer,
}

enum Bias {
    None,
    PerRow(*const f32),
    PerCol(*const f32),
}

impl ConvTile {
    /// The tile, if `ops` is one: `Clear, AddMatMul, [AddUnicast],
    /// [PerRowAdd | PerColAdd], [ScalarMax], [ScalarMin], Store, Done`.
    fn of(ops: &[FusedKerSpec<f32>]) -> Option<ConvTile> {
        use FusedKerSpec::*;
        let [Clear, AddMatMul { k, pa, pb, .. }, rest @ ..] = ops else {
            return None;
        };
        let mut rest = rest.iter().copied().peekable();
        let residual = take(&mut rest, |op| match op {
            AddUnicast(t) => Some(t),
            _ => None,
        });
        let bias = take(&mut rest, |op| match op {
            PerRowAdd(p) => Some(Bias::PerRow(p)),
            PerColAdd(p) => Some(Bias::PerCol(p)),
            _ => None,
        });
        let max = take(&mut rest, |op| match op {
            ScalarMax(m) => Some(m),
            _ => None,
        });
        let min = take(&mut rest, |op| match op {
            ScalarMin(m) => Some(m),
            _ => None,
        });
        let (Some(Store(out)), Some(Done)) = (rest.next(), rest.next()) else {
            return None;
        };
        Some(ConvTile {
            k: *k,
            pa: *pa,
            pb: *pb,
            residual,
            bias: bias.unwrap_or(Bias::None),
            max,
            min,
            out,
        })
    }

    unsafe fn run(&self) {
        let mut acc: Tile = [f32x4_splat(0.0); 2 * MR];
        unsafe {
            add_mat_mul(&mut acc, self.k, self.pa, self.pb);
            if let Some(tile) = &self.residual {
                add_unicast(&mut acc, tile);
            }
            match self.bias {
                Bias::None => {}
                Bias::PerRow(p) => per_row(&mut acc, p, |s, a| f32x4_add(s, a)),
                Bias::PerCol(p) => per_col(&mut acc, p, |s, a| f32x4_add(s, a)),
            }
            if let Some(m) = self.max {
                scalar(&mut acc, m, max);
            }
            if let Some(m) = self.min {
                scalar(&mut acc, m, min);
            }
            store(&acc, &self.out);
        }
    }
}

/// The next operation, taken if `part` finds in it what it is after.
fn take<T>(
    ops: &mut std::iter::Peekable<impl Iterator<Item = FusedKerSpec<f32>>>,
    part: impl Fn(FusedKerSpec<f32>) -> Option<T>,
) -> Option<T> {
    let found = part(*ops.peek()?)?;
    ops.next();
    Some(found)
}

/// `acc += tile`, a tile of f32 at any strides.
#[inline(always)]
unsafe fn add_unicast(acc: &mut Tile, tile: &OutputStoreKer) {
    let mut row = tile.ptr as *const u8;
    for r in 0..MR {
        unsafe {
            let at = |c: isize| *(row.offset(tile.col_byte_stride * c) as *const f32);
            acc[2 * r] = f32x4_add(acc[2 * r], f32x4(at(0), at(1), at(2), at(3)));
            acc[2 * r + 1] = f32x4_add(acc[2 * r + 1], f32x4(at(4), at(5), at(6), at(7)));
            row = row.offset(tile.row_byte_stride);
        }
    }
}

/// The tile into f32 at any strides.
#[inline(always)]
unsafe fn store(acc: &Tile, tile: &OutputStoreKer) {
    let mut row = tile.ptr;
    for r in 0..MR {
        unsafe {
            let at = |c: isize| row.offset(tile.col_byte_stride * c) as *mut f32;
            let (lo, hi) = (acc[2 * r], acc[2 * r + 1]);
            *at(0) = f32x4_extract_lane::<0>(lo);
            *at(1) = f32x4_extract_lane::<1>(lo);
            *at(2) = f32x4_extract_lane::<2>(lo);
            *at(3) = f32x4_extract_lane::<3>(lo);
            *at(4) = f32x4_extract_lane::<0>(hi);
            *at(5) = f32x4_extract_lane::<1>(hi);
            *at(6) = f32x4_extract_lane::<2>(hi);
            *at(7) = f32x4_extract_lane::<3>(hi);
            row = row.offset(tile.row_byte_stride);
        }
    }
}

/// The hot loop. A is packed `[k][4]`: one vector per step, each row's
/// value broadcast by a shuffle. B is packed `[k][8]`: two vectors.
///
/// Eight steps per loop iteration, each in its own basic block (the exit
/// test between them): within one block LLVM puts every load of all the
/// steps first, and Cranelift, which keeps wasm's order, would then have
/// to spill them. Under epoch interruption the accumulators go through
/// the stack once per iteration, that is once per eight steps (8 measured
/// 5% faster than 4 end to end under Spin's settings).
#[inline(always)]
unsafe fn add_mat_mul(acc: &mut Tile, k: usize, pa: *const u8, pb: *const u8) {
    let mut a = pa as *const v128;
    let mut b = pb as *const v128;
    let [mut c0, mut c1, mut c2, mut c3, mut c4, mut c5, mut c6, mut c7] = *acc;
    // One step: the products of A's column and B's row for this k.
    macro_rules! step {
        () => {
            unsafe {
                let av = v128_load(a);
                let lo = v128_load(b);
                let hi = v128_load(b.add(1));
                let s = i32x4_shuffle::<0, 0, 0, 0>(av, av);
                c0 = madd(c0, s, lo);
                c1 = madd(c1, s, hi);
                let s = i32x4_shuffle::<1, 1, 1, 1>(av, av);
                c2 = madd(c2, s, lo);
                c3 = madd(c3, s, hi);
                let s = i32x4_shuffle::<2, 2, 2, 2>(av, av);
                c4 = madd(c4, s, lo);
                c5 = madd(c5, s, hi);
                let s = i32x4_shuffle::<3, 3, 3, 3>(av, av);
                c6 = madd(c6, s, lo);
                c7 = madd(c7, s, hi);
                a = a.add(1);
                b = b.add(2);
            }
        };
    }
    let mut left = k;
    // The n-th step of an iteration runs unless only n were left.
    macro_rules! steps_until {
        ($($n:literal)*) => {$(
            if left == $n {
                break;
            }
            step!();
        )*};
    }
    loop {
        steps_until!(0 1 2 3 4 5 6 7);
        left -= 8;
    }
    *acc = [c0, c1, c2, c3, c4, c5, c6, c7];
}

/// Each operation against the same arithmetic in scalar Rust, on one tile.
/// wasm only (`scripts/test-gemm-wasm.sh` runs them under the host's
/// wasmtime): a product is a multiply then an add in f32 in both, in the
/// same order, so the results must be the same bits.
#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-2, 2).
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 4000) as f32 / 1000.0 - 2.0
            })
            .collect()
    }

    /// A row-major `MR x NR` tile in `out` (or transposed: column-major).
    fn store(out: &mut [f32], transposed: bool) -> OutputStoreKer {
        let (row, col) = if transposed { (1, MR) } else { (NR, 1) };
        OutputStoreKer {
            ptr: out.as_mut_ptr() as *mut u8,
            row_byte_stride: (row * 4) as isize,
            col_byte_stride: (col * 4) as isize,
            item_size: 4,
        }
    }

    /// An operation taking one value per row and one per column: its two
    /// names and kernel operations (row, column), and the same on one value.
    type VectorCase = (
        [&'static str; 2],
        [fn(*const f32) -> FusedKerSpec<f32>; 2],
        fn(f32, f32) -> f32,
    );

    fn run(ops: &mut Vec<FusedKerSpec<f32>>) {
        ops.push(FusedKerSpec::Done);
        assert_eq!(unsafe { run_ops(ops) }, 0);
    }

    #[test]
    fn products_of_every_depth_are_the_scalar_sums() {
        // Depths around the eight steps an iteration takes.
        for k in [0, 1, 2, 7, 8, 9, 15, 16, 17, 33] {
            let a = values(k * MR, 1 + k as u32);
            let b = values(k * NR, 100 + k as u32);
            for transposed in [false, true] {
                let mut out = vec![f32::NAN; MR * NR];
                let tile = store(&mut out, transposed);
                run(&mut vec![
                    FusedKerSpec::Clear,
                    FusedKerSpec::AddMatMul {
                        k,
                        pa: a.as_ptr() as *const u8,
                        pb: b.as_ptr() as *const u8,
                        packing: 0,
                    },
                    FusedKerSpec::Store(tile),
                ]);
                for r in 0..MR {
                    for c in 0..NR {
                        let mut sum = 0f32;
                        for i in 0..k {
                            sum += a[i * MR + r] * b[i * NR + c];
                        }
                        let at = if transposed { c * MR + r } else { r * NR + c };
                        assert_eq!(out[at].to_bits(), sum.to_bits(), "k {k} row {r} col {c}");
                    }
                }
            }
        }
    }

    #[test]
    fn each_fused_operation_does_what_the_scalar_one_does() {
        let tile = values(MR * NR, 7);
        let rows = values(MR, 8);
        let cols = values(NR, 9);
        let other = values(MR * NR, 10);
        let s = 0.75f32;
        type Case = (
            &'static str,
            FusedKerSpec<f32>,
            Box<dyn Fn(f32, usize, usize) -> f32>,
        );
        let cases: Vec<Case> = vec![
            ("clear", FusedKerSpec::Clear, Box::new(|_, _, _| 0.0)),
            (
                "scalar min",
                FusedKerSpec::ScalarMin(s),
                Box::new(move |v, _, _| if s < v { s } else { v }),
            ),
            (
                "scalar max",
                FusedKerSpec::ScalarMax(s),
                Box::new(move |v, _, _| if s > v { s } else { v }),
            ),
            (
                "scalar add",
                FusedKerSpec::ScalarAdd(s),
                Box::new(move |v, _, _| s + v),
            ),
            (
                "scalar mul",
                FusedKerSpec::ScalarMul(s),
                Box::new(move |v, _, _| s * v),
            ),
            (
                "scalar sub",
                FusedKerSpec::ScalarSub(s),
                Box::new(move |v, _, _| s - v),
            ),
            (
                "scalar subf",
                FusedKerSpec::ScalarSubF(s),
                Box::new(move |v, _, _| v - s),
            ),
            (
                "leaky relu",
                FusedKerSpec::LeakyRelu(0.1),
                Box::new(|v, _, _| if v > 0.0 { v } else { 0.1 * v }),
            ),
        ];
        let mut cases = cases;
        let by_vector: [VectorCase; 6] = [
            (
                ["per row min", "per col min"],
                [FusedKerSpec::PerRowMin, FusedKerSpec::PerColMin],
                |p, v| if p < v { p } else { v },
            ),
            (
                ["per row max", "per col max"],
                [FusedKerSpec::PerRowMax, FusedKerSpec::PerColMax],
                |p, v| if p > v { p } else { v },
            ),
            (
                ["per row add", "per col add"],
                [FusedKerSpec::PerRowAdd, FusedKerSpec::PerColAdd],
                |p, v| p + v,
            ),
            (
                ["per row mul", "per col mul"],
                [FusedKerSpec::PerRowMul, FusedKerSpec::PerColMul],
                |p, v| p * v,
            ),
            (
                ["per row sub", "per col sub"],
                [FusedKerSpec::PerRowSub, FusedKerSpec::PerColSub],
                |p, v| p - v,
            ),
            (
                ["per row subf", "per col subf"],
                [FusedKerSpec::PerRowSubF, FusedKerSpec::PerColSubF],
                |p, v| v - p,
            ),
        ];
        for ([row_name, col_name], [row_op, col_op], f) in by_vector {
            let rows = rows.clone();
            cases.push((
                row_name,
                row_op(rows.as_ptr()),
                Box::new(move |v, r, _| f(rows[r], v)),
            ));
            let cols = cols.clone();
            cases.push((
                col_name,
                col_op(cols.as_ptr()),
                Box::new(move |v, _, c| f(cols[c], v)),
            ));
        }
        let mut unicast = other.clone();
        let o = other.clone();
        cases.push((
            "add unicast",
            FusedKerSpec::AddUnicast(store(&mut unicast, true)),
            Box::new(move |v, r, c| v + o[c * MR + r]),
        ));
        let (rr, cc) = (rows.clone(), cols.clone());
        cases.push((
            "add row col products",
            FusedKerSpec::AddRowColProducts(rows.as_ptr(), cols.as_ptr()),
            Box::new(move |v, r, c| v + rr[r] * cc[c]),
        ));
        for (name, op, expected) in &cases {
            let mut out = vec![f32::NAN; MR * NR];
            run(&mut vec![
                FusedKerSpec::LoadTile(std::ptr::null(), tile.as_ptr()),
                *op,
                FusedKerSpec::Store(store(&mut out, false)),
            ]);
            for r in 0..MR {
                for c in 0..NR {
                    let want = expected(tile[r * NR + c], r, c);
                    assert_eq!(
                        out[r * NR + c].to_bits(),
                        want.to_bits(),
                        "{name} ({r}, {c})"
                    );
                }
            }
        }
    }

    #[test]
    fn a_convolutions_tile_takes_the_straight_path_with_the_same_bits() {
        let k = 19;
        let a = values(k * MR, 21);
        let b = values(k * NR, 22);
        let rows = values(MR, 23);
        let cols = values(NR, 24);
        let mut residual = values(MR * NR, 25);
        for (with_residual, bias, clamp) in [
            (false, 0, false),
            (true, 1, true),
            (false, 2, true),
            (true, 0, false),
            (false, 1, false),
        ] {
            let mut ops = vec![
                FusedKerSpec::Clear,
                FusedKerSpec::AddMatMul {
                    k,
                    pa: a.as_ptr() as *const u8,
                    pb: b.as_ptr() as *const u8,
                    packing: 0,
                },
            ];
            if with_residual {
                ops.push(FusedKerSpec::AddUnicast(store(&mut residual, false)));
            }
            match bias {
                1 => ops.push(FusedKerSpec::PerRowAdd(rows.as_ptr())),
                2 => ops.push(FusedKerSpec::PerColAdd(cols.as_ptr())),
                _ => {}
            }
            if clamp {
                ops.push(FusedKerSpec::ScalarMax(-0.5));
                ops.push(FusedKerSpec::ScalarMin(0.7));
            }
            let mut out = vec![f32::NAN; MR * NR];
            ops.push(FusedKerSpec::Store(store(&mut out, false)));
            ops.push(FusedKerSpec::Done);
            assert!(ConvTile::of(&ops).is_some());
            assert_eq!(unsafe { run_ops(&ops) }, 0);
            for r in 0..MR {
                for c in 0..NR {
                    let mut v = 0f32;
                    for i in 0..k {
                        v += a[i * MR + r] * b[i * NR + c];
                    }
                    if with_residual {
                        v += residual[r * NR + c];
                    }
                    v = match bias {
                        1 => rows[r] + v,
                        2 => cols[c] + v,
                        _ => v,
                    };
                    if clamp {
                        v = if -0.5 > v { -0.5 } else { v };
                        v = if 0.7 < v { 0.7 } else { v };
                    }
                    let at = r * NR + c;
                    assert_eq!(out[at].to_bits(), v.to_bits(), "({r}, {c}) {ops:?}");
                }
            }
        }
        // Anything else takes the loop.
        let other = [
            FusedKerSpec::Clear,
            FusedKerSpec::LeakyRelu(0.1),
            FusedKerSpec::Done,
        ];
        assert!(ConvTile::of(&other).is_none());
    }
}
