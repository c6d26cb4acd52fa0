;; upper.wat: a wsplug ABI v1 plugin written by hand in the WebAssembly text
;; format. It provides one transform, `upper`: in a text frame every ASCII
;; letter a-z becomes A-Z (status 1, the output replaces the payload); a
;; binary frame passes unchanged (status 0). Payloads of any size work: when
;; one does not fit, the plugin grows its memory to fit it, and only if the
;; memory cannot grow does it fail the call (status -1, with a reason).
;;
;; Build:    wat2wasm upper.wat -o upper.wasm
;; Inspect:  wsplug plugin inspect upper.wasm
;;
;; Memory layout: [0, 1024) holds constant text; the payload is read to
;; 1024 and uppercased in place.
(module
  (import "wsplug_v1" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wsplug_v1" "output_set" (func $output_set (param i32 i32) (result i32)))
  (import "wsplug_v1" "error_set" (func $error_set (param i32 i32)))

  (memory (export "memory") 2)

  (data (i32.const 0) "transform upper\n")                       ;; 16 bytes
  (data (i32.const 32) "upper: no memory for the payload")       ;; 32 bytes
  (data (i32.const 64) "upper: the output is too large")         ;; 30 bytes

  ;; where the payload goes
  (global $buf i32 (i32.const 1024))

  ;; the marker: never called, its presence says "I speak version 1"
  (func (export "wsplug_abi_v1"))

  (func (export "wsplug_describe") (result i32)
    (drop (call $output_set (i32.const 0) (i32.const 16)))
    (i32.const 0))

  ;; $fit makes the memory at least $buf + $n bytes long. It returns 1 when
  ;; it is, 0 when the memory cannot grow that far.
  (func $fit (param $n i32) (result i32)
    (local $need i64) (local $pages i64) (local $have i64)
    ;; in i64, so that $buf + $n cannot wrap around
    (local.set $need
      (i64.add (i64.extend_i32_u (global.get $buf)) (i64.extend_i32_u (local.get $n))))
    (local.set $pages (i64.shr_u (i64.add (local.get $need) (i64.const 65535)) (i64.const 16)))
    (local.set $have (i64.extend_i32_u (memory.size)))
    (if (i64.le_u (local.get $pages) (local.get $have)) (then (return (i32.const 1))))
    ;; a wasm32 memory has at most 65536 pages
    (if (i64.gt_u (local.get $pages) (i64.const 65536)) (then (return (i32.const 0))))
    (i32.ne
      (memory.grow (i32.wrap_i64 (i64.sub (local.get $pages) (local.get $have))))
      (i32.const -1)))

  (func (export "wsplug_transform") (param $index i32) (param $flags i32) (result i32)
    (local $cap i32) (local $n i32) (local $i i32) (local $p i32) (local $c i32)
    ;; bit 1 of flags: a binary frame passes unchanged
    (if (i32.and (local.get $flags) (i32.const 2)) (then (return (i32.const 0))))

    ;; read the payload into the room after $buf; if it is larger, grow the
    ;; memory and read again (the read protocol of section 4)
    (local.set $cap (i32.sub (i32.mul (memory.size) (i32.const 65536)) (global.get $buf)))
    (local.set $n (call $input_read (global.get $buf) (local.get $cap)))
    (if (i32.gt_u (local.get $n) (local.get $cap))
      (then
        (if (i32.eqz (call $fit (local.get $n)))
          (then
            (call $error_set (i32.const 32) (i32.const 32))
            (return (i32.const -1))))
        (local.set $n (call $input_read (global.get $buf) (local.get $n)))))

    ;; uppercase a-z in place
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.add (global.get $buf) (local.get $i)))
        (local.set $c (i32.load8_u (local.get $p)))
        ;; c - 'a' <= 'z' - 'a', unsigned, is a-z
        (if (i32.le_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 25))
          (then (i32.store8 (local.get $p) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))

    ;; output_set returns -3 when the output is larger than the host takes
    (if (call $output_set (global.get $buf) (local.get $n))
      (then
        (call $error_set (i32.const 64) (i32.const 30))
        (return (i32.const -1))))
    (i32.const 1)))
