#!/bin/sh
# build.sh: rebuilds every .wasm in this directory from its .wat with wabt's
# wat2wasm, then the two files that have no .wat: truncated.wasm (the first
# 40 bytes of healthy.wasm) and notwasm.wasm (a shell script).
set -eu
cd "$(dirname -- "$0")"
for f in *.wat; do
	wat2wasm "$f" -o "${f%.wat}.wasm"
done
head -c 40 healthy.wasm > truncated.wasm
printf '#!/bin/sh\necho "this is a shell script, not a WebAssembly module"\n' > notwasm.wasm
