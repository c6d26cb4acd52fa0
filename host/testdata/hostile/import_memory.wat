;; import_memory: imports its memory from env.memory instead of defining
;; one (and exports that imported memory as "memory"). A plugin imports no
;; memory, table or global. The host must refuse it at load, before
;; instantiating, naming env.memory.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (export "memory" (memory 0))
  (data (i32.const 0) "transform import_memory\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 24)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (i32.const 0)))
