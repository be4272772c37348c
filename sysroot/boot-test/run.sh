#!/usr/bin/env bash
# Builds the kernel + boot-test as one LLVM module, links a PVH image with
# sysroot/image.ld and boots each scenario in QEMU (TCG), checking output and exit
# status. These are the same steps the cargo-unikernel driver performs, minus std and
# the libc shim:
#
#   1. cargo build the no_std rlibs with
#        RUSTFLAGS="-C linker-plugin-lto -C relocation-model=static -C code-model=small"
#      (here also -C panic=abort: there is no unwinder in this test runtime)
#      -> every rlib member is LLVM bitcode
#   2. llvm-ar x each rlib of the build (kernel, hal, deps, boot-test); keep bitcode
#   3. llvm-link -> one module
#   4. add `noredzone` to every attribute group (the pass does this in the driver)
#   5. opt -passes='default<O2>'; llc -O2 -relocation-model=static -code-model=small
#   6. rust-lld -flavor gnu -T image.ld --eh-frame-hdr -static --no-pie
#        -z max-page-size=4096 --gc-sections image.o libcore.rlib libcompiler_builtins.rlib
#      (the prebuilt core/compiler_builtins are linked natively in this test; the
#       driver merges their bitcode instead)
#   7. qemu-system-x86_64 -M microvm ... -kernel IMAGE -append "..."
#
# Usage: run.sh [scenario...]   (default: all). Needs qemu-system-x86_64.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SYSROOT=$(cd "$HERE/.." && pwd)
TARGET=x86_64-unknown-linux-gnu
RUST_SYSROOT=$(rustc --print sysroot)
TOOLS=$RUST_SYSROOT/lib/rustlib/$TARGET/bin
RUST_LIB=$RUST_SYSROOT/lib/rustlib/$TARGET/lib
OUT=$SYSROOT/target/boot-test
mkdir -p "$OUT"

echo "== build (bitcode rlibs)"
RUSTFLAGS="-C linker-plugin-lto -C relocation-model=static -C code-model=small -C panic=abort" \
    cargo build --manifest-path "$SYSROOT/Cargo.toml" --release --target $TARGET \
    -p unikernel-boot-test --message-format=json-render-diagnostics >"$OUT/build.json"
# The rlibs of the compiler-artifact messages (paths never contain a double quote).
mapfile -t RLIBS < <(grep '"reason":"compiler-artifact"' "$OUT/build.json" \
    | grep -o '"[^"]*\.rlib"' | tr -d '"' | sort -u)

echo "== extract and link bitcode (${#RLIBS[@]} rlibs)"
rm -rf "$OUT/bc" && mkdir -p "$OUT/bc"
BITCODE=()
for rlib in "${RLIBS[@]}"; do
    dir="$OUT/bc/$(basename "$rlib" .rlib)"
    mkdir -p "$dir"
    (cd "$dir" && "$TOOLS/llvm-ar" x "$rlib")
    for member in "$dir"/*.o; do
        # Bitcode files start with 'BC' 0xC0DE.
        if [ "$(head -c 4 "$member" | od -An -tx1 | tr -d ' ')" = "4243c0de" ]; then
            BITCODE+=("$member")
        else
            echo "warning: $member is not bitcode" >&2
        fi
    done
done
"$TOOLS/llvm-link" -o "$OUT/merged.bc" "${BITCODE[@]}"

echo "== noredzone, optimize, codegen"
"$TOOLS/llvm-dis" "$OUT/merged.bc" -o "$OUT/merged.ll"
sed -E 's/^(attributes #[0-9]+ = \{)/\1 noredzone/' "$OUT/merged.ll" >"$OUT/noredzone.ll"
"$TOOLS/opt" -passes='default<O2>' "$OUT/noredzone.ll" -o "$OUT/opt.bc"
"$TOOLS/llc" -O2 -relocation-model=static -code-model=small -filetype=obj "$OUT/opt.bc" -o "$OUT/image.o"

echo "== link"
CORE=$(ls "$RUST_LIB"/libcore-*.rlib)
ALLOC=$(ls "$RUST_LIB"/liballoc-*.rlib)
BUILTINS=$(ls "$RUST_LIB"/libcompiler_builtins-*.rlib)
# The kernel uses `alloc`. Without std there is no allocator shim: point its mangled
# `__rust_*` symbols at boot-test's heap (src/heap.rs).
DEFSYMS=()
for sym in $("$TOOLS/llvm-nm" -u "$ALLOC" "$OUT/image.o" 2>/dev/null | awk '{print $NF}' | grep '___rustc[0-9]*___rust_' | sort -u); do
    DEFSYMS+=("--defsym=$sym=boot_test_rust_${sym##*___rust_}")
done
"$TOOLS/rust-lld" -flavor gnu -T "$SYSROOT/image.ld" --eh-frame-hdr -static --no-pie \
    -z max-page-size=4096 --gc-sections --orphan-handling=warn "${DEFSYMS[@]}" \
    -o "$OUT/image" "$OUT/image.o" "$CORE" "$ALLOC" "$BUILTINS"
SIZE=$(stat -c %s "$OUT/image")
echo "image: $OUT/image ($SIZE bytes)"
"$TOOLS/llvm-size" "$OUT/image" | tail -1

# scenario  expected-exit-status  expected-output
SCENARIOS=(
    "hello|3|hello scenario ok"
    "trap|4|trap scenario ok"
    "null|139|null pointer dereference"
    "write-text|139|write of 0x[0-9a-f]*: protection violation"
    "exec-data|139|instruction fetch"
    "stack-overflow|139|guard page of the main thread's stack"
    "deadlock|125|deadlock: every thread is blocked"
    "threads|5|threads scenario ok"
    "preempt|6|preempt scenario ok"
)
WANT=("$@")
pass=0
fail=0
for entry in "${SCENARIOS[@]}"; do
    IFS='|' read -r name code expect <<<"$entry"
    if [ ${#WANT[@]} -gt 0 ] && [[ ! " ${WANT[*]} " =~ " $name " ]]; then
        continue
    fi
    log="$OUT/$name.log"
    set +e
    rm -f "$OUT/$name.status"
    timeout 60 qemu-system-x86_64 -M microvm -nodefaults -no-user-config -nographic \
        -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -m 128M \
        -chardev "file,id=exit-status,path=$OUT/$name.status" \
        -device isa-debugcon,iobase=0xe9,chardev=exit-status \
        -kernel "$OUT/image" -append "unikernel.verbose GREETING=hi -- $name" \
        </dev/null >"$log" 2>&1
    status=$?
    set -e
    # isa-debug-exit: QEMU exits with (code << 1) | 1, which keeps code's low 7 bits;
    # the full code is the debug console's "unikernel-exit-status N" line.
    got=$(( (status - 1) / 2 ))
    full=$(sed -n 's/^unikernel-exit-status //p' "$OUT/$name.status" 2>/dev/null | tail -1)
    if [ -n "$full" ] && [ $(( full & 127 )) -eq "$got" ]; then
        got=$full
    fi
    if [ "$status" -ne 0 ] && [ $(( status & 1 )) -eq 1 ] && [ "$got" -eq "$code" ] && grep -q "$expect" "$log"; then
        echo "ok   $name (exit $got)"
        pass=$((pass + 1))
    else
        echo "FAIL $name (QEMU status $status -> exit $got, want $code and \"$expect\"); log:"
        sed 's/^/    /' "$log"
        fail=$((fail + 1))
    fi
done
grep -h "boot:" "$OUT/hello.log" 2>/dev/null || true
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
