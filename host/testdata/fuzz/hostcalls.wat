;; hostcalls: a plugin that turns its payload into calls of the host
;; functions, for fuzzing the plugin boundary. The payload is a list of
;; 20-byte records: an operation byte, three bytes of padding, then four
;; little-endian u32 arguments a, b, c, d.
;;
;;   op % 8:  0 input_read(a, b)   1 output_set(a, b)   2 error_set(a, b)
;;            3 config_read(a, b)  4 value_read(a, b, c, d)
;;            5 log(a, b, c)       6 log_enabled(a)     7 return status a
;;
;; or, for 7 with b = 1, return the result of the last host function that
;; returned one (0 when none has), which lets a test see what it returned.
;; Without a 7 the call returns 0. Pointers are whatever the fuzzer gives:
;; the host must trap the call for a range outside memory and never fail
;; itself. The memory is one page (64 KiB); names for value_read are at
;; 64 "token" (5 bytes), 80 "auth.username" (13), 96 "auth.password" (13),
;; 112 "client_id" (9). The guest itself writes no memory: every byte that
;; changes in a call, the host wrote. Build: wat2wasm hostcalls.wat -o hostcalls.wasm
(module
  (import "wsplug_v1" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (import "wsplug_v1" "error_set" (func $error_set (param i32 i32)))
  (import "wsplug_v1" "config_read" (func $config_read (param i32 i32) (result i32)))
  (import "wsplug_v1" "value_read" (func $value_read (param i32 i32 i32 i32) (result i32)))
  (import "wsplug_v1" "log" (func $log (param i32 i32 i32)))
  (import "wsplug_v1" "log_enabled" (func $log_enabled (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform hostcalls\n")
  (data (i32.const 64) "token")
  (data (i32.const 80) "auth.username")
  (data (i32.const 96) "auth.password")
  (data (i32.const 112) "client_id")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 20)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (local $n i32) (local $p i32) (local $end i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $last i32)
    ;; the program lives at 32768, at most 32768 bytes of it
    (local.set $n (call $input_read (i32.const 32768) (i32.const 32768)))
    (if (i32.gt_u (local.get $n) (i32.const 32768)) (then (local.set $n (i32.const 32768))))
    (local.set $p (i32.const 32768))
    (local.set $end (i32.add (i32.const 32768) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.add (local.get $p) (i32.const 20)) (local.get $end)))
        (local.set $a (i32.load (i32.add (local.get $p) (i32.const 4))))
        (local.set $b (i32.load (i32.add (local.get $p) (i32.const 8))))
        (local.set $c (i32.load (i32.add (local.get $p) (i32.const 12))))
        (local.set $d (i32.load (i32.add (local.get $p) (i32.const 16))))
        (block $op7 (block $op6 (block $op5 (block $op4 (block $op3 (block $op2 (block $op1 (block $op0
          (br_table $op0 $op1 $op2 $op3 $op4 $op5 $op6 $op7
            (i32.and (i32.load8_u (local.get $p)) (i32.const 7))))
          (local.set $last (call $input_read (local.get $a) (local.get $b))) (br $op7))
          (local.set $last (call $output_set (local.get $a) (local.get $b))) (br $op7))
          (call $error_set (local.get $a) (local.get $b)) (br $op7))
          (local.set $last (call $config_read (local.get $a) (local.get $b))) (br $op7))
          (local.set $last (call $value_read (local.get $a) (local.get $b) (local.get $c) (local.get $d)))
          (br $op7))
          (call $log (local.get $a) (local.get $b) (local.get $c)) (br $op7))
          (local.set $last (call $log_enabled (local.get $a))) (br $op7))
        ;; every operation but 7 jumps here past the return
        (if (i32.eq (i32.and (i32.load8_u (local.get $p)) (i32.const 7)) (i32.const 7))
          (then
            (if (i32.eq (local.get $b) (i32.const 1)) (then (return (local.get $last))))
            (return (local.get $a))))
        (local.set $p (i32.add (local.get $p) (i32.const 20)))
        (br $next)))
    (i32.const 0)))
