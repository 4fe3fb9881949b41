/* CDI names (the spec's "Fully qualified device name" rules), apart from
 * the spec reader so that lib/spec can check a request without YAML. */
#include "cdi.h"

#include <stdio.h>
#include <string.h>

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* s[0..len): alphanumeric at both ends, else only alphanumerics and the
 * characters of inner between. */
static bool word_valid(const char *s, size_t len, const char *inner)
{
    if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (!is_alnum(s[i]) && !strchr(inner, s[i]))
            return false;
    return true;
}

static bool kind_valid(const char *kind, size_t len)
{
    const char *slash = memchr(kind, '/', len);

    /* kinds are short in practice; the cap keeps every buffer bounded */
    if (!slash || len > 255)
        return false;
    return word_valid(kind, (size_t)(slash - kind), "_.-") &&
           word_valid(slash + 1, len - (size_t)(slash - kind) - 1, "_.-");
}

bool berth_cdi_kind_valid(const char *kind)
{
    return kind && kind_valid(kind, strlen(kind));
}

bool berth_cdi_name_parse(const char *name, char *ret_kind, size_t size)
{
    const char *eq = name ? strchr(name, '=') : NULL;

    if (!eq || !kind_valid(name, (size_t)(eq - name)) ||
        !word_valid(eq + 1, strlen(eq + 1), "_.:-") || strlen(eq + 1) > 255)
        return false;
    if (ret_kind)
        snprintf(ret_kind, size, "%.*s", (int)(eq - name), name);
    return true;
}

/* Here rather than with the reader: settings (agent.yaml) name them
 * without reading any spec. */
const char *const berth_cdi_default_dirs[] = { "/etc/cdi", "/var/run/cdi" };
const size_t berth_cdi_default_dirs_len = 2;
