/* A plugin for the node's tests: ordinary methods and ones that hang, crash or print. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "zerotask_plugin.h"

int64_t add(int64_t a, int64_t b) { return a + b; }
char *echo_str(const char *s) { return strdup(s); }
void nt_free(char *p) { free(p); }
int64_t sleep_ms(int64_t ms) { usleep((useconds_t)ms * 1000); return ms; }
int64_t hang(void) { for (;;) pause(); return 0; }
int64_t segfault(void) { volatile int *p = NULL; return *p; }
int64_t do_abort(void) { abort(); }
int64_t do_exit(int32_t status) { exit(status); }
int64_t chatty(int64_t x) {
    printf("{\"jsonrpc\":\"2.0\",\"note\":\"plugin output %lld\"}\n", (long long)x);
    fprintf(stderr, "to stderr %lld\n", (long long)x);
    fflush(stdout);
    return x * 2;
}
int64_t getpid_method(void) { return (int64_t)getpid(); }
/* Prints `lines` lines of about 100 bytes, each with a terminal escape in it (a noisy plugin). */
int64_t spew(int64_t lines) {
    for (int64_t i = 0; i < lines; i++) printf("spew %06lld \x1b[31mred\x1b[0m %s\n", (long long)i,
        "................................................................................");
    fflush(stdout);
    return lines;
}
int64_t slow_pid(int64_t ms) { usleep((useconds_t)ms * 1000); return (int64_t)getpid(); }
/* A result of n bytes from a tiny request: past the worker's max_result_bytes on demand. */
char *big(int64_t n) {
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    memset(s, 'a', (size_t)n);
    s[n] = 0;
    return s;
}
/* Forks a child that sleeps for good, writes its pid to PATH, then hangs: the deadline must
   end the whole process group, the child included. */
int64_t fork_hang(const char *path) {
    pid_t child = fork();
    if (child == 0) { for (;;) pause(); }
    FILE *f = fopen(path, "w");
    if (f) { fprintf(f, "%d\n", (int)child); fclose(f); }
    for (;;) pause();
    return 0;
}
/* Appends one byte to DIR/N for every run, so a test can count executions, then returns 2 * n. */
int64_t tally(const char *dir, int64_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%lld", dir, (long long)n);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return -1;
    ssize_t w = write(fd, "x", 1);
    close(fd);
    return w == 1 ? 2 * n : -1;
}

/* Reports progress, then waits for cancellation (or 30 s). */
int slow_progress(zt_context *ctx, const char *params, size_t len) {
    (void)params; (void)len;
    for (int i = 0; i < 3000; i++) {
        if (i == 1) ctx->progress(ctx, 0.25, "a quarter");
        if (ctx->cancelled(ctx)) { ctx->fail(ctx, 99, "stopped on request"); return 1; }
        usleep(10000);
    }
    ctx->set_result(ctx, "\"done\"", 6);
    return 0;
}
