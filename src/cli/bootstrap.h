/*
 * bootstrap: the first administrator of a new vault. Its one-time password is
 * random, shown once by init, and only its Argon2id hash is stored; the first
 * login with it yields a restricted session that must change it.
 */
#ifndef PV_CLI_BOOTSTRAP_H
#define PV_CLI_BOOTSTRAP_H

#include <stddef.h>

#include "audit/audit.h"
#include "config/config.h"
#include "store/store.h"

enum pv_rc bootstrap_admin(struct store *st, struct audit *audit, const struct pv_config *cfg,
    const char *username, char *password, size_t pwlen);
/* A random one-time password: 20 characters of an unambiguous alphabet (~100 bits). */
enum pv_rc bootstrap_password(char *out, size_t len);

#endif
