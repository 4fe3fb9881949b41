/* lib/image: errors stay one line. Registries, archives and layers are
 * hostile text: a media type, a path in a tar, a platform may hold a
 * newline or an escape sequence, and an error quoting them must not forge
 * a second log line or drive a terminal. The module's public calls pass
 * their error through berth_image_error_line before returning it. */
#ifndef BERTH_IMAGE_TEXT_H
#define BERTH_IMAGE_TEXT_H

#include "base/error.h"

/* Control characters (and DEL) of (*err)->msg become '?'. Returns -1, so
 * a failing function may end with it. NULL or no error: nothing. */
int berth_image_error_line(berth_error **err);

#endif
