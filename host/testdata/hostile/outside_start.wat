;; outside_start: like outside_call, but the host function is called from
;; the wasm start section, which the engine runs while it instantiates the
;; module (section 2, step 1), before any call. input_read must trap there
;; too, so instantiation, and so loading, fails.
(module
  (import "wsplug_v1" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform outside_start\n")
  (func $start
    (drop (call $input_read (i32.const 1024) (i32.const 0))))
  (start $start)
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 24)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (i32.const 0)))
