;; abi_v2: a plugin of a future ABI version 2: it exports the marker
;; wsplug_abi_v2 (and no wsplug_abi_v1) and imports its host functions from
;; wsplug_v2. The host must refuse it at load with a message saying the
;; plugin speaks ABI version 2 (and that this host speaks version 1).
(module
  (import "wsplug_v2" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wsplug_v2" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform abi_v2\n")
  (func (export "wsplug_abi_v2"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 17)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (drop (call $input_read (i32.const 1024) (i32.const 0)))
    (i32.const 0)))
