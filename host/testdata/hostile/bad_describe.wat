;; bad_describe: wsplug_describe outputs "gadget foo\n", a line of an
;; unknown kind. The host must refuse the plugin at load, naming the kind
;; (gadget) and the line.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "gadget foo\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 11)))
    (i32.const 0)))
