/* Declares a param type the host does not know. */
#include <stdint.h>
int64_t wide(int64_t hi, int64_t lo) { return hi ^ lo; }
