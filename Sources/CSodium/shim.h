#ifndef ZEROTASK_CSODIUM_SHIM_H
#define ZEROTASK_CSODIUM_SHIM_H
// libsodium (Debian libsodium-dev), for the dashboard's HMAC-SHA-256 admin token.
#include <sodium.h>
#endif
