/* Kubernetes-style resource quantities: "500m", "2", "0.5", "64Mi", "1G",
 * "1e3". Exact integer arithmetic (no floating point); anything that is not
 * a whole number of the requested unit, overflows int64, or is not a
 * quantity at all is rejected with a message quoting the input. */
#ifndef BERTH_BASE_QUANTITY_H
#define BERTH_BASE_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Parse a quantity and return its value times 10^scale10 (scale10 in 0..9),
 * which must be a whole number in 0..INT64_MAX. what names the quantity in
 * errors ("memory", "cpu"). */
int berth_parse_quantity(const char *s, int scale10, const char *what, int64_t *ret_value,
                         berth_error **err);

/* Bytes: "64Mi" -> 67108864, "1G" -> 1000000000, "100" -> 100. */
int berth_parse_bytes(const char *s, int64_t *ret_bytes, berth_error **err);

/* CPU in millicores: "500m" -> 500, "2" -> 2000, "0.25" -> 250. */
int berth_parse_millicpu(const char *s, int64_t *ret_millis, berth_error **err);

/* Canonical short forms for tables: 67108864 -> "64Mi", 1500 -> "1500"
 * (bytes that are not a whole binary unit stay plain); 500 -> "500m",
 * 2000 -> "2". Returns buf. */
char *berth_format_bytes(int64_t bytes, char *buf, size_t size);
/* For measured amounts, short and rounded: 25275768832 -> "24Gi", 1610612736 -> "1.5Gi",
 * 67108864 -> "64Mi", 385024 -> "376Ki", 900 -> "900". Returns buf. */
char *berth_format_bytes_approx(int64_t bytes, char *buf, size_t size);
/* Sizes as pulls and registries state them, in decimal units:
 * 12345678 -> "12.3 MB", 2500000000 -> "2.50 GB", 900 -> "900 B".
 * Returns buf. */
char *berth_format_bytes_si(int64_t bytes, char *buf, size_t size);
char *berth_format_millicpu(int64_t millis, char *buf, size_t size);

#endif
