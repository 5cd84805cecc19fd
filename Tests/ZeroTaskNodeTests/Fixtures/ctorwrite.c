/* A plugin whose constructor writes a file outside its paths (none declared) as soon as the
   library is loaded: the file named by $ZT_TEST_CTOR_FILE. Under the sandbox neither the probe
   nor a worker may; ctor.wrote says whether this process managed to. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static int64_t wrote = -1;

__attribute__((constructor)) static void write_outside(void) {
    const char *path = getenv("ZT_TEST_CTOR_FILE");
    if (!path) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) { wrote = 0; return; }
    (void)write(fd, "ctor\n", 5);
    close(fd);
    wrote = 1;
}

int64_t ctor_wrote(void) { return wrote; }
