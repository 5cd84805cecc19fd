// A gearmand client for the ZeroTask side-by-side benchmark (bench/compare.sh).
//
// Submits N "add" jobs keeping K in flight and checks every result: job i's workload is "i i+1"
// and its result must be "2i+1" (the worker's text encoding, see gm_worker.c). Latency is per
// job, from submitting it to its completion. Prints one JSON line shaped like
// `zerotask bench --json`:
//   {"system":"gearmand","tasks":N,"inflight":K,"ok":..,"errors":..,"seconds":..,
//    "jobs_per_second":..,"latency_ms":{"p50":..,"p90":..,"p99":..,"max":..}}
// Exits 0 when every job succeeded with the right result, 65 otherwise, 69 without a server.
//
//   gm_client HOST PORT N K
//
// K = 1: a plain loop of gearman_client_do (what a synchronous caller writes).
// K > 1: the task API in non-blocking mode: gearman_client_add_task tops the window up to K
// jobs, gearman_client_run_tasks sends them and takes completions, gearman_client_wait polls;
// so K jobs stay in flight all along rather than in rounds of K.
#include <libgearman/gearman.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct job {
    int64_t i;
    double submitted;
    char workload[48];
    size_t size;
};

static struct job *jobs;
static double *latencies;
static long done_count, ok_count, error_count;

static void finish(int64_t i, const char *data, size_t size, int failed) {
    latencies[done_count++] = now() - jobs[i].submitted;
    char want[24];
    int n = snprintf(want, sizeof want, "%" PRId64, 2 * i + 1);
    if (!failed && size == (size_t)n && memcmp(data, want, (size_t)n) == 0) {
        ok_count++;
    } else {
        if (error_count < 5)
            fprintf(stderr, "gm_client: job %" PRId64 ": %s, got \"%.*s\", expected %s\n", i,
                failed ? "failed" : "wrong result", (int)(data ? size : 0), data ? data : "", want);
        error_count++;
    }
}

static gearman_return_t on_complete(gearman_task_st *task) {
    struct job *j = gearman_task_context(task);
    finish(j->i, gearman_task_data(task), gearman_task_data_size(task), 0);
    return GEARMAN_SUCCESS;
}

static gearman_return_t on_fail(gearman_task_st *task) {
    struct job *j = gearman_task_context(task);
    finish(j->i, NULL, 0, 1);
    return GEARMAN_SUCCESS;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Nearest rank, as zerotask bench does.
static double rank(double p, long n) {
    long i = (long)((p * (double)n) + 0.999999999) - 1;
    if (i < 0) i = 0;
    if (i > n - 1) i = n - 1;
    return latencies[i] * 1000;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: gm_client HOST PORT N K\n");
        return 64;
    }
    long n = atol(argv[3]), k = atol(argv[4]);
    if (n < 1 || k < 1) {
        fprintf(stderr, "gm_client: N and K must be at least 1\n");
        return 64;
    }
    jobs = calloc((size_t)n, sizeof *jobs);
    latencies = calloc((size_t)n, sizeof *latencies);
    for (long i = 0; i < n; i++) {
        jobs[i].i = i;
        jobs[i].size = (size_t)snprintf(jobs[i].workload, sizeof jobs[i].workload, "%ld %ld", i, i + 1);
    }
    gearman_client_st *client = gearman_client_create(NULL);
    if (client == NULL || gearman_client_add_server(client, argv[1], (in_port_t)atoi(argv[2])) != GEARMAN_SUCCESS) {
        fprintf(stderr, "gm_client: cannot set up the client\n");
        return 69;
    }
    gearman_client_set_timeout(client, 30000);  // no wait blocks longer than 30 s
    // Connect before the clock starts, as zerotask bench connects before timing.
    if (gearman_client_echo(client, "ping", 4) != GEARMAN_SUCCESS) {
        fprintf(stderr, "gm_client: no gearmand at %s:%s: %s\n", argv[1], argv[2], gearman_client_error(client));
        return 69;
    }
    double t0 = now();
    if (k == 1) {
        for (long i = 0; i < n; i++) {
            size_t size = 0;
            gearman_return_t r;
            jobs[i].submitted = now();
            char *out = gearman_client_do(client, "add", NULL, jobs[i].workload, jobs[i].size, &size, &r);
            finish(i, out, size, r != GEARMAN_SUCCESS);
            free(out);
            if (r != GEARMAN_SUCCESS && r != GEARMAN_WORK_FAIL) {
                fprintf(stderr, "gm_client: %s\n", gearman_client_error(client));
                return 69;
            }
        }
    } else {
        gearman_client_add_options(client, GEARMAN_CLIENT_NON_BLOCKING | GEARMAN_CLIENT_FREE_TASKS);
        gearman_client_set_complete_fn(client, on_complete);
        gearman_client_set_fail_fn(client, on_fail);
        gearman_client_set_exception_fn(client, on_fail);
        long submitted = 0;
        while (done_count < n) {
            while (submitted - done_count < k && submitted < n) {
                gearman_return_t r;
                struct job *j = &jobs[submitted];
                j->submitted = now();
                if (gearman_client_add_task(client, NULL, j, "add", NULL, j->workload, j->size, &r) == NULL ||
                    r != GEARMAN_SUCCESS) {
                    fprintf(stderr, "gm_client: add_task: %s\n", gearman_client_error(client));
                    return 69;
                }
                submitted++;
            }
            gearman_return_t r = gearman_client_run_tasks(client);
            if (r == GEARMAN_IO_WAIT) r = gearman_client_wait(client);
            if (r != GEARMAN_SUCCESS && r != GEARMAN_IO_WAIT) {
                fprintf(stderr, "gm_client: run_tasks: %s (%ld of %ld done)\n", gearman_client_error(client), done_count, n);
                return 69;
            }
        }
    }
    double seconds = now() - t0;
    qsort(latencies, (size_t)done_count, sizeof *latencies, cmp);
    printf("{\"system\":\"gearmand\",\"tasks\":%ld,\"inflight\":%ld,\"ok\":%ld,\"errors\":%ld,\"seconds\":%.3f,"
           "\"jobs_per_second\":%.3f,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
        n, k, ok_count, error_count, seconds, (double)done_count / seconds, rank(0.50, done_count),
        rank(0.90, done_count), rank(0.99, done_count), rank(1.0, done_count));
    gearman_client_free(client);
    return error_count == 0 && ok_count == n ? 0 : 65;
}
