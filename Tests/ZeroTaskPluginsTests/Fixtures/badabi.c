/* Built for a plugin ABI this host does not implement. */
#include <stdint.h>
int64_t one(void) { return 1; }
