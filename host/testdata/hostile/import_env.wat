;; import_env: imports a function env.system, from a module the ABI does not
;; know. The host must refuse it at load, before instantiating, naming
;; env.system.
(module
  (import "env" "system" (func $system (param i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform import_env\n")
  (data (i32.const 32) "rm -rf /\00")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 21)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (drop (call $system (i32.const 32)))
    (i32.const 0)))
