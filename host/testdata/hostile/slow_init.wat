;; slow_init: wsplug_init never returns. The host must stop it at the call
;; timeout (limits.timeout) and fail loading the plugin, saying wsplug_init
;; ran out of time. (With a timeout of 0, loading would hang: the test must
;; set one.)
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform slow_init\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_init") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 20)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (i32.const 0)))
