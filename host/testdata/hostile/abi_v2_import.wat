;; abi_v2_import: exports the version 1 marker wsplug_abi_v1, but imports
;; input_read from wsplug_v2. The host must refuse it at load with a message
;; saying the plugin uses ABI version 2 (the import wsplug_v2.input_read),
;; which this host does not speak: the marker alone does not decide.
(module
  (import "wsplug_v2" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform abi_v2_import\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 24)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (drop (call $input_read (i32.const 1024) (i32.const 0)))
    (i32.const 0)))
