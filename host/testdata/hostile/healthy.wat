;; healthy: a well-behaved plugin, the control of this directory. It
;; provides
;;   transform echo_healthy: the payload, read with input_read (growing the
;;     memory to fit it), given back with output_set; status 1 (replace)
;;   placeholder healthy: outputs "ok"; status 0
;;   client_id healthy_id: outputs "id-1"; status 0
;; It must load and answer every call correctly, also while hostile plugins
;; loaded next to it trap, loop, flood and run out of memory.
(module
  (import "wsplug_v1" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (import "wsplug_v1" "error_set" (func $error_set (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "transform echo_healthy\nplaceholder healthy\nclient_id healthy_id\n") ;; 64 bytes
  (data (i32.const 64) "ok")                                  ;; 2 bytes
  (data (i32.const 80) "id-1")                                ;; 4 bytes
  (data (i32.const 96) "healthy: no memory for the payload")  ;; 34 bytes
  (func (export "wsplug_abi_v1"))
  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 64)))
    (i32.const 0))
  (func (export "wsplug_placeholder") (param $index i32) (result i32)
    (drop (call $output_set (i32.const 64) (i32.const 2)))
    (i32.const 0))
  (func (export "wsplug_client_id") (param $index i32) (result i32)
    (drop (call $output_set (i32.const 80) (i32.const 4)))
    (i32.const 0))
  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (local $cap i32) (local $n i32) (local $pages i64)
    ;; the payload goes at 1024; the room is the rest of the memory
    (local.set $cap (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1024)))
    (local.set $n (call $input_read (i32.const 1024) (local.get $cap)))
    (if (i32.gt_u (local.get $n) (local.get $cap))
      (then
        ;; pages for 1024 + n bytes, counted in 64 bits
        (local.set $pages
          (i64.shr_u
            (i64.add (i64.extend_i32_u (local.get $n)) (i64.const 66559)) ;; 1024 + 65535
            (i64.const 16)))
        (if (i32.or
              (i64.gt_u (local.get $pages) (i64.const 65536))
              (i32.eq
                (memory.grow (i32.sub (i32.wrap_i64 (local.get $pages)) (memory.size)))
                (i32.const -1)))
          (then
            (call $error_set (i32.const 96) (i32.const 34))
            (return (i32.const -1))))
        (local.set $n (call $input_read (i32.const 1024) (local.get $n)))))
    (if (call $output_set (i32.const 1024) (local.get $n))
      (then (return (i32.const -1))))
    (i32.const 1)))
