;; oobread: wsplug_transform passes input_read a buffer that starts inside
;; its memory, 8 bytes before the end, but is 1024 bytes long, so it ends
;; beyond the memory. The host must trap the call and write nothing. The
;; buffer is [ptr, ptr+cap): the host should check all of it whatever the
;; payload's length; a payload of 9 to 1024 bytes makes the call trap even
;; in a host that checks only the bytes it writes.
(module
  (import "wsplug_v1" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform oobread\n")
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 18)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (drop (call $input_read
      (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 8))
      (i32.const 1024)))
    (i32.const 0)))
