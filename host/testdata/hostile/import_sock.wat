;; import_sock: imports wasi_snapshot_preview1.sock_send, a socket function
;; no plugin may have (section 1), and calls it from wsplug_transform.
;; The host must refuse it at load, before instantiating, naming
;; wasi_snapshot_preview1.sock_send.
(module
  (import "wasi_snapshot_preview1" "sock_send"
    (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform import_sock\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 22)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    ;; sock_send(fd 3, no iovecs, flags 0, result at 64)
    (drop (call $sock_send (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 64)))
    (i32.const 0)))
