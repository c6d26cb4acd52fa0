#!/bin/sh
# build.sh [OUTPUT]: builds upper.c into a wsplug plugin, a WASI reactor
# module. OUTPUT defaults to upper.wasm next to upper.c. Needs clang (14 or
# newer) with wasm-ld, wasi-libc and the wasm32 compiler-rt builtins (on
# Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32). WASM_CC names
# another clang.
set -eu
dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
out=${1:-"$dir/upper.wasm"}
"${WASM_CC:-clang}" --target=wasm32-wasi -mexec-model=reactor -O2 \
	-Wl,--strip-debug -o "$out" "$dir/upper.c"
