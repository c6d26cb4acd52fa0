;; import_unknown_host: imports wsplug_v1.exec, a host function version 1
;; does not have. The host must refuse it at load, before instantiating,
;; naming wsplug_v1.exec.
(module
  (import "wsplug_v1" "exec" (func $exec (param i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform import_unknown_host\n")
  (data (i32.const 32) "id")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 30)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (drop (call $exec (i32.const 32) (i32.const 2)))
    (i32.const 0)))
