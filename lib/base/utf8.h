/* UTF-8 as text leaving berth must be (a JSON log record, a Prometheus
 * label value): what is a valid sequence, what is not. */
#ifndef BERTH_BASE_UTF8_H
#define BERTH_BASE_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 sequence at s (NUL-terminated), or 0 when
 * it is not one: a stray continuation byte, a sequence cut short, an
 * overlong form, a surrogate, a value past U+10FFFF. */
size_t berth_utf8_seq_len(const unsigned char *s);

#endif
