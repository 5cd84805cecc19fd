/* Every manifest type at its limits: identity functions, owned and borrowed returns, mixed
   argument orders, a context param. `types.calls` counts native calls so that tests can prove a
   rejected param never reached native code. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zerotask_plugin.h"

static int64_t calls;
static int64_t frees;

#define ID(NAME, T) T NAME(T x) { calls++; return x; }
ID(id_bool, bool)
ID(id_int8, int8_t)
ID(id_int16, int16_t)
ID(id_int32, int32_t)
ID(id_int64, int64_t)
ID(id_uint8, uint8_t)
ID(id_uint16, uint16_t)
ID(id_uint32, uint32_t)
ID(id_uint64, uint64_t)
ID(id_float, float)
ID(id_double, double)

int64_t call_count(void) { return calls; }
int64_t free_count(void) { return frees; }

/* Borrowed: returns the host's own argument, which the host copies before the call ends. */
const char *id_string(const char *s) { calls++; return s; }

char *dup_string(const char *s) { calls++; return strdup(s); }

void types_free(void *p) { frees++; free(p); }

/* Bytes in, bytes out (owned): a copy, through the trailing size_t *out_len. */
uint8_t *id_bytes(const uint8_t *data, size_t len, size_t *out_len) {
    calls++;
    uint8_t *out = malloc(len ? len : 1);
    if (len) memcpy(out, data, len);
    *out_len = len;
    return out;
}

size_t bytes_length(const uint8_t *data, size_t len) { calls++; (void)data; return len; }

/* Arguments of every width interleaved, so a slot mix-up shows in the text. */
char *mixed(int8_t a, double b, const char *c, const uint8_t *d, size_t dlen, zt_context *ctx, float e, uint64_t f, bool g) {
    calls++;
    char *out = malloc(256);
    snprintf(out, 256, "a=%d b=%g c=%s d=%zu:%02x ctx=%s e=%g f=%llu g=%d", a, b, c, dlen, dlen ? d[0] : 0,
             ctx && ctx->abi == ZEROTASK_PLUGIN_ABI ? "ok" : "bad", (double)e, (unsigned long long)f, g);
    return out;
}

/* Return widening: small results with high bits that must not leak into the JSON value. */
int8_t minus_one_int8(void) { calls++; return -1; }
uint16_t max_uint16(void) { calls++; return 0xFFFF; }
bool true_bool(void) { calls++; return true; }

void nothing(void) { calls++; }

const char *null_string(void) { calls++; return NULL; }

float sum_float(float a, float b) { calls++; return a + b; }

/* A typed method may fail through its context, and report progress. */
int32_t checked_div(zt_context *ctx, int32_t a, int32_t b) {
    calls++;
    if (b == 0) { ctx->fail(ctx, 22, "division by zero"); return 0; }
    ctx->progress(ctx, 1.0, "divided");
    return a / b;
}

bool is_cancelled(zt_context *ctx) { calls++; return ctx->cancelled(ctx) != 0; }
