;; import_signature: imports two functions by their right names with the
;; wrong signatures: wsplug_v1.output_set as (i32) -> () instead of
;; (i32, i32) -> (i32), and wasi_snapshot_preview1.fd_write as (i64) -> (i32)
;; instead of (i32, i32, i32, i32) -> (i32). The host must refuse it at load,
;; naming both imports and both signatures, before it instantiates anything
;; (where it would fail as a link error).
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform import_signature\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (call $output_set (i32.const 0))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (drop (call $fd_write (i64.const 1)))
    (i32.const 0)))
