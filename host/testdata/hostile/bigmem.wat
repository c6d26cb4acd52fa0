;; bigmem: the memory starts at 65536 pages, 4 GiB, the most a wasm32 memory
;; can have. The host must refuse it at load, before it instantiates
;; anything, because it asks more memory at start than limits.memory allows.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 65536)
  (data (i32.const 0) "transform bigmem\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 17)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (i32.const 0)))
