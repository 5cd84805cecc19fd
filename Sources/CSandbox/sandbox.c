/* Landlock, seccomp and prctl for the worker's sandbox; see CSandbox.h. */
#define _GNU_SOURCE
#include "CSandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Landlock's syscalls and structures (Debian 12's headers predate the newer ABIs). */
#define ZT_SYS_landlock_create_ruleset 444
#define ZT_SYS_landlock_add_rule 445
#define ZT_SYS_landlock_restrict_self 446
#define ZT_LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#define ZT_LANDLOCK_RULE_PATH_BENEATH 1

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_ABI1_ALL ((1ULL << 13) - 1)
#define FS_REFER (1ULL << 13)
#define FS_TRUNCATE (1ULL << 14)
#define FS_IOCTL_DEV (1ULL << 15)

/* ABI 4: TCP ports. Handling them with no rule refuses every bind and connect. */
#define NET_BIND_TCP (1ULL << 0)
#define NET_CONNECT_TCP (1ULL << 1)

struct zt_ruleset_attr { uint64_t handled_access_fs; uint64_t handled_access_net; };
struct zt_path_beneath_attr { uint64_t allowed_access; int32_t parent_fd; } __attribute__((packed));

int zt_landlock_abi(void) {
    long abi = syscall(ZT_SYS_landlock_create_ruleset, NULL, 0, ZT_LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

/* The file-system rights this ABI can restrict. */
static uint64_t handled_rights(int abi) {
    uint64_t rights = FS_ABI1_ALL;
    if (abi >= 2) rights |= FS_REFER;
    if (abi >= 3) rights |= FS_TRUNCATE;
    if (abi >= 5) rights |= FS_IOCTL_DEV;
    return rights;
}

/* Adds `path` with `rights` (cut to what applies to a file when it is not a directory). */
static int add_path(int ruleset, const char *path, uint64_t rights, unsigned char *missing) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) { *missing = 1; return 0; }
        return errno;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
        rights &= FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;
    }
    struct zt_path_beneath_attr rule = { .allowed_access = rights, .parent_fd = fd };
    long rc = syscall(ZT_SYS_landlock_add_rule, ruleset, ZT_LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    int err = rc < 0 ? errno : 0;
    close(fd);
    return err;
}

int zt_landlock_restrict(const char *const *read, size_t nread, const char *const *write, size_t nwrite,
                         int deny_tcp, unsigned char *missing) {
    int abi = zt_landlock_abi();
    if (abi <= 0) return ENOSYS;
    uint64_t handled = handled_rights(abi);
    struct zt_ruleset_attr attr = { .handled_access_fs = handled };
    /* Before ABI 4 the kernel knows only the first field: pass that size, or it refuses. */
    size_t size = sizeof attr.handled_access_fs;
    if (abi >= 4) {
        attr.handled_access_net = deny_tcp ? (NET_BIND_TCP | NET_CONNECT_TCP) : 0;
        size = sizeof attr;
    }
    int ruleset = (int)syscall(ZT_SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) return errno;
    int err = 0;
    for (size_t i = 0; i < nread && err == 0; i++) {
        err = add_path(ruleset, read[i], (FS_EXECUTE | FS_READ_FILE | FS_READ_DIR) & handled, &missing[i]);
    }
    for (size_t i = 0; i < nwrite && err == 0; i++) {
        err = add_path(ruleset, write[i], handled, &missing[nread + i]);
    }
    if (err == 0 && syscall(ZT_SYS_landlock_restrict_self, ruleset, 0) < 0) err = errno;
    close(ruleset);
    return err;
}

int zt_no_new_privs(void) {
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : errno;
}

int zt_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno;
}

int zt_pidfd_open(int pid) {
    long fd = syscall(434 /* SYS_pidfd_open */, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int zt_seccomp_available(void) {
    return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 ? 0 : errno;
}

#if defined(__x86_64__)
#define ZT_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ZT_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "the seccomp filter knows x86_64 and aarch64 only"
#endif

#define NR_OFFSET (offsetof(struct seccomp_data, nr))
#define ARG0_LOW (offsetof(struct seccomp_data, args[0]))
#define ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
/* if (A == nr) fall into the next instruction, else skip it. */
#define IF_EQ(k) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), 0, 1)

int zt_seccomp_install(int deny_processes, int deny_network) {
    struct sock_filter f[64];
    unsigned n = 0;
    f[n++] = (struct sock_filter)LOAD(offsetof(struct seccomp_data, arch));
    /* Another ABI than the one this filter knows: refuse everything rather than let it through. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ZT_AUDIT_ARCH, 1, 0);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)LOAD(NR_OFFSET);
#if defined(__x86_64__)
    /* x32 system calls: not this ABI either. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
    f[n++] = (struct sock_filter)RET(ERRNO(ENOSYS));
#endif
    if (deny_processes) {
#if defined(__x86_64__)
        f[n++] = (struct sock_filter)IF_EQ(SYS_fork);
        f[n++] = (struct sock_filter)RET(ERRNO(EPERM));
        f[n++] = (struct sock_filter)IF_EQ(SYS_vfork);
        f[n++] = (struct sock_filter)RET(ERRNO(EPERM));
#endif
        /* clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc use clone. */
        f[n++] = (struct sock_filter)IF_EQ(SYS_clone3);
        f[n++] = (struct sock_filter)RET(ERRNO(ENOSYS));
        /* clone: a thread (CLONE_THREAD) may start, a process may not. */
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4);
        f[n++] = (struct sock_filter)LOAD(ARG0_LOW);
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
        f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
        f[n++] = (struct sock_filter)RET(ERRNO(EPERM));
    }
    if (deny_network) {
        f[n++] = (struct sock_filter)IF_EQ(SYS_io_uring_setup);
        f[n++] = (struct sock_filter)RET(ERRNO(EPERM));
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4);
        f[n++] = (struct sock_filter)LOAD(ARG0_LOW);
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1);
        f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
        f[n++] = (struct sock_filter)RET(ERRNO(EACCES));
    }
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };
    /* TSYNC: every thread of the process, not only the caller. SPEC_ALLOW: no speculative store
       bypass mitigation forced on the worker (it protects the filtered process's own secrets,
       not the node, and costs every instruction stream of the worker). */
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) != 0) {
        return errno;
    }
    return 0;
}
