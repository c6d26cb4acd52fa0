;; log_flood: wsplug_transform calls log at level 0 (info) 100000 times with
;; the message "flood", then returns 0 (pass). The call must succeed, quickly:
;; the host rate-limits the plugin's logs, emits the lines within its limit,
;; and counts and drops the rest (it must not buffer 100000 lines or block).
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (import "wsplug_v1" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform log_flood\n")   ;; 20 bytes
  (data (i32.const 32) "flood")                  ;; 5 bytes
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 20)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (local $i i32)
    (loop $more
      (call $log (i32.const 0) (i32.const 32) (i32.const 5))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 100000))))
    (i32.const 0)))
