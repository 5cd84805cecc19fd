// A gearmand worker for the ZeroTask side-by-side benchmark (bench/compare.sh).
//
// Registers one function, "add": the workload is two decimal integers separated by one space
// ("3 4"), the result their sum in decimal ("7"). Runs until killed.
//
//   gm_worker HOST PORT
#include <libgearman/gearman.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *add(gearman_job_st *job, void *context, size_t *result_size, gearman_return_t *ret) {
    (void)context;
    const char *w = gearman_job_workload(job);
    size_t n = gearman_job_workload_size(job);
    char buf[64];
    if (n == 0 || n >= sizeof buf) {
        *ret = GEARMAN_WORK_FAIL;
        return NULL;
    }
    memcpy(buf, w, n);
    buf[n] = 0;
    char *end;
    int64_t a = strtoll(buf, &end, 10);
    if (*end != ' ') {
        *ret = GEARMAN_WORK_FAIL;
        return NULL;
    }
    int64_t b = strtoll(end + 1, &end, 10);
    if (*end != 0) {
        *ret = GEARMAN_WORK_FAIL;
        return NULL;
    }
    char *out = malloc(24);  // libgearman frees the result
    if (out == NULL) {
        *ret = GEARMAN_WORK_FAIL;
        return NULL;
    }
    *result_size = (size_t)snprintf(out, 24, "%" PRId64, a + b);
    *ret = GEARMAN_SUCCESS;
    return out;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: gm_worker HOST PORT\n");
        return 64;
    }
    gearman_worker_st *worker = gearman_worker_create(NULL);
    if (worker == NULL) {
        fprintf(stderr, "gm_worker: gearman_worker_create failed\n");
        return 70;
    }
    if (gearman_worker_add_server(worker, argv[1], (in_port_t)atoi(argv[2])) != GEARMAN_SUCCESS) {
        fprintf(stderr, "gm_worker: add_server: %s\n", gearman_worker_error(worker));
        return 69;
    }
    if (gearman_worker_add_function(worker, "add", 0, add, NULL) != GEARMAN_SUCCESS) {
        fprintf(stderr, "gm_worker: add_function: %s\n", gearman_worker_error(worker));
        return 69;
    }
    for (;;) {
        gearman_return_t r = gearman_worker_work(worker);
        if (r != GEARMAN_SUCCESS && r != GEARMAN_WORK_FAIL) {
            fprintf(stderr, "gm_worker: %s\n", gearman_worker_error(worker));
            gearman_worker_free(worker);
            return 69;
        }
    }
}
