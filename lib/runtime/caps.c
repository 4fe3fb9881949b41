/* Capabilities and the user switch, in the order the kernel needs: shrink
 * the bounding set while still privileged, switch gid/groups/uid, then set
 * the effective, permitted and inheritable sets and clear the ambient one.
 * As in Docker, root keeps the container's set; another user gets an empty
 * effective set (the kernel clears it on setuid) within the same bound. */
#include "runtime-internal.h"

#include "base/cleanup.h"

#include <errno.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

int caps_apply_and_switch_user(const child_plan *p, berth_error **err)
{
    const User *u = p->spec->user;
    int last = (int)cap_max_bits() - 1;
    cap_t caps;
    cap_value_t list[64];
    int n = 0;

    for (int c = 0; c <= last && c < 64; c++) {
        if (p->caps & (UINT64_C(1) << c)) {
            list[n++] = c;
            continue;
        }
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            return berth_error_errno(err, "drop capability %d from the bounding set", c);
    }

    {
        gid_t groups[65];
        size_t ng = 0;

        if (u)
            for (size_t i = 0; i < u->n_additional_gids && ng < 64; i++)
                groups[ng++] = u->additional_gids[i];
        if (setgroups(ng, groups) < 0)
            return berth_error_errno(err, "setgroups");
        if (setresgid(p->gid, p->gid, p->gid) < 0)
            return berth_error_errno(err, "setgid %u", (unsigned)p->gid);
        if (setresuid(p->uid, p->uid, p->uid) < 0)
            return berth_error_errno(err, "setuid %u", (unsigned)p->uid);
    }

    caps = cap_init(); /* all clear */
    if (!caps)
        return berth_error_errno(err, "cap_init");
    if (p->uid == 0 && n > 0 &&
        (cap_set_flag(caps, CAP_EFFECTIVE, n, list, CAP_SET) < 0 ||
         cap_set_flag(caps, CAP_PERMITTED, n, list, CAP_SET) < 0)) {
        cap_free(caps);
        return berth_error_errno(err, "build capability set");
    }
    if (cap_set_proc(caps) < 0) {
        int e = errno;
        cap_free(caps);
        return berth_error_make(err, e, "set capabilities");
    }
    cap_free(caps);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return berth_error_errno(err, "clear ambient capabilities");
    return 0;
}
