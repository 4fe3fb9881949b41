/* One line per error. */
#include "image/text.h"

int berth_image_error_line(berth_error **err)
{
    if (!err || !*err || !(*err)->msg)
        return -1;
    for (char *p = (*err)->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return -1;
}
