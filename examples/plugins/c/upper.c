/*
 * upper.c: the `upper` transform of ../wat/upper.wat, in C, as a wsplug
 * ABI v1 plugin. In a text frame every ASCII letter a-z becomes A-Z (status
 * 1, the output replaces the payload); a binary frame passes unchanged
 * (status 0). The payload buffer comes from wasi-libc's malloc and grows
 * with realloc, so payloads of any size work. Each call writes one debug
 * log line, built only when the host would keep it.
 *
 * Build:    sh build.sh [OUTPUT]      (default: upper.wasm next to this file)
 * Inspect:  wsplug plugin inspect upper.wasm
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Host functions, module wsplug_v1 (abi/README.md section 4). Pointers are
 * i32 offsets into this module's memory; lengths are unsigned. */
#define WSPLUG_IMPORT(name) \
	__attribute__((import_module("wsplug_v1"), import_name(name)))

WSPLUG_IMPORT("input_read") uint32_t input_read(void *ptr, uint32_t cap);
WSPLUG_IMPORT("output_set") int32_t output_set(const void *ptr, uint32_t len);
WSPLUG_IMPORT("error_set") void error_set(const void *ptr, uint32_t len);
WSPLUG_IMPORT("log") void wsplug_log(int32_t level, const void *ptr, uint32_t len);
WSPLUG_IMPORT("log_enabled") int32_t log_enabled(int32_t level);

#define WSPLUG_EXPORT(name) __attribute__((export_name(name)))

/* Statuses (section 5), flags and log levels. */
enum { STATUS_OK = 0, STATUS_REPLACE = 1, STATUS_ERROR = -1 };
enum { FLAG_INCOMING = 1, FLAG_BINARY = 2 };
enum { LEVEL_DEBUG = -4 };

/* The payload buffer. It lives as long as the instance and is reused by
 * every call; it only grows. */
static unsigned char *buf;
static uint32_t buf_cap;

static int32_t fail(const char *msg) {
	uint32_t n = 0;
	while (msg[n] != '\0')
		n++;
	error_set(msg, n);
	return STATUS_ERROR;
}

/* put appends s to the text at *p. */
static void put(char **p, const char *s) {
	while (*s != '\0')
		*(*p)++ = *s++;
}

/* put_u appends v in decimal to the text at *p. */
static void put_u(char **p, uint32_t v) {
	char digits[10];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*(*p)++ = digits[--n];
}

static void log_call(uint32_t n, int32_t flags) {
	char line[64];
	char *p = line;
	if (!log_enabled(LEVEL_DEBUG))
		return;
	put(&p, "upper: ");
	put_u(&p, n);
	put(&p, (flags & FLAG_BINARY) ? " bytes, binary, " : " bytes, text, ");
	put(&p, (flags & FLAG_INCOMING) ? "incoming" : "outgoing");
	wsplug_log(LEVEL_DEBUG, line, (uint32_t)(p - line));
}

/* Its presence says "I speak version 1"; the host never calls it. */
WSPLUG_EXPORT("wsplug_abi_v1") void wsplug_abi_v1(void) {}

WSPLUG_EXPORT("wsplug_describe") int32_t wsplug_describe(void) {
	static const char text[] = "transform upper\n";
	output_set(text, sizeof text - 1);
	return STATUS_OK;
}

WSPLUG_EXPORT("wsplug_transform") int32_t wsplug_transform(int32_t index, int32_t flags) {
	uint32_t n, i;
	(void)index; /* one transform: index 0 */

	if (flags & FLAG_BINARY) {
		/* the length only, for the log line */
		if (log_enabled(LEVEL_DEBUG))
			log_call(input_read(buf, 0), flags);
		return STATUS_OK;
	}

	/* The read protocol: a read that does not fit returns the length and
	 * copies nothing; then read again into a buffer that fits. */
	n = input_read(buf, buf_cap);
	log_call(n, flags);
	if (n > buf_cap) {
		unsigned char *bigger = realloc(buf, n);
		if (bigger == NULL)
			return fail("upper: no memory for the payload");
		buf = bigger;
		buf_cap = n;
		if (input_read(buf, buf_cap) != n)
			return fail("upper: the payload changed length");
	}

	for (i = 0; i < n; i++) {
		if ((unsigned)(buf[i] - 'a') <= 'z' - 'a')
			buf[i] -= 'a' - 'A';
	}

	if (output_set(buf, n) != 0)
		return fail("upper: the output is too large");
	return STATUS_REPLACE;
}
