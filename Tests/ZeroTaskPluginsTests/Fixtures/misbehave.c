/* Methods that misbehave on purpose, for the node's worker-process tests: a method that never
   returns, one that segfaults, one that aborts, one that calls exit(), and a 50 MB result.
   Never invoke hang/segfault/abort/exit in-process. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int64_t hang(void) { for (;;) pause(); }

int64_t segfault(void) {
    volatile int *p = (int *)(uintptr_t)8;
    return *p;
}

int64_t do_abort(void) { abort(); }

int64_t do_exit(int32_t status) { exit(status); }

/* size bytes of 'x' (default 50 MB when size is 0). */
char *huge(uint64_t size) {
    if (size == 0) size = 50u * 1024 * 1024;
    char *s = malloc(size + 1);
    if (!s) return NULL;
    memset(s, 'x', size);
    s[size] = '\0';
    return s;
}

void misbehave_free(void *p) { free(p); }

/* Sleeps `ms` milliseconds, then returns them: for timeouts that should not fire. */
int64_t sleep_ms(int64_t ms) { usleep((useconds_t)ms * 1000); return ms; }
