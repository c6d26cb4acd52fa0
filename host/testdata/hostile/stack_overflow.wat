;; stack_overflow: wsplug_transform recurses without end (not a tail call:
;; each frame adds to the result of the next). The engine's call stack
;; runs out; the call fails with a trap and the instance is thrown away.
;; The host process itself must not crash.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform stack_overflow\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 25)))
    (i32.const 0))
  (func $deeper (param $n i32) (result i32)
    (i32.add (call $deeper (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (call $deeper (i32.const 0))))
