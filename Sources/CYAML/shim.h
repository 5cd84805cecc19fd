#ifndef ZEROTASK_CYAML_SHIM_H
#define ZEROTASK_CYAML_SHIM_H
#include <yaml.h>
#endif
