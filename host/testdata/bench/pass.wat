;; pass: the smallest transform there is. It returns "unchanged" at once,
;; without reading its input, so a benchmark of it measures what the host
;; spends on a call: taking an instance, calling in, and giving it back.
;; Build: wat2wasm pass.wat -o pass.wasm
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform pass\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 15)))
    (i32.const 0))
  (func (export "wsplug_transform") (param i32 i32) (result i32)
    (i32.const 0)))
