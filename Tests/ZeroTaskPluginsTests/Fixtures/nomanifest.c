/* A library with neither nomanifest.json nor an exported zerotask_manifest. */
#include <stdint.h>
int64_t one(void) { return 1; }
