#!/usr/bin/env bash
# Build, serve and test webclip.
#   ./build.sh [wasm]   build the browser package into www/pkg/ (cargo → wasm-bindgen → wasm-opt), three times:
#                       SIMD128 and relaxed SIMD with one webclip.js, and relaxed SIMD + threads in www/pkg/threads/
#                       (www/lib/wasm-features.js picks one)
#   ./build.sh serve    build, then serve www/ on http://127.0.0.1:${PORT:-8080}
#   ./build.sh test     run every test (what CI runs, through .ci/run); a skipped test or stage fails it
# Environment:
#   WEBCLIP_WASM_STD=auto|rustup|debian   where the wasm32 std comes from (auto: rustup's, else Debian's rustc-web)
#   WEBCLIP_NO_WASM_OPT=1                 skip wasm-opt (saves ~1 min; the .wasm is larger and slower)
#   WEBCLIP_CACHE=DIR                     where the tools go (default ~/.cache/webclip)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

TARGET=wasm32-unknown-unknown
TARGET_DIR=${CARGO_TARGET_DIR:-target}
CACHE=${WEBCLIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/webclip}
BINARYEN_VERSION=132.0.0            # npm package; Debian's binaryen 108 breaks wasm-bindgen's externref table
TEST_APT_PACKAGES=(wabt chromium mesa-vulkan-drivers)  # wasm-validate; browser tests (SwiftShader); native wgpu (lavapipe)
export DEBIAN_FRONTEND=noninteractive NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false NPM_CONFIG_UPDATE_NOTIFIER=false

say() { echo "build.sh: $*"; }
die() { echo "build.sh: error: $*" >&2; exit 1; }

# ---- tools ---------------------------------------------------------------------------------------------------------

