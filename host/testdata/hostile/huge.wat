;; huge: wsplug_transform grows its memory to 32 MiB (512 pages), offers
;; output_set 20 MiB of it, more than the 16 MiB an output may be, ignores
;; the -3 that output_set returns and returns status 1 (replace) anyway.
;; The host must keep nothing of the 20 MiB (check the length before it
;; copies) and fail the call: its output was refused.
;; If the memory cannot grow to 32 MiB (limits.memory below 32 MiB), the
;; call fails instead with status -1 and "huge: cannot grow memory to
;; 32 MiB"; a test of the -3 path needs a limit of 32 MiB or more.
(module
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (import "wsplug_v1" "error_set" (func $error_set (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform huge\n")                       ;; 15 bytes
  (data (i32.const 32) "huge: cannot grow memory to 32 MiB")    ;; 34 bytes
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 15)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (if (i32.lt_u (memory.size) (i32.const 512))
      (then
        (if (i32.eq (memory.grow (i32.sub (i32.const 512) (memory.size))) (i32.const -1))
          (then
            (call $error_set (i32.const 32) (i32.const 34))
            (return (i32.const -1))))))
    ;; 20 MiB from offset 0; the result (-3) is dropped on purpose
    (drop (call $output_set (i32.const 0) (i32.const 20971520)))
    (i32.const 1)))
