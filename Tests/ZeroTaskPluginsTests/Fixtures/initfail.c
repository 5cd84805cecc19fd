/* init refuses to start (returns non-zero). */
#include <stdint.h>
int refuse(const char *config_json) { (void)config_json; return 3; }
int64_t one(void) { return 1; }
