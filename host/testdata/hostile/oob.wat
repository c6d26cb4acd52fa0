;; oob: wsplug_transform calls output_set with a range far outside its one
;; page of memory: [0xFFFFFF00, 0xFFFFFF00+1024), which also wraps past 2^32
;; in 32-bit arithmetic. The host must check the range (in 64 bits, or
;; without overflow), read nothing, and trap the call.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform oob\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 14)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (drop (call $output_set (i32.const 0xFFFFFF00) (i32.const 1024)))
    (i32.const 1)))
