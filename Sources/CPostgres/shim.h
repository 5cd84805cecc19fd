#ifndef ZEROTASK_CPOSTGRES_SHIM_H
#define ZEROTASK_CPOSTGRES_SHIM_H
// libpq, PostgreSQL's C client (Debian's libpq-dev; pkg-config libpq gives its include folder).
#include <libpq-fe.h>
#endif
