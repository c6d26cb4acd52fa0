;; panic_init: wsplug_init, the optional per-instance init, executes
;; `unreachable`. The instance fails before it serves anything, so the host
;; must fail loading the plugin with the trap (in wsplug_init) as the reason.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform panic_init\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_init") (result i32)
    unreachable)
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 21)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (i32.const 0)))
