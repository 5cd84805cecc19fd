#ifndef ZEROTASK_CSANDBOX_H
#define ZEROTASK_CSANDBOX_H

/* The Linux calls the worker's sandbox needs and Swift cannot make directly (raw syscalls,
   variadic prctl, BPF programs). Every function returns 0 or an errno value. */

#include <stddef.h>
#include <stdint.h>

/** The Landlock ABI version the kernel offers (0 when Landlock is missing or disabled). */
int zt_landlock_abi(void);

/** Restricts this process (and what it starts later) to reading `read` paths and reading and
    writing `write` paths, through Landlock. A path that does not exist is skipped and its index
    reported in `missing` (set to 1), so the caller can name it. With `deny_tcp` and ABI 4 or
    later, binding and connecting TCP sockets are refused too (EACCES). Needs no_new_privs. */
int zt_landlock_restrict(const char *const *read, size_t nread, const char *const *write, size_t nwrite,
                         int deny_tcp, unsigned char *missing);

/** Sets no_new_privs (required before an unprivileged seccomp filter or Landlock domain). */
int zt_no_new_privs(void);

/** Installs a seccomp filter: with `deny_processes`, fork, vfork and clone without CLONE_THREAD
    fail with EPERM (clone3 with ENOSYS, so that threads fall back to clone); with `deny_network`,
    socket() of any family but AF_UNIX fails with EACCES, and io_uring_setup with EPERM. */
int zt_seccomp_install(int deny_processes, int deny_network);

/** Whether this kernel takes seccomp filters (0: yes, else the errno). */
int zt_seccomp_available(void);

/** Makes this process the reaper of every orphan among its descendants. */
int zt_set_child_subreaper(void);

/** A pidfd for `pid` (close-on-exec; readable once the process has ended), or -errno. */
int zt_pidfd_open(int pid);

#endif
