/* math: typed C methods. A typed method cannot fail on its own, but one that takes a
   zt_context can (math.div). */
#include <stdint.h>
#include <time.h>
#include "zerotask_plugin.h"

int64_t math_add(int64_t a, int64_t b) { return a + b; }
int64_t math_sub(int64_t a, int64_t b) { return a - b; }
int64_t math_mul(int64_t a, int64_t b) { return a * b; }
double math_addf(double a, double b) { return a + b; }

double math_div(zt_context *ctx, double a, double b) {
    if (b == 0) {
        ctx->fail(ctx, -32602, "math.div: division by zero");
        return 0;
    }
    return a / b;
}

/* Sleeps ms milliseconds (for timeout demos), returns ms. Polls cancellation every 10 ms. */
int64_t math_sleep(zt_context *ctx, int64_t ms) {
    for (int64_t left = ms; left > 0; left -= 10) {
        if (ctx->cancelled(ctx)) return ms - left;
        struct timespec t = {0, (left < 10 ? left : 10) * 1000000L};
        nanosleep(&t, NULL);
    }
    return ms;
}
