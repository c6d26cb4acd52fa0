;; outside_call: its reactor start function, the export _initialize, calls
;; the host function input_read. Host functions may be called only during a
;; call from the host (init, describe, client_id, placeholder, transform),
;; and _initialize is not one (section 2, step 2), so input_read traps and
;; the host must fail loading the plugin with that trap as the reason.
(module
  (import "wsplug_v1" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform outside_call\n")
  (func (export "_initialize")
    (drop (call $input_read (i32.const 1024) (i32.const 0))))
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 23)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (i32.const 0)))
