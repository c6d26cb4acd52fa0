;; prefix: a transform that puts the plugin's config (its JSON text) before
;; each message, so that a test can tell which config a message went
;; through: with config "A", {"n":1} becomes "A"{"n":1}.
;; Build: wat2wasm prefix.wat -o prefix.wasm
(module
  (import "wsplug_v1" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (import "wsplug_v1" "config_read" (func $config_read (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "transform prefix\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 17)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (local $c i32) (local $n i32)
    ;; the config (at most 64 bytes) at 1024, the payload right after it
    (local.set $c (call $config_read (i32.const 1024) (i32.const 64)))
    (if (i32.gt_u (local.get $c) (i32.const 64)) (then (return (i32.const -1))))
    (local.set $n (call $input_read (i32.add (i32.const 1024) (local.get $c)) (i32.const 64000)))
    (if (i32.gt_u (local.get $n) (i32.const 64000)) (then (return (i32.const -1))))
    (drop (call $output_set (i32.const 1024) (i32.add (local.get $c) (local.get $n))))
    (i32.const 1)))
