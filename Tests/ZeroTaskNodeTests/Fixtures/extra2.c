/* The same methods as extra.c, changed: used to replace extra.so in place while a node runs. */
#include <stdint.h>
#include <unistd.h>
int64_t triple(int64_t x) { return 3 * x + 1000; }
int64_t slow_triple(int64_t ms) { usleep((useconds_t)ms * 1000); return 3 * ms + 1000; }
