/*
 * pkcs11: the HSM provider. One PKCS#11 module (dlopen of [pkcs11] module,
 * the standard C API of PKCS#11 v2.40 through p11-kit's pkcs11.h), one token
 * found by its label in any slot, one logged-in R/W session, guarded by a
 * mutex (the wraps are a few per unseal and per HSM-held key operation, not
 * a hot path).
 *
 * Wrap = C_Encrypt with CKM_AES_GCM (SP 800-38D: 96-bit random IV drawn by
 * us, 128-bit tag, the caller's AAD) under an AES-256 key that is
 * CKA_SENSITIVE and not CKA_EXTRACTABLE: its bytes never leave the token.
 * SoftHSM2 2.6 has CKM_AES_GCM and CKM_AES_KEY_WRAP_PAD (KWP, RFC 5649); GCM
 * is used because it authenticates an AAD, so a wrap cannot be moved to
 * another purpose (the soft provider's box, same layout:
 * IV(12) | ciphertext | tag(16)).
 *
 * Session states:
 *   CLOSED --session_open: slot with the label, C_OpenSession, C_Login--> OPEN
 *   CLOSED --token not listed--> C_Finalize + C_Initialize (the module may
 *          only rescan its tokens at initialization), then session_open
 *   OPEN --an operation fails with a "gone" code (session/token/device/
 *          object handle invalid, key missing)--> CLOSED, and one retry
 * While no session opens every operation is PV_E_HSM; the last error
 * (function, CKR_ name, time) is kept for GET /v1/sys/hsm. Nothing here
 * logs key bytes or the PIN; the PIN lives in locked memory (pv_secret).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "keys/keys_int.h"

#define PIN_MAX 128
#define TOKEN_LABEL_LEN 32   /* CK_TOKEN_INFO.label: blank padded, no NUL */
#define GCM_TAG_LEN 16

struct keys_hsm {
	pthread_mutex_t mu;          /* guards everything below */
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	bool initialized;            /* C_Initialize succeeded */
	bool have_session;
	CK_SESSION_HANDLE session;
	CK_SLOT_ID slot;
	char module[PATH_MAX];
	char token[TOKEN_LABEL_LEN + 1];
	char key_label[128];
	struct pv_secret *pin;
	size_t pinlen;
	size_t nmech;
	char mechs[KEYS_HSM_MECH_MAX][32];
	char last_error[128];
	int64_t last_error_ms;
};

