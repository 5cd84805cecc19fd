/* The same method as extra.c, changed: used to replace extra.so in place while a node runs. */
#include <stdint.h>
int64_t triple(int64_t x) { return 3 * x + 1000; }
