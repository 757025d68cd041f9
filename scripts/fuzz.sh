#!/usr/bin/env bash
# Fuzzes the pure modules with cargo-fuzz (libFuzzer, AddressSanitizer): each
# target of fuzz/ for $FUZZ_SECONDS seconds (default 60; 0 only replays), then
# every saved input under fuzz/regressions/ once. Exits non-zero, naming the
# input, when a target crashes or breaks one of its checks.
#
# cargo-fuzz is installed once under $CACHE/tools. The growing corpus stays in
# fuzz/corpus/ (not committed); crashes land in fuzz/artifacts/<target>/ and
# belong in fuzz/regressions/<target>/ once fixed.
. "$(dirname "$0")/lib.sh"

CARGO_FUZZ_VERSION="0.13.2"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
# Above what the largest accepted image needs (a 32-megapixel progressive
# JPEG's coefficients and pixels) plus the sanitizer's overhead, far below
# the machine: a bigger need is a bug.
FUZZ_RSS_MB="${FUZZ_RSS_MB:-2048}"
# Per input. The largest image accepted decodes in a few seconds under the
# sanitizer; far slower is worth a look.
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-60}"
TARGETS=(decode_letterbox postprocess query)
[[ "$FUZZ_SECONDS" =~ ^[0-9]+$ ]] || die "FUZZ_SECONDS is a whole number of seconds, not '$FUZZ_SECONDS'"

cargo_fuzz="$CACHE/tools/cargo-fuzz-$CARGO_FUZZ_VERSION/bin/cargo-fuzz"
if [ ! -x "$cargo_fuzz" ]; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io"
    cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" \
        --root "$CACHE/tools/cargo-fuzz-$CARGO_FUZZ_VERSION" >&2
fi

# The sanitizer and coverage flags are nightly-only: take an installed
# nightly, else let the stable compiler accept them.
nightly="$(rustup toolchain list 2>/dev/null | awk '/^nightly/ { print $1; exit }' || true)"
if [ -n "$nightly" ]; then
    export RUSTUP_TOOLCHAIN="$nightly"
else
    export RUSTC_BOOTSTRAP=1
fi

cd "$ROOT"
# cargo-fuzz has no --locked: check the committed lock file is current first.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null ||
    die "fuzz/Cargo.lock is out of date (cargo metadata --manifest-path fuzz/Cargo.toml updates it)"
log "building the fuzz targets ($(rustc --version))"
"$cargo_fuzz" fuzz build >&2

logs="$ROOT/fuzz/target/logs"
mkdir -p "$logs"
failed=()

# The input a failed libFuzzer run was on: the file it saved, or the saved
# input it was replaying.
crash_input() {
    grep -oE 'Test unit written to [^ ]+|^Running: [^ ]+' "$1" | tail -n 1 |
        sed -E 's/^(Test unit written to|Running:) //'
}

# One of libFuzzer's final statistics (-print_final_stats) from a run's log.
stat() { awk -v key="stat::$2:" '$1 == key { print $2 }' "$1"; }

if [ "$FUZZ_SECONDS" -gt 0 ]; then
    for target in "${TARGETS[@]}"; do
        corpus="fuzz/corpus/$target"
        mkdir -p "$corpus"
        # libFuzzer adds new inputs to the first directory only; the others
        # seed it. The photos seed decoding shrunk (fuzz/seeds/make_seeds.py):
        # at full size they run a hundred times slower.
        seeds=()
        dirs=("fuzz/regressions/$target" "fuzz/seeds/$target")
        [ "$target" != decode_letterbox ] || dirs+=(tests/corpus)
        for dir in "${dirs[@]}"; do
            [ ! -d "$dir" ] || seeds+=("$dir")
        done
        log "fuzzing $target for ${FUZZ_SECONDS}s"
        if "$cargo_fuzz" fuzz run "$target" "$corpus" "${seeds[@]}" -- \
            -max_total_time="$FUZZ_SECONDS" -rss_limit_mb="$FUZZ_RSS_MB" \
            -timeout="$FUZZ_TIMEOUT" -print_final_stats=1 >"$logs/$target.log" 2>&1; then
            run_log="$logs/$target.log"
            echo "$target: $(stat "$run_log" number_of_executed_units) runs in ${FUZZ_SECONDS}s" \
                "($(stat "$run_log" average_exec_per_sec)/s, peak RSS $(stat "$run_log" peak_rss_mb) MB)," \
                "corpus $(find "$corpus" -type f | wc -l) inputs" >&2
        else
            tail -n 30 "$logs/$target.log" >&2
            failed+=("$target: $(crash_input "$logs/$target.log") (log: $logs/$target.log)")
        fi
    done
fi

for target in "${TARGETS[@]}"; do
    saved=()
    while IFS= read -r -d '' f; do saved+=("$f"); done \
        < <(find "fuzz/regressions/$target" -type f -print0 | sort -z)
    [ "${#saved[@]}" -gt 0 ] || continue
    log "replaying ${#saved[@]} saved inputs of $target"
    if ! "$cargo_fuzz" fuzz run "$target" "${saved[@]}" -- -rss_limit_mb="$FUZZ_RSS_MB" \
        -timeout="$FUZZ_TIMEOUT" >"$logs/$target-replay.log" 2>&1; then
        tail -n 30 "$logs/$target-replay.log" >&2
        failed+=("$target: $(crash_input "$logs/$target-replay.log") (log: $logs/$target-replay.log)")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    printf 'crashed: %s\n' "${failed[@]}" >&2
    exit 1
fi
