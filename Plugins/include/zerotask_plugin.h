/*
 * zerotask_plugin.h — the ZeroTask plugin SDK (header only).
 *
 * A plugin is a shared library plus a manifest (NAME.json beside NAME.so, or the exported string
 * `zerotask_manifest`). It links against nothing of the host: everything the host offers a running
 * method comes through the `zt_context` passed to it. See Plugins/README.md for a guide.
 *
 * Typed methods ("abi": "c", the default) are plain C functions; the manifest gives their
 * signature. The return value is the result; a typed method that takes a `context` may fail
 * through ctx->fail (set_result is ignored there). C types per manifest type:
 *
 *   bool     bool (_Bool)             float    float
 *   int8     int8_t   … int64 int64_t double   double
 *   uint8    uint8_t  … uint64 uint64_t
 *   string   const char *  (NUL-terminated UTF-8; valid only during the call)
 *   bytes    const uint8_t *data, size_t len   (two C arguments; base64 in JSON)
 *   context  zt_context *  (a C argument; not a JSON param)
 *   void     (return only)
 *
 * Returns:
 *   string   return a `char *`. NULL gives a JSON null. The host copies it, then calls the
 *            manifest's "free" symbol on it (`void NAME(void *)`) when one is named, else treats
 *            it as borrowed (static, or owned by the plugin).
 *   bytes    return a `const uint8_t *` and write its length through one extra, trailing
 *            argument `size_t *out_len` that the host appends after the declared params.
 *            NULL gives empty bytes. Freed like strings.
 *
 * JSON methods ("abi": "json"):
 *   int fn(zt_context *ctx, const char *params, size_t len);
 * `params` is the request's params as JSON text (an array or an object), NUL-terminated, `len`
 * bytes long without the NUL. Report the result with ctx->set_result (valid JSON) or fail with
 * ctx->fail. Return 0 on success; a non-zero return without ctx->fail is a generic failure.
 *
 * Optional lifecycle symbols named in the manifest:
 *   int  init(const char *config_json);   non-zero fails (skips) the plugin
 *   void shutdown(void);
 */
#ifndef ZEROTASK_PLUGIN_H
#define ZEROTASK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes; a manifest's "abi" must equal it. */
#define ZEROTASK_PLUGIN_ABI 1

/* Levels for zt_context.log, from chattiest to most severe. */
enum {
    ZT_LOG_TRACE = 0,
    ZT_LOG_DEBUG = 1,
    ZT_LOG_INFO = 2,
    ZT_LOG_NOTICE = 3,
    ZT_LOG_WARNING = 4,
    ZT_LOG_ERROR = 5,
    ZT_LOG_CRITICAL = 6
};

typedef struct zt_context zt_context;

/*
 * What the host offers a running method. Valid only during the call that received it; every
 * function may be called from any thread while the call lasts. Strings passed in are copied.
 */
struct zt_context {
    /* ZEROTASK_PLUGIN_ABI of the host. */
    uint32_t abi;
    /* sizeof(zt_context) as the host knows it: fields may be appended in later ABIs. */
    uint32_t size;
    /* The host's own state; opaque to the plugin. */
    void *host;
    /* Sets the method's result: `len` bytes of JSON (no NUL needed). Returns 0, or -1 when the
       text is not valid JSON (the task then fails unless set_result is called again with valid
       JSON). */
    int (*set_result)(zt_context *ctx, const char *json, size_t len);
    /* Fails the task with a JSON-RPC error code and a message (UTF-8, may be NULL). Takes
       precedence over any result. Returns 0. */
    int (*fail)(zt_context *ctx, int code, const char *message);
    /* Reports progress: `fraction` in 0...1, an optional message (may be NULL). */
    void (*progress)(zt_context *ctx, double fraction, const char *message);
    /* Non-zero once the task has been cancelled: stop early (cooperative cancellation). */
    int (*cancelled)(zt_context *ctx);
    /* Writes one line to the node's log at a ZT_LOG_* level. */
    void (*log)(zt_context *ctx, int level, const char *message);
};

/* Embeds the manifest in the library instead of a NAME.json file:
       ZEROTASK_MANIFEST("{\"abi\":1,\"name\":\"demo\",\"methods\":[...]}");
   (An embedded manifest cannot carry a sha256 pin: the library is loaded before it is read.) */
#define ZEROTASK_MANIFEST(json) \
    __attribute__((visibility("default"))) const char *zerotask_manifest = (json)

#ifdef __cplusplus
}
#endif

#endif /* ZEROTASK_PLUGIN_H */
