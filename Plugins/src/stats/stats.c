/* stats: a JSON-ABI method. It reads its own params (no JSON library: a small scanner for a
   list of numbers), reports progress, honours cancellation and sets a JSON result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zerotask_plugin.h"

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Finds the values array: params {"values": [...]} or positional [[...]]. */
static const char *find_values(const char *params) {
    const char *p = skip_ws(params);
    if (*p == '[') return skip_ws(p + 1);
    if (*p == '{') {
        const char *key = strstr(p, "\"values\"");
        if (!key) return NULL;
        p = skip_ws(key + 8);
        if (*p != ':') return NULL;
        return skip_ws(p + 1);
    }
    return NULL;
}

int stats_summary(zt_context *ctx, const char *params, size_t len) {
    (void)len;
    const char *p = find_values(params);
    if (!p || *p != '[') return ctx->fail(ctx, -32602, "stats.summary: param \"values\" must be an array of numbers"), 1;
    p = skip_ws(p + 1);
    double sum = 0, min = INFINITY, max = -INFINITY;
    long count = 0;
    while (*p != ']') {
        char *end;
        double v = strtod(p, &end);
        if (end == p) return ctx->fail(ctx, -32602, "stats.summary: every value must be a number"), 1;
        sum += v;
        if (v < min) min = v;
        if (v > max) max = v;
        count++;
        if (count % 100000 == 0) {
            if (ctx->cancelled(ctx)) return ctx->fail(ctx, -32062, "stats.summary: cancelled"), 1;
            ctx->progress(ctx, (double)(end - params) / (double)len, "summing");
        }
        p = skip_ws(end);
        if (*p == ',') p = skip_ws(p + 1);
        else if (*p != ']') return ctx->fail(ctx, -32602, "stats.summary: malformed values array"), 1;
    }
    if (count == 0) return ctx->fail(ctx, -32602, "stats.summary: param \"values\" must not be empty"), 1;
    char out[256];
    int n = snprintf(out, sizeof out, "{\"count\":%ld,\"mean\":%.17g,\"min\":%.17g,\"max\":%.17g}",
                     count, sum / (double)count, min, max);
    ctx->progress(ctx, 1.0, "done");
    ctx->log(ctx, ZT_LOG_DEBUG, "stats.summary: done");
    return ctx->set_result(ctx, out, (size_t)n) == 0 ? 0 : 1;
}
