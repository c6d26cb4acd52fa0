;; no_marker: a module with memory, wsplug_describe and wsplug_transform but
;; no wsplug_abi_vN marker export at all. The host must refuse it at load:
;; it is not a wsplug plugin (the message should say that the marker
;; wsplug_abi_v1 is missing).
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform no_marker\n")
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 20)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (i32.const 0)))