APT_UPDATED=
apt_install() {  # apt_install PKG...: install those Debian packages that are missing
    local p missing=() sudo=
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || die "please install ${missing[*]} (no apt-get on this machine)"
    [ "$(id -u)" = 0 ] || sudo=sudo
    say "installing ${missing[*]} (apt-get)"
    [ -n "$APT_UPDATED" ] || { $sudo apt-get update -qq; APT_UPDATED=1; }
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pick_wasm_std() {  # sets WASM_CARGO (command) and WASM_DIR (its target dir); says which path it took
    local how=${WEBCLIP_WASM_STD:-auto}
    WASM_CARGO=(cargo) WASM_DIR=$TARGET_DIR
    if [ "$how" != debian ]; then
        if command -v rustc >/dev/null && [ -d "$(rustc --print sysroot)/lib/rustlib/$TARGET/lib" ]; then
            say "wasm32 std: installed target of $(rustc -V | cut -d' ' -f1-2)"; return
        fi
        say "adding the $TARGET target with rustup"
        if command -v rustup >/dev/null && timeout 120 rustup target add "$TARGET"; then
            say "wasm32 std: rustup target add, $(rustc -V | cut -d' ' -f1-2)"; return
        fi
        [ "$how" = auto ] || die "rustup could not add $TARGET (WEBCLIP_WASM_STD=$how)"
        say "rustup could not add $TARGET: falling back to Debian's rustc-web"
    fi
    use_debian_rustc
    WASM_CARGO=("${DEBIAN_CARGO[@]}") WASM_DIR=$TARGET_DIR/debian-rustc
    say "wasm32 std: Debian $(/usr/bin/rustc -V | cut -d' ' -f1-2), rebuilt with -Zbuild-std"
}

use_debian_rustc() {  # sets DEBIAN_CARGO: Debian's rustc-web, which rebuilds std for wasm32 (-Zbuild-std)
    apt_install rustc-web cargo-web rust-web-src lld-22
    # rustc-web has no rust-lld and no prebuilt wasm32 std: rebuild std from rust-web-src with the matching rustc.
    # Absolute paths, because rustup's proxies come first in PATH; a separate target dir avoids rebuild churn.
    # shellcheck disable=SC2054 # the comma belongs to -Zbuild-std=std,panic_abort
    DEBIAN_CARGO=(env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld
        /usr/bin/cargo -Zbuild-std=std,panic_abort)
}

locked_version() {  # locked_version CRATE: its version in Cargo.lock
    awk -v name="\"$1\"" '$1 == "name" && $3 == name { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

install_wasm_bindgen() {  # sets WASM_BINDGEN: wasm-bindgen-cli at exactly the version in Cargo.lock
    local v; v=$(locked_version wasm-bindgen)
    [ -n "$v" ] || die "wasm-bindgen is not in Cargo.lock: is it a wasm32 dependency in Cargo.toml?"
    local root=$CACHE/wasm-bindgen-$v
    WASM_BINDGEN=$root/bin/wasm-bindgen
    [ -x "$WASM_BINDGEN" ] && return
    say "installing wasm-bindgen-cli $v into $root (once, ~3 min)"
    # --debug halves the install time and writes byte-identical output (no debuginfo: 23 MB, not 130 MB);
    # --locked can fail when a locked dependency is missing from the registry, so retry without it.
    local install=(env CARGO_PROFILE_DEV_DEBUG=false
        cargo install --quiet --debug --root "$root" --version "=$v" --bin wasm-bindgen wasm-bindgen-cli)
    "${install[@]}" --locked 2>/dev/null || { say "retrying without --locked"; "${install[@]}"; }
}

install_wasm_opt() {  # sets WASM_OPT: wasm-opt from the npm package binaryen
    local dir=$CACHE/binaryen-$BINARYEN_VERSION
    WASM_OPT=$dir/node_modules/.bin/wasm-opt
    [ -x "$WASM_OPT" ] && return
    say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION) into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --silent "binaryen@$BINARYEN_VERSION"
}

# ---- build ---------------------------------------------------------------------------------------------------------

# Three builds of the same crate (www/lib/wasm-features.js picks one at run time):
#   simd128       .cargo/config.toml's flags                         → www/pkg/webclip_bg.wasm
#   relaxed-simd  the same + relaxed SIMD (Chrome/Edge ≥ 114)         → www/pkg/webclip_relaxed_bg.wasm
#   threads       relaxed SIMD + atomics and shared memory, feature    → www/pkg/threads/ (its own webclip.js and the
#                 `threads` (rayon on Web Workers, src/wasm/threads.rs)   threads' script, src/wasm/threads.js, in snippets/)
# The first two share one webclip.js. CARGO_TARGET_<triple>_RUSTFLAGS adds to config.toml's list (RUSTFLAGS would
# replace it); each build has a target dir of its own, so that they do not rebuild each other.
RELAXED_FLAGS=-Ctarget-feature=+relaxed-simd
# Shared memory needs a std built with atomics (-Zbuild-std: always Debian's rustc-web here, whose std sources are a
# Debian package) and these linker flags: the memory is imported (every worker instantiates the module on the same
# one) and may grow to 4 GiB (wasm-ld's default maximum for shared memory is 1 GiB; f32 weights need more); the TLS
# symbols let wasm-bindgen give each thread its own thread-locals.
THREADS_FLAGS="-Ctarget-feature=+relaxed-simd,+atomics,+bulk-memory,+mutable-globals
    -Clink-arg=--shared-memory -Clink-arg=--import-memory -Clink-arg=--max-memory=4294967296
    -Clink-arg=--export=__wasm_init_tls -Clink-arg=--export=__tls_size -Clink-arg=--export=__tls_align
    -Clink-arg=--export=__tls_base"
THREADS_FLAGS=$(tr -s ' \n' ' ' <<<"$THREADS_FLAGS")
# Features rustc enables for wasm32 (+ our simd128); wasm-opt must not strip or reject them.
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals
    --enable-reference-types --enable-multivalue --enable-simd)

