;; no_memory: defines a memory but does not export it. The host needs the
;; export "memory" to read and write the plugin's buffers, so it must refuse
;; the module at load, saying the memory export is missing.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory 1)
  (data (i32.const 0) "transform no_memory\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 20)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (i32.const 0)))
