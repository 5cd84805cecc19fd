/* JSON-ABI methods: every way a method can report through its zt_context. */
#include <string.h>
#include "zerotask_plugin.h"

/* Echoes its params back, after checking the host NUL-terminated them. */
int echo(zt_context *ctx, const char *params, size_t len) {
    if (params[len] != '\0' || strlen(params) != len) return ctx->fail(ctx, -1, "params not NUL-terminated"), 1;
    ctx->set_result(ctx, params, len);
    return 0;
}

int fail_own_code(zt_context *ctx, const char *params, size_t len) {
    (void)params; (void)len;
    ctx->fail(ctx, 4242, "the answer was refused");
    return 1;
}

/* fail wins even when the method then returns 0. */
int fail_then_zero(zt_context *ctx, const char *params, size_t len) {
    (void)params; (void)len;
    ctx->set_result(ctx, "1", 1);
    ctx->fail(ctx, 7, "changed my mind");
    return 0;
}

int bad_json(zt_context *ctx, const char *params, size_t len) {
    (void)params; (void)len;
    int rc = ctx->set_result(ctx, "{\"a\":", 5);
    return rc == -1 ? 0 : 99; /* the host must have refused it */
}

int nonzero(zt_context *ctx, const char *params, size_t len) {
    (void)ctx; (void)params; (void)len;
    return 3;
}

int no_result(zt_context *ctx, const char *params, size_t len) {
    (void)ctx; (void)params; (void)len;
    return 0;
}

/* Progress, log and cancellation, reported back as the result. */
int report(zt_context *ctx, const char *params, size_t len) {
    (void)params; (void)len;
    ctx->progress(ctx, 0.25, "a quarter");
    ctx->progress(ctx, 7.0, NULL);   /* clamped to 1 */
    ctx->log(ctx, ZT_LOG_WARNING, "careful");
    if (ctx->cancelled(ctx)) { ctx->set_result(ctx, "\"cancelled\"", 11); return 0; }
    ctx->set_result(ctx, "{\"ok\":true,\"abi\":1}", 19);
    return 0;
}
