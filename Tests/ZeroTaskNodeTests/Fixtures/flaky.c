/* A plugin that fails on purpose, for the broker's retries: each run appends one byte to
   DIR/KEY, and the run fails with CODE while the file holds no more than FAILS bytes. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "zerotask_plugin.h"

int64_t flaky(zt_context *ctx, const char *dir, const char *key, int64_t fails, int64_t code) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, key);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) { ctx->fail(ctx, 2, "cannot open the run file"); return 0; }
    struct stat st;
    ssize_t w = write(fd, "x", 1);
    int ok = w == 1 && fstat(fd, &st) == 0;
    close(fd);
    if (!ok) { ctx->fail(ctx, 2, "cannot count the run"); return 0; }
    int64_t run = (int64_t)st.st_size;
    if (run <= fails) {
        char message[64];
        snprintf(message, sizeof message, "run %lld failed on purpose", (long long)run);
        ctx->fail(ctx, (int)code, message);
        return 0;
    }
    return run;
}
