/* Principal names and ids. */
#include "principal.h"

#include <errno.h>
#include <sodium.h>

const uint8_t berth_id_broadcast[BERTH_ID_LEN] = { 0 };

int berth_name_validate(const char *name, const char *what, berth_error **err)
{
    size_t len = strlen(name);

    if (len == 0)
        return berth_error_set(err, EINVAL, "%s: empty name", what);
    if (len > BERTH_NAME_MAX)
        return berth_error_set(err, EINVAL, "%s '%.*s...': longer than %d characters", what, 20,
                               name, BERTH_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

        if (alnum || (i > 0 && (c == '_' || c == '.' || c == '-')))
            continue;
        return berth_error_set(err, EINVAL,
                               "%s '%s': invalid character at %zu (allowed: a-z 0-9 _ . -, "
                               "starting with a letter or digit)",
                               what, name, i + 1);
    }
    return 0;
}

int berth_principal_init(berth_principal *ret, berth_role role, const char *name, berth_error **err)
{
    static const char label[] = "berth-principal-v1";
    crypto_generichash_state st;
    uint8_t hash[32], r = (uint8_t)role;

    if (role != BERTH_ROLE_CONTROLLER && role != BERTH_ROLE_NODE && role != BERTH_ROLE_OPERATOR)
        return berth_error_set(err, EINVAL, "principal %s: unknown role %d", name, (int)role);
    if (berth_name_validate(name, berth_role_name(role), err) < 0)
        return -1;
    crypto_generichash_init(&st, NULL, 0, sizeof(hash));
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label)); /* with its NUL */
    crypto_generichash_update(&st, &r, 1);
    crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
    crypto_generichash_final(&st, hash, sizeof(hash));
    memcpy(ret->id, hash, BERTH_ID_LEN);
    ret->role = role;
    memcpy(ret->name, name, strlen(name) + 1);
    return 0;
}

const char *berth_role_name(berth_role role)
{
    switch (role) {
    case BERTH_ROLE_CONTROLLER:
        return "controller";
    case BERTH_ROLE_NODE:
        return "node";
    case BERTH_ROLE_OPERATOR:
        return "operator";
    }
    return "unknown";
}
