/* A plugin that misbehaves on purpose, for the sandbox's tests: each method tries what its
   limits forbid (memory, CPU, processes, network, files) and reports what the kernel said. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "zerotask_plugin.h"

static int fail_errno(zt_context *ctx, const char *what) {
    char message[256];
    snprintf(message, sizeof message, "%s: %s", what, strerror(errno));
    ctx->fail(ctx, errno, message);
    return 1;
}

/* Allocates and touches `mib` MiB; returns how many it got. (volatile: the compiler must not
   drop an allocation nothing reads.) */
int64_t alloc_mib(int64_t mib) {
    size_t size = (size_t)mib << 20;
    volatile char *p = malloc(size);
    if (!p) return -1;
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    int64_t touched = 0;
    for (size_t i = 0; i < size; i += 1 << 20) touched += p[i];
    free((void *)p);
    return touched;
}

/* Spins on the CPU for `seconds` of wall-clock time. */
int64_t spin(int64_t seconds) {
    volatile uint64_t n = 0;
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end) n++;
    return (int64_t)(n & 1);
}

/* Starts a daemon: a child that calls setsid and forks a grandchild that sleeps for good, then
   exits. Returns the grandchild's pid (it outlives the task unless something kills it). */
int64_t daemonize(void) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t child = fork();
    if (child < 0) return -errno;
    if (child == 0) {
        setsid();
        pid_t grandchild = fork();
        if (grandchild == 0) { for (;;) pause(); }
        if (write(fds[1], &grandchild, sizeof grandchild) != sizeof grandchild) _exit(1);
        _exit(0);
    }
    pid_t grandchild = -1;
    if (read(fds[0], &grandchild, sizeof grandchild) != sizeof grandchild) grandchild = -1;
    waitpid(child, NULL, 0);
    close(fds[0]);
    close(fds[1]);
    return grandchild;
}

/* Starts a daemon as `daemonize` does, writes its pid to PATH, then hangs until the deadline:
   the daemon must be gone once the worker is killed. */
int64_t daemonize_and_hang(const char *path) {
    int64_t pid = daemonize();
    FILE *f = fopen(path, "w");
    if (f) { fprintf(f, "%lld\n", (long long)pid); fclose(f); }
    for (;;) pause();
    return pid;
}

/* fork() and report: the child exits at once. */
int try_fork(zt_context *ctx, const char *params, size_t len) {
    (void)params; (void)len;
    pid_t child = fork();
    if (child < 0) return fail_errno(ctx, "fork");
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    ctx->set_result(ctx, "\"forked\"", 8);
    return 0;
}

/* Connects to 127.0.0.1:PORT (params: [port]). */
int try_connect(zt_context *ctx, const char *params, size_t len) {
    (void)len;
    int port = atoi(params + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return fail_errno(ctx, "socket");
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { close(fd); return fail_errno(ctx, "connect"); }
    close(fd);
    ctx->set_result(ctx, "\"connected\"", 11);
    return 0;
}

/* Reads the first byte of a file (params: ["PATH"]). */
int try_read(zt_context *ctx, const char *params, size_t len) {
    char path[4096];
    if (len < 4 || len - 4 >= sizeof path) { ctx->fail(ctx, 1, "expected [\"PATH\"]"); return 1; }
    memcpy(path, params + 2, len - 4);
    path[len - 4] = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fail_errno(ctx, "open");
    char c;
    ssize_t n = read(fd, &c, 1);
    close(fd);
    if (n < 0) return fail_errno(ctx, "read");
    ctx->set_result(ctx, "\"read\"", 6);
    return 0;
}

/* Forks `n` children that sleep for good, and writes to PATH the errno of the first fork that
   failed (0: none did), then each child's pid, one a line. Returns how many forks succeeded;
   the children are left running (the sandbox must end them when the task ends). */
int64_t fork_children(int64_t n, const char *path) {
    pid_t pids[64];
    int64_t forked = 0;
    int failure = 0;
    for (int64_t i = 0; i < n && i < 64; i++) {
        pid_t child = fork();
        if (child < 0) { failure = errno; break; }
        if (child == 0) { for (;;) pause(); }
        pids[forked++] = child;
    }
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", failure);
        for (int64_t i = 0; i < forked; i++) fprintf(f, "%d\n", (int)pids[i]);
        fclose(f);
    }
    return forked;
}

/* Starts a daemon as `daemonize` does, writes its pid to PATH, then crashes the worker
   (abort): nothing kills the daemon on the worker's way out, the node must. */
int64_t daemonize_and_crash(const char *path) {
    int64_t pid = daemonize();
    FILE *f = fopen(path, "w");
    if (f) { fprintf(f, "%lld\n", (long long)pid); fclose(f); }
    abort();
    return pid;
}
