#include <stdint.h>
#include <unistd.h>
int64_t triple(int64_t x) { return 3 * x; }
/* Sleeps in this library's own code, then answers: what a replaced library must not disturb. */
int64_t slow_triple(int64_t ms) { usleep((useconds_t)ms * 1000); return 3 * ms; }
