/* text: string methods. Returned strings are malloc'ed here and freed by the host through
   text_free, which the manifest names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void text_free(void *p) { free(p); }

/* ASCII letters upper-cased; other bytes (including multi-byte UTF-8) unchanged. */
char *text_upper(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    for (size_t i = 0; i <= n; i++) out[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
    return out;
}

/* The number of Unicode code points (the host guarantees valid UTF-8). */
int64_t text_length(const char *s) {
    int64_t n = 0;
    for (; *s; s++) if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* Reversed by code point, so the result stays valid UTF-8. */
char *text_reverse(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t w = n;
    for (size_t i = 0; i < n;) {
        size_t len = 1;
        while (i + len < n && ((unsigned char)s[i + len] & 0xC0) == 0x80) len++;
        w -= len;
        memcpy(out + w, s + i, len);
        i += len;
    }
    out[n] = '\0';
    return out;
}
