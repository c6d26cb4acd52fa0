;; grow: a memory bomb. wsplug_transform grows memory one page (64 KiB) at a
;; time until memory.grow returns -1, then traps.
;; Under limits.memory the growth stops at the limit and the call fails with
;; a trap; the instance is thrown away. (Without a memory limit it would take
;; the whole 4 GiB a wasm32 memory can have.)
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform grow\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 15)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))
