;; stdout_flood: wsplug_transform writes the line "flood\n" to its stdout
;; (fd 1) with WASI fd_write 100000 times, then returns 0 (pass). The call
;; must succeed, quickly: stdout becomes log lines under the same rate
;; limit as log, and lines beyond it are counted and dropped.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform stdout_flood\n")   ;; 23 bytes
  ;; one iovec at 64: {buf = 80, len = 6}
  (data (i32.const 64) "\50\00\00\00\06\00\00\00")
  (data (i32.const 80) "flood\n")
  ;; fd_write stores the count of bytes written at 96
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 23)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (local $i i32)
    (loop $more
      (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 96)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 100000))))
    (i32.const 0)))