static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
	{ CKR_OK, "CKR_OK" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID" },
	{ CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
	{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
	{ CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
};

static const struct {
	CK_MECHANISM_TYPE m;
	const char *name;
} mech_names[] = {
	{ CKM_AES_GCM, "CKM_AES_GCM" },
	{ CKM_AES_KEY_WRAP_PAD, "CKM_AES_KEY_WRAP_KWP" },
	{ CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP" },
	{ CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN" },
	{ CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP" },
	{ CKM_SHA256_HMAC, "CKM_SHA256_HMAC" },
};

static const char *
rv_name(CK_RV rv)
{
	size_t i;

	for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	return "CKR_other";
}

/* Codes after which the session (or the module's view of the token) is
 * stale: drop it and open again by label. */
static bool
rv_gone(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID: case CKR_SESSION_CLOSED: case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED: case CKR_DEVICE_ERROR: case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_USER_NOT_LOGGED_IN: case CKR_OBJECT_HANDLE_INVALID: case CKR_KEY_HANDLE_INVALID:
	case CKR_SLOT_ID_INVALID: case CKR_CRYPTOKI_NOT_INITIALIZED: case CKR_GENERAL_ERROR:
	case CKR_DEVICE_MEMORY:
		return true;
	default:
		return false;
	}
}

/* Caller holds mu. */
static void
set_error(struct keys_hsm *h, const char *fn, const char *what)
{
	snprintf(h->last_error, sizeof(h->last_error), "%s in %s", what, fn);
	h->last_error_ms = util_now_ms();
	log_warn("keys: hsm %s: %s", h->token, h->last_error);
}

/* ---- PIN file ---- */

enum pv_rc
keys_pin_file_read(const char *path, struct pv_secret **out, size_t *len)
{
	struct pv_secret *pin = NULL;
	struct stat sb;
	size_t got = 0;
	enum pv_rc rc = PV_E_CONFIG;
	int fd;

	if (path == NULL || path[0] == '\0') {
		log_error("keys: [pkcs11] pin_file is not set");
		return PV_E_CONFIG;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		log_error("keys: pkcs11 pin file %s: %s", path,
		    errno == ELOOP ? "a symbolic link; refused" : strerror(errno));
		return errno == ENOENT ? PV_E_NOTFOUND : PV_E_CONFIG;
	}
	if (fstat(fd, &sb) != 0) {
		rc = PV_E_IO;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_error("keys: pkcs11 pin file %s is not a regular file; refused", path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		log_error("keys: pkcs11 pin file %s has mode %03o, accessible by group or "
		    "others; refused (chmod 600)", path, (unsigned)(sb.st_mode & 0777));
		goto out;
	}
	if (sb.st_uid != geteuid() && sb.st_uid != 0) {
		log_error("keys: pkcs11 pin file %s is owned by uid %u, not by this user; refused",
		    path, (unsigned)sb.st_uid);
		goto out;
	}
	if ((rc = crypto_secret_new(PIN_MAX + 2, &pin)) != PV_OK)
		goto out;
	for (;;) {
		ssize_t r = read(fd, pin->buf + got, pin->len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = PV_E_IO;
			goto out;
		}
		if (r == 0 || (got += (size_t)r) == pin->len)
			break;
	}
	if (got > 0 && pin->buf[got - 1] == '\n')
		got--;
	if (got > 0 && pin->buf[got - 1] == '\r')
		got--;
	if (got == 0 || got > PIN_MAX || memchr(pin->buf, '\n', got) != NULL) {
		log_error("keys: pkcs11 pin file %s must hold one line of 1 to %d bytes", path,
		    PIN_MAX);
		rc = PV_E_CONFIG;
		goto out;
	}
	*out = pin;
	*len = got;
	pin = NULL;
	rc = PV_OK;
out:
	crypto_secret_free(pin);
	close(fd);
	return rc;
}

/* ---- module and session (caller holds mu) ---- */

static enum pv_rc
module_init(struct keys_hsm *h)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	if (h->initialized)
		return PV_OK;
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = h->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		set_error(h, "C_Initialize", rv_name(rv));
		return PV_E_HSM;
	}
	h->initialized = true;
	return PV_OK;
}

static void
module_restart(struct keys_hsm *h)
{
	if (h->initialized)
		(void)h->f->C_Finalize(NULL);
	h->initialized = false;
	h->have_session = false;
	(void)module_init(h);
}

static bool
label_matches(const CK_UTF8CHAR label[TOKEN_LABEL_LEN], const char *want)
{
	size_t n = strlen(want), i;

	if (n > TOKEN_LABEL_LEN || memcmp(label, want, n) != 0)
		return false;
	for (i = n; i < TOKEN_LABEL_LEN; i++)
		if (label[i] != ' ' && label[i] != '\0')
			return false;
	return true;
}

static void
mechanisms_read(struct keys_hsm *h)
{
	CK_MECHANISM_TYPE list[512];
	CK_ULONG n = sizeof(list) / sizeof(list[0]), i;
	size_t j;

	if (h->f->C_GetMechanismList(h->slot, list, &n) != CKR_OK)
		return;
	h->nmech = 0;
	for (j = 0; j < sizeof(mech_names) / sizeof(mech_names[0]); j++) {
		for (i = 0; i < n; i++) {
			if (list[i] == mech_names[j].m && h->nmech < KEYS_HSM_MECH_MAX) {
				util_strlcpy(h->mechs[h->nmech++], mech_names[j].name,
				    sizeof(h->mechs[0]));
				break;
			}
		}
	}
}

static enum pv_rc
session_open_once(struct keys_hsm *h)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	enum pv_rc rc = PV_E_HSM;
	bool found = false;

	if ((rc = module_init(h)) != PV_OK)
		return rc;
	rc = PV_E_HSM;
	if ((rv = h->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK) {
		set_error(h, "C_GetSlotList", rv_name(rv));
		return PV_E_HSM;
	}
	if (n > 0 && (slots = calloc(n, sizeof(*slots))) == NULL)
		return PV_E_NOMEM;
	if (n > 0 && (rv = h->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		set_error(h, "C_GetSlotList", rv_name(rv));
		goto out;
	}
	for (i = 0; i < n && !found; i++) {
		if (h->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (label_matches(ti.label, h->token)) {
			h->slot = slots[i];
			found = true;
		}
	}
	if (!found) {
		set_error(h, "C_GetTokenInfo", "token not present");
		goto out;
	}
	rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		set_error(h, "C_OpenSession", rv_name(rv));
		goto out;
	}
	rv = h->f->C_Login(s, CKU_USER, h->pin->buf, h->pinlen);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		set_error(h, "C_Login", rv_name(rv));
		(void)h->f->C_CloseSession(s);
		rc = (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) ? PV_E_CONFIG : PV_E_HSM;
		goto out;
	}
	h->session = s;
	h->have_session = true;
	mechanisms_read(h);
	log_info("keys: hsm token %s: session open", h->token);
	rc = PV_OK;
out:
	free(slots);
	return rc;
}

static enum pv_rc
session_ensure(struct keys_hsm *h)
{
	enum pv_rc rc;

	if (h->have_session)
		return PV_OK;
	rc = session_open_once(h);
	if (rc == PV_E_HSM) {
		/* a token that went away and came back is only seen again after
		 * the module re-initializes (SoftHSM2 scans its tokens there) */
		module_restart(h);
		rc = session_open_once(h);
	}
	return rc;
}

static void
session_drop(struct keys_hsm *h)
{
	if (h->have_session)
		(void)h->f->C_CloseSession(h->session);
	h->have_session = false;
}

static CK_RV
key_find(struct keys_hsm *h, const char *label, CK_OBJECT_HANDLE *obj, bool *found)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE o[2];
	CK_ULONG n = 0;
	CK_RV rv;

	*found = false;
	rv = h->f->C_FindObjectsInit(h->session, tmpl, 2);
	if (rv != CKR_OK)
		return rv;
	rv = h->f->C_FindObjects(h->session, o, 2, &n);
	(void)h->f->C_FindObjectsFinal(h->session);
	if (rv != CKR_OK)
		return rv;
	if (n == 1) {
		*obj = o[0];
		*found = true;
	} else if (n > 1) {
		return CKR_ARGUMENTS_BAD;   /* two keys with one label: refuse to guess */
	}
	return CKR_OK;
}

/* ---- open / close / report ---- */

bool
keys_hsm_pin_equal(struct keys_hsm *h, const char *pin)
{
	size_t n;

	if (h == NULL || h->pin == NULL || pin == NULL)
		return false;
	n = strnlen(pin, PIN_MAX + 1);
	return n == h->pinlen && crypto_memeq(pin, h->pin->buf, n);
}

enum pv_rc
keys_hsm_open(const struct keys_hsm_spec *spec, struct keys_hsm **out)
{
	struct keys_hsm *h = NULL;
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	enum pv_rc rc;

	if (spec == NULL || spec->module == NULL || spec->module[0] == '\0' ||
	    spec->token_label == NULL || spec->token_label[0] == '\0' ||
	    strlen(spec->token_label) > TOKEN_LABEL_LEN || spec->key_label == NULL ||
	    spec->key_label[0] == '\0' || strlen(spec->key_label) >= sizeof(h->key_label) ||
	    strlen(spec->module) >= sizeof(h->module)) {
		log_error("keys: [pkcs11] needs module, token_label (1..32 bytes), pin_file "
		    "and key_label");
		return PV_E_CONFIG;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return PV_E_NOMEM;
	if (pthread_mutex_init(&h->mu, NULL) != 0) {
		free(h);
		return PV_E_INTERNAL;
	}
	util_strlcpy(h->module, spec->module, sizeof(h->module));
	util_strlcpy(h->token, spec->token_label, sizeof(h->token));
	util_strlcpy(h->key_label, spec->key_label, sizeof(h->key_label));
	if ((rc = keys_pin_file_read(spec->pin_file, &h->pin, &h->pinlen)) != PV_OK)
		goto out;
	h->dl = dlopen(spec->module, RTLD_NOW | RTLD_LOCAL);
	if (h->dl == NULL) {
		log_error("keys: cannot load the pkcs11 module %s", spec->module);
		rc = PV_E_CONFIG;
		goto out;
	}
	*(void **)(&get_list) = dlsym(h->dl, "C_GetFunctionList");
	if (get_list == NULL || get_list(&h->f) != CKR_OK || h->f == NULL) {
		log_error("keys: %s is not a PKCS#11 module (no C_GetFunctionList)", spec->module);
		rc = PV_E_CONFIG;
		goto out;
	}
	pthread_mutex_lock(&h->mu);
	rc = session_ensure(h);
	pthread_mutex_unlock(&h->mu);
	if (rc != PV_OK)
		goto out;
	*out = h;
	h = NULL;
out:
	keys_hsm_close(h);
	return rc;
}

void
keys_hsm_close(struct keys_hsm *h)
{
	if (h == NULL)
		return;
	if (h->f != NULL) {
		session_drop(h);
		if (h->initialized)
			(void)h->f->C_Finalize(NULL);
	}
	if (h->dl != NULL)
		dlclose(h->dl);
	crypto_secret_free(h->pin);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

void
keys_hsm_report(struct keys_hsm *h, struct keys_hsm_status *out)
{
	CK_SESSION_INFO si;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	/* probe: a session the token no longer knows, or a token that no longer
	 * holds the sealing key, is dropped and re-opened by label */
	if (h->have_session) {
		CK_OBJECT_HANDLE obj;
		bool found = false;
		CK_RV rv = h->f->C_GetSessionInfo(h->session, &si);

		if (rv == CKR_OK)
			rv = key_find(h, h->key_label, &obj, &found);
		if (rv != CKR_OK || !found) {
			set_error(h, "C_FindObjects",
			    rv != CKR_OK ? rv_name(rv) : "key not in token");
			session_drop(h);
		}
	}
	if (!h->have_session)
		(void)session_ensure(h);
	out->configured = true;
	out->available = h->have_session;
	util_strlcpy(out->module, h->module, sizeof(out->module));
	util_strlcpy(out->token_label, h->token, sizeof(out->token_label));
	util_strlcpy(out->key_label, h->key_label, sizeof(out->key_label));
	out->nmechanisms = h->nmech;
	for (i = 0; i < h->nmech; i++)
		util_strlcpy(out->mechanisms[i], h->mechs[i], sizeof(out->mechanisms[i]));
	util_strlcpy(out->last_error, h->last_error, sizeof(out->last_error));
	out->last_error_ms = h->last_error_ms;
	pthread_mutex_unlock(&h->mu);
}

enum pv_rc
keys_hsm_key_ensure(struct keys_hsm *h, const char *label)
{
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG len = CRYPTO_KEY_LEN;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE obj;
	bool found = false;
	CK_RV rv;
	enum pv_rc rc;

	pthread_mutex_lock(&h->mu);
	if ((rc = session_ensure(h)) != PV_OK)
		goto out;
	rv = key_find(h, label, &obj, &found);
	if (rv == CKR_OK && !found) {
		rv = h->f->C_GenerateKey(h->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]),
		    &obj);
		if (rv == CKR_OK)
			log_info("keys: hsm token %s: AES-256 key %s generated", h->token, label);
		else
			set_error(h, "C_GenerateKey", rv_name(rv));
	} else if (rv != CKR_OK) {
		set_error(h, "C_FindObjects", rv_name(rv));
	}
	rc = rv == CKR_OK ? PV_OK : PV_E_HSM;
out:
	pthread_mutex_unlock(&h->mu);
	return rc;
}

/* ---- the provider ---- */

/* One C_Encrypt / C_Decrypt under the token key `label` with mech, with the
 * re-open-and-retry-once of the session states above. */
static enum pv_rc
hsm_run(struct keys_hsm *h, bool encrypt, const char *label, CK_MECHANISM *mech,
    const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
{
	CK_OBJECT_HANDLE obj;
	CK_ULONG n;
	CK_RV rv = CKR_OK;
	bool found;
	int attempt;
	enum pv_rc rc = PV_E_HSM;

	pthread_mutex_lock(&h->mu);
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = session_ensure(h)) != PV_OK)
			break;
		rc = PV_E_HSM;
		rv = key_find(h, label, &obj, &found);
		if (rv == CKR_OK && !found) {
			set_error(h, "C_FindObjects", "key not in token");
			session_drop(h);
			continue;
		}
		if (rv == CKR_OK)
			rv = encrypt ? h->f->C_EncryptInit(h->session, mech, obj) :
			    h->f->C_DecryptInit(h->session, mech, obj);
		n = outcap;
		if (rv == CKR_OK)
			rv = encrypt ? h->f->C_Encrypt(h->session, (CK_BYTE_PTR)in, inlen, out, &n) :
			    h->f->C_Decrypt(h->session, (CK_BYTE_PTR)in, inlen, out, &n);
		if (rv == CKR_OK) {
			*outlen = n;
			rc = PV_OK;
			break;
		}
		/* SoftHSM2 answers a GCM tag mismatch with CKR_GENERAL_ERROR; the
		 * key was just found, so the token is there: a refusal, not loss */
		if (rv_gone(rv) && rv != CKR_GENERAL_ERROR) {
			set_error(h, encrypt ? "C_Encrypt" : "C_Decrypt", rv_name(rv));
			session_drop(h);
			continue;
		}
		/* the token answered, and refused: a bad tag or a bad argument */
		rc = encrypt ? PV_E_CRYPTO : PV_E_INTEGRITY;
		if (encrypt)
			set_error(h, "C_Encrypt", rv_name(rv));
		break;
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static enum pv_rc
hsm_crypt(struct keys_hsm *h, bool encrypt, const char *label, const uint8_t *aad,
    size_t aadlen, const uint8_t *iv, const uint8_t *in, size_t inlen, uint8_t *out,
    size_t outcap, size_t *outlen)
{
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech;

	memset(&gcm, 0, sizeof(gcm));
	gcm.pIv = (CK_BYTE_PTR)iv;
	gcm.ulIvLen = CRYPTO_GCM_IV_LEN;
	gcm.ulIvBits = CRYPTO_GCM_IV_LEN * 8;
	gcm.pAAD = (CK_BYTE_PTR)aad;
	gcm.ulAADLen = aadlen;
	gcm.ulTagBits = GCM_TAG_LEN * 8;
	mech.mechanism = CKM_AES_GCM;
	mech.pParameter = &gcm;
	mech.ulParameterLen = sizeof(gcm);
	return hsm_run(h, encrypt, label, &mech, in, inlen, out, outcap, outlen);
}

enum pv_rc
keys_hsm_ctr(struct keys_hsm *h, const char *label, const uint8_t ctr[16], const uint8_t *in,
    size_t len, uint8_t *out)
{
	CK_AES_CTR_PARAMS p;
	CK_MECHANISM mech;
	size_t n = 0;
	enum pv_rc rc;

	if (h == NULL || label == NULL || ctr == NULL || len == 0 || len > 4096)
		return PV_E_INVALID;
	memset(&p, 0, sizeof(p));
	p.ulCounterBits = 128;   /* the whole block is the counter, as crypto_aes256_ctr */
	memcpy(p.cb, ctr, sizeof(p.cb));
	mech.mechanism = CKM_AES_CTR;
	mech.pParameter = &p;
	mech.ulParameterLen = sizeof(p);
	rc = hsm_run(h, true, label, &mech, in, len, out, len, &n);
	if (rc == PV_OK && n != len)
		rc = PV_E_CRYPTO;
	return rc;
}

/* Destroy every secret key labelled `label` (caller holds mu, session open). */
static CK_RV
key_destroy_all(struct keys_hsm *h, const char *label, int *destroyed)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE o[8];
	CK_ULONG n = 0, i;
	CK_RV rv;

	*destroyed = 0;
	for (;;) {
		rv = h->f->C_FindObjectsInit(h->session, tmpl, 2);
		if (rv != CKR_OK)
			return rv;
		rv = h->f->C_FindObjects(h->session, o, 8, &n);
		(void)h->f->C_FindObjectsFinal(h->session);
		if (rv != CKR_OK || n == 0)
			return rv;
		for (i = 0; i < n; i++) {
			if ((rv = h->f->C_DestroyObject(h->session, o[i])) != CKR_OK)
				return rv;
			(*destroyed)++;
		}
	}
}

enum pv_rc
keys_hsm_key_destroy(struct keys_hsm *h, const char *label)
{
	int attempt, n = 0;
	CK_RV rv = CKR_OK;
	enum pv_rc rc = PV_E_HSM;

	if (h == NULL || label == NULL || label[0] == '\0')
		return PV_E_INVALID;
	pthread_mutex_lock(&h->mu);
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = session_ensure(h)) != PV_OK)
			break;
		rv = key_destroy_all(h, label, &n);
		if (rv == CKR_OK) {
			if (n > 0)
				log_info("keys: hsm token %s: key %s destroyed", h->token, label);
			rc = PV_OK;
			break;
		}
		set_error(h, "C_DestroyObject", rv_name(rv));
		rc = PV_E_HSM;
		if (!rv_gone(rv))
			break;
		session_drop(h);
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

enum pv_rc
keys_hsm_key_generate(struct keys_hsm *h, const char *label)
{
	enum pv_rc rc;

	/* a key left by a creation whose transaction rolled back: the store
	 * has no row for it, so nothing is wrapped under it */
	if ((rc = keys_hsm_key_destroy(h, label)) != PV_OK)
		return rc;
	return keys_hsm_key_ensure(h, label);
}

static enum pv_rc
p11_wrap(void *ctx, const char *label, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	size_t n = 0;
	enum pv_rc rc;

	if (ctx == NULL || label == NULL || (pt == NULL && ptlen > 0) ||
	    ptlen > 4096)
		return PV_E_INVALID;
	if ((rc = crypto_random(out, CRYPTO_GCM_IV_LEN)) != PV_OK)
		return rc;
	rc = hsm_crypt(ctx, true, label, aad, aadlen, out, pt, ptlen, out + CRYPTO_GCM_IV_LEN,
	    ptlen + GCM_TAG_LEN, &n);
	if (rc == PV_OK && n != ptlen + GCM_TAG_LEN)
		rc = PV_E_CRYPTO;
	if (rc != PV_OK)
		crypto_wipe(out, ptlen + CRYPTO_BOX_OVERHEAD);
	return rc;
}

static enum pv_rc
p11_unwrap(void *ctx, const char *label, const uint8_t *aad, size_t aadlen,
    const uint8_t *in, size_t inlen, uint8_t *pt)
{
	struct pv_secret *tmp = NULL;
	size_t n = 0, ptlen;
	enum pv_rc rc;

	if (ctx == NULL || label == NULL || in == NULL)
		return PV_E_INVALID;
	if (inlen < CRYPTO_BOX_OVERHEAD || inlen > 4096 + CRYPTO_BOX_OVERHEAD)
		return PV_E_INTEGRITY;
	ptlen = inlen - CRYPTO_BOX_OVERHEAD;
	/* the module may want room for ciphertext + tag; the plaintext waits
	 * in locked memory and is copied out only after the tag verified */
	if ((rc = crypto_secret_new(inlen, &tmp)) != PV_OK)
		return rc;
	rc = hsm_crypt(ctx, false, label, aad, aadlen, in, in + CRYPTO_GCM_IV_LEN,
	    inlen - CRYPTO_GCM_IV_LEN, tmp->buf, tmp->len, &n);
	if (rc == PV_OK && n != ptlen)
		rc = PV_E_INTEGRITY;
	if (rc == PV_OK && ptlen > 0)
		memcpy(pt, tmp->buf, ptlen);
	crypto_secret_free(tmp);
	return rc;
}

const struct keys_provider keys_provider_pkcs11 = { "pkcs11", p11_wrap, p11_unwrap };