build_wasm() {
    local t0=$SECONDS pkg=www/pkg relaxed_dir
    pick_wasm_std
    relaxed_dir=$WASM_DIR/relaxed
    "${WASM_CARGO[@]}" build --lib --release --target "$TARGET" --target-dir "$WASM_DIR"
    say "cargo build (simd128): $((SECONDS - t0)) s"
    t0=$SECONDS
    env CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$RELAXED_FLAGS" \
        "${WASM_CARGO[@]}" build --lib --release --target "$TARGET" --target-dir "$relaxed_dir"
    say "cargo build (relaxed-simd, $RELAXED_FLAGS): $((SECONDS - t0)) s"
    t0=$SECONDS
    use_debian_rustc
    local threads_dir=$TARGET_DIR/debian-rustc/threads
    env CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$THREADS_FLAGS" \
        "${DEBIAN_CARGO[@]}" build --lib --release --target "$TARGET" --target-dir "$threads_dir" --features threads
    say "cargo build (threads, Debian $(/usr/bin/rustc -V | cut -d' ' -f2) with -Zbuild-std): $((SECONDS - t0)) s"

    t0=$SECONDS
    install_wasm_bindgen
    rm -rf "$pkg" "$relaxed_dir/pkg"
    "$WASM_BINDGEN" --target web --out-dir "$pkg" --out-name webclip "$WASM_DIR/$TARGET/release/webclip.wasm"
    "$WASM_BINDGEN" --target web --out-dir "$relaxed_dir/pkg" --out-name webclip \
        "$relaxed_dir/$TARGET/release/webclip.wasm"
    # one webclip.js loads either .wasm only if both builds import and export the same things in the same way (the
    # comment lines may differ: wasm-bindgen notes table indices there, which the code does not use)
    local f code='^[[:space:]]*//'
    for f in webclip.js webclip.d.ts webclip_bg.wasm.d.ts; do
        cmp -s <(grep -v "$code" "$pkg/$f") <(grep -v "$code" "$relaxed_dir/pkg/$f") || die "the relaxed-simd build's $f differs from the simd128 build's" \
            "(diff $pkg/$f $relaxed_dir/pkg/$f): one webclip.js cannot load both; do the two builds export the same?"
    done
    mv "$relaxed_dir/pkg/webclip_bg.wasm" "$pkg/webclip_relaxed_bg.wasm"
    "$WASM_BINDGEN" --target web --out-dir "$pkg/threads" --out-name webclip "$threads_dir/$TARGET/release/webclip.wasm"
    grep -q 'shared:true' "$pkg/threads/webclip.js" ||
        die "$pkg/threads/webclip.js makes no shared memory: was the threads build linked with --shared-memory?"
    # Tells Node (the smoke test) that webclip.js is an ES module; browsers ignore this file.
    echo '{ "type": "module" }' >"$pkg/package.json"
    # the page's label presets and prompt templates (one copy in git: src/assets/prompts)
    mkdir -p "$pkg/assets" && cp -r src/assets/prompts "$pkg/assets/"
    say "wasm-bindgen $("$WASM_BINDGEN" --version | cut -d' ' -f2), three builds (two share one JS glue): $((SECONDS - t0)) s"

    if [ "${WEBCLIP_NO_WASM_OPT:-}" = 1 ]; then
        say "wasm-opt skipped (WEBCLIP_NO_WASM_OPT=1)"
    else
        wasm_opt "$pkg/webclip_bg.wasm" simd128
        wasm_opt "$pkg/webclip_relaxed_bg.wasm" relaxed --enable-relaxed-simd
        wasm_opt "$pkg/threads/webclip_bg.wasm" threads --enable-relaxed-simd --enable-threads
    fi
    local wasm
    for wasm in "$pkg/webclip_bg.wasm" "$pkg/webclip_relaxed_bg.wasm" "$pkg/threads/webclip_bg.wasm"; do
        say "built $wasm: $(($(stat -c %s "$wasm") / 1024)) KiB, $(($(gzip -9c "$wasm" | wc -c) / 1024)) KiB gzipped"
    done
}

