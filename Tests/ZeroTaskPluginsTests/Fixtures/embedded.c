/* A plugin whose manifest is the exported string zerotask_manifest (no embedded.json). */
#include <stdint.h>
#include "zerotask_plugin.h"

ZEROTASK_MANIFEST(
    "{\"abi\":1,\"name\":\"embedded\",\"version\":\"0.1.0\","
    "\"methods\":[{\"name\":\"embedded.square\",\"symbol\":\"square\","
    "\"params\":[{\"name\":\"x\",\"type\":\"int32\"}],\"returns\":\"int64\",\"doc\":\"x * x\"}]}");

int64_t square(int32_t x) { return (int64_t)x * x; }
