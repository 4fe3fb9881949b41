/* metrics_address (see listen.h). */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define ADDRESS_MAX 64

static int bad(const char *text, berth_error **err)
{
    return berth_error_set(err, EINVAL,
                           "metrics address '%.80s': expected HOST:PORT (an IPv4 address or "
                           "localhost), [IPv6]:PORT, :PORT, or off",
                           text);
}

int berth_metrics_address_parse(const char *text, struct sockaddr_storage *ret_addr,
                                socklen_t *ret_len, berth_error **err)
{
    struct sockaddr_storage ss = { 0 };
    char host[ADDRESS_MAX + 1];
    const char *colon, *h = text;
    size_t hlen;
    char *end;
    unsigned long port;
    socklen_t len;

    if (!text || !*text || strcmp(text, "off") == 0)
        return 0;
    if (strlen(text) > ADDRESS_MAX || !(colon = strrchr(text, ':')))
        return bad(text, err);
    hlen = (size_t)(colon - text);
    if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']') {
        h = text + 1;
        hlen -= 2;
    } else if (memchr(text, ':', hlen)) {
        return bad(text, err); /* an IPv6 address needs its brackets */
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port > 65535 || colon[1] == '-' || colon[1] == '+')
        return bad(text, err);
    if (h != text) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return bad(text, err);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;

        if (strcmp(host, "localhost") == 0)
            strcpy(host, "127.0.0.1");
        if (!*host)
            a4->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return bad(text, err);
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        len = sizeof(*a4);
    }
    if (ret_addr)
        *ret_addr = ss;
    if (ret_len)
        *ret_len = len;
    return 1;
}
