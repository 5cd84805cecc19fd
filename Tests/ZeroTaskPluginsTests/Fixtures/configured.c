/* init/shutdown: keeps the config it was given; shutdown writes a marker file when configured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *config;

int plugin_init(const char *config_json) {
    config = strdup(config_json);
    return 0;
}

void plugin_shutdown(void) {
    /* The test passes {"marker": "/path"}; find it the crude way to stay dependency-free. */
    const char *key = strstr(config, "\"marker\":\"");
    if (!key) return;
    key += strlen("\"marker\":\"");
    const char *end = strchr(key, '"');
    char path[512];
    snprintf(path, sizeof path, "%.*s", (int)(end - key), key);
    FILE *f = fopen(path, "w");
    if (f) { fputs("shutdown\n", f); fclose(f); }
}

const char *get_config(void) { return config; }
