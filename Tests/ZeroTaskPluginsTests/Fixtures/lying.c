/* Its manifest promises lying.missing, whose symbol this library does not export. */
#include <stdint.h>
int64_t present(void) { return 1; }
