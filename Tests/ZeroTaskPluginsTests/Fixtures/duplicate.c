/* Declares the same method name twice. */
#include <stdint.h>
int64_t one(void) { return 1; }
int64_t two(void) { return 2; }