wasm_opt() {  # wasm_opt FILE NAME [FLAG...]: wasm-opt -O3 FILE in place, through a cache kept per NAME
    local file=$1 name=$2 t0=$SECONDS key cached; shift 2
    # wasm-opt takes ~2 min on 2 cores: its output is kept by the hash of its input, so a `serve` with
    # nothing changed reuses it
    key=$(sha256sum "$file" | cut -c1-16)
    cached=$TARGET_DIR/wasm-opt/$key-O3-$name.wasm
    if [ -f "$cached" ]; then
        cp "$cached" "$file"
        say "wasm-opt -O3 ($name): unchanged input, reused $cached"
        return
    fi
    install_wasm_opt
    "$WASM_OPT" -O3 "${WASM_OPT_FEATURES[@]}" "$@" "$file" -o "$file"
    mkdir -p "$(dirname "$cached")"
    rm -f "$TARGET_DIR"/wasm-opt/*-O3-"$name".wasm # one kept per build: the newest
    cp "$file" "$cached"
    say "wasm-opt -O3 ($name): $((SECONDS - t0)) s"
}

# ---- test ----------------------------------------------------------------------------------------------------------

PASSED=() FAILED=() SKIPPED=()
stage() {  # stage NAME COMMAND...: run one test stage in a subshell, record the result, go on
    local name=$1 t0=$SECONDS rc; shift
    echo "== $name"
    set +e; (set -e; "$@"); rc=$?; set -e
    LAST_RC=$rc
    if [ "$rc" = 0 ]; then PASSED+=("$name"); echo "== $name: ok ($((SECONDS - t0)) s)"
    else FAILED+=("$name"); echo "== $name: FAILED (exit $rc, $((SECONDS - t0)) s)"; fi
}
# A skipped stage is not a pass: it is listed, says why, and makes `./build.sh test` fail (nothing may be skipped).
skip() { SKIPPED+=("$1"); echo "== $1: SKIPPED ($2): counts as a failure"; }
list() { local IFS=/; echo "$*"; }

validate_wasm() {  # all builds; the SIMD128 one without relaxed SIMD, which it must not need
    local simd=www/pkg/webclip_bg.wasm relaxed=www/pkg/webclip_relaxed_bg.wasm threads=www/pkg/threads/webclip_bg.wasm
    if command -v wasm-validate >/dev/null; then
        wasm-validate "$simd" && wasm-validate --enable-relaxed-simd "$relaxed" &&
            wasm-validate --enable-relaxed-simd --enable-threads "$threads"
        say "wasm-validate: ok ($simd without relaxed SIMD, $relaxed with it, $threads with threads too)"
    else
        local check='process.exit(WebAssembly.validate(require("fs").readFileSync(process.argv[1])) ? 0 : 1)'
        node -e "$check" "$simd"
        node -e "$check" "$relaxed" || node --experimental-wasm-relaxed-simd -e "$check" "$relaxed"
        node -e "$check" "$threads" || node --experimental-wasm-relaxed-simd -e "$check" "$threads"
        say "WebAssembly.validate (node): ok (all builds)"
    fi
}

browser_tests() {
    local npm_cmd=install
    [ -n "${CI:-}" ] && [ -f tests/browser/package-lock.json ] && npm_cmd=ci
    if grep -qE '"(devD|d)ependencies"' tests/browser/package.json; then
        npm --prefix tests/browser "$npm_cmd" --silent
    fi
    # the usual console report (node's default: spec on a terminal, TAP otherwise), and TAP into a file to find
    # skipped tests in: node --test passes with skips, ./build.sh test must not
    local tap rc=0 skipped console=tap; tap=$(mktemp)
    if [ -t 1 ]; then console=spec; fi
    node --test --test-reporter="$console" --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" "$@" || rc=$?
    skipped=$(grep -E '^ *(not )?ok [0-9]+ - .* # SKIP' "$tap" || true)
    rm -f "$tap"
    ((rc == 0)) || return "$rc"
    if [ -n "$skipped" ]; then
        echo "browser tests: $(grep -c . <<<"$skipped") skipped, which counts as a failure:"
        sed -E 's/^ *(not )?ok [0-9]+ - /  /' <<<"$skipped"
        return 1
    fi
}

run_tests() {
    apt_install "${TEST_APT_PACKAGES[@]}"
    # wgpu's Vulkan loader warns without a runtime dir (CI runs as root with none set)
    export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
    # lavapipe is installed above: the native GPU tests must find an adapter, never skip
    WEBCLIP_REQUIRE_GPU=1 stage "cargo test" cargo test
    WEBCLIP_NO_WASM_OPT=${WEBCLIP_NO_WASM_OPT:-1} stage "wasm build" build_wasm
    local built=$LAST_RC tests=(tests/browser/*.test.mjs)
    if [ "$built" = 0 ]; then
        stage "wasm validate" validate_wasm
        stage "node smoke" node tests/browser/node-smoke.mjs
    else
        skip "wasm validate" "no wasm package"; skip "node smoke" "no wasm package"
    fi
    if [ ! -e "${tests[0]}" ]; then skip "browser tests" "none yet"
    elif ! command -v chromium >/dev/null; then skip "browser tests" "chromium is not installed"
    elif [ "$built" != 0 ]; then skip "browser tests" "no wasm package"
    else stage "browser tests" browser_tests "${tests[@]}"; fi

    local summary="webclip tests: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
    ((${#SKIPPED[@]} == 0)) || summary+=", ${#SKIPPED[@]} skipped ($(list "${SKIPPED[@]}"); a skip is a failure)"
    ((${#FAILED[@]} == 0)) || summary+=" — failed: $(list "${FAILED[@]}")"
    echo "$summary"
    ((${#FAILED[@]} == 0 && ${#SKIPPED[@]} == 0))
}

case ${1:-wasm} in
    wasm) build_wasm ;;
    serve)
        build_wasm
        [ -f www/models/default.webclip ] || say "no www/models/default.webclip yet: the page says how to make one"
        exec node tests/browser/serve.mjs --root www --port "${PORT:-8080}" ;;
    test) run_tests ;;
    -h | --help | help) sed -n '2,9s/^# \{0,1\}//p' "$0" ;;
    *) sed -n '2,9s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
