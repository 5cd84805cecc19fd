/* Tries to define a method in the reserved zerotask. namespace. */
#include <stdint.h>
int64_t one(void) { return 1; }
