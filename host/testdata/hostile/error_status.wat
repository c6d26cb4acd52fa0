;; error_status: wsplug_transform sets an error of 5000 bytes ("eee...")
;; with error_set and returns -1. The call fails with the plugin's reason,
;; truncated by the host to 1 KiB (1024 bytes of "e"). Not a trap: the
;; instance is fine.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (import "wsplug_v1" "error_set" (func $error_set (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform error_status\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 23)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (local $i i32)
    ;; 5000 bytes of 'e' (0x65) at 1024
    (loop $more
      (i32.store8 (i32.add (i32.const 1024) (local.get $i)) (i32.const 0x65))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 5000))))
    (call $error_set (i32.const 1024) (i32.const 5000))
    (i32.const -1)))
