#include <stdint.h>
int64_t triple(int64_t x) { return 3 * x; }
