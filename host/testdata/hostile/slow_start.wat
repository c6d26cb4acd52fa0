;; slow_start: _initialize never returns. The host must stop it after the
;; start's time limit (ten times limits.timeout, at least 5 s) and fail the
;; instance, saying _initialize ran out of time; or, when the caller's
;; context ends first, fail it with the context's error, not a timeout of
;; the plugin's.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform slow_start\n")
  (func (export "wsplug_abi_v1"))
  (func (export "_initialize")
    (loop $forever (br $forever)))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 21)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (i32.const 0)))
