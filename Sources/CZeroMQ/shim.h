#ifndef ZEROTASK_CZEROMQ_SHIM_H
#define ZEROTASK_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>

/// errno of the calling thread, for mapping libzmq failures to Swift errors.
static inline int zt_errno(void) { return errno; }
#endif
