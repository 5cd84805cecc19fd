/* Pinned to a hash that is not its own. */
#include <stdint.h>
int64_t one(void) { return 1; }
