/* Claims a method name the types fixture already provides. Named to sort after "types", so it
   is the second claimant and the one skipped. */
#include <stdint.h>
int64_t one(void) { return 1; }
