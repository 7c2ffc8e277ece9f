/*
 * harness: integration tests drive the real `phivault` binary (PHIVAULT_BIN)
 * over HTTPS on a free loopback port, with libcurl verifying the server's
 * certificate against the data directory's CA. Plain asserts (no cmocka):
 * each test file is one process; the first failing check prints the file,
 * line and expression and exits 1. The closing line is "N passed, 0 failed".
 */
#ifndef PV_TEST_HARNESS_H
#define PV_TEST_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

extern int h_checks;

#define CHECK(expr) do { \
	h_checks++; \
	if (!(expr)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
		h_fail(); \
	} \
} while (0)
#define CHECK_STATUS(resp, want) do { \
	h_checks++; \
	if ((resp)->status != (want)) { \
		fprintf(stderr, "%s:%d: status %ld, want %d; body: %s\n", __FILE__, __LINE__, \
		    (resp)->status, (want), (resp)->body ? (resp)->body : "(none)"); \
		if ((resp)->status == 0) \
			fprintf(stderr, "%s:%d: no answer: curl %d (%s), errno %ld\n", __FILE__, \
			    __LINE__, (resp)->curl_rc, (resp)->curl_err, (resp)->os_errno); \
		h_fail(); \
	} \
} while (0)

struct h_server {
	char dir[512];        /* data directory */
	char cacert[600];
	char base[64];        /* https://127.0.0.1:PORT */
	char log[600];        /* server stdout+stderr */
	unsigned port;
	pid_t pid;
	json_t *init;         /* init --json output */
	/* the harness's own security officer (h_officer_approve), made on first
	 * need with the seal's authority; its token, "" until then */
	char officer_token[256];
	/* when not 0, the port h_start listens on (set it after h_init, e.g. to
	 * h_free_port(), when the config must name it: [server] public_url) */
	unsigned fixed_port;
};

struct h_resp {
	long status;
	char *body;
	json_t *json;         /* parsed body or NULL */
	char headers[8192];   /* raw response headers */
	long num_connects;
	/* no answer (status 0): what libcurl said (CURLcode, its error buffer,
	 * the socket's errno), printed by CHECK_STATUS */
	int curl_rc;
	char curl_err[256];
	long os_errno;
};

void h_fail(void) __attribute__((noreturn));
/* Temp dir under PV_TEST_TMP (or /tmp). */
void h_tmpdir(const char *name, char *out, size_t len);
/* Run a command through /bin/sh, capture stdout (malloc'd) and the exit code. */
int h_run(const char *cmd, char **out);
/* Invert every bit of the byte at OFFSET of PATH (a tamper that always changes the
 * file: writing a fixed byte is a no-op when the byte already has that value). */
void h_flip_byte(const char *path, long offset);
/* GET /v1/keys: version v of key name, its state and how many objects it
 * protects (the census); CHECK-fails if the key has no such version. */
void h_key_version(struct h_server *s, const char *tok, const char *name, int v, char state[32],
    long long *objects);
/* `phivault init --json --data <new tmp dir> [extra]`; fills dir, cacert, init. */
void h_init(struct h_server *s, const char *name, const char *extra_args);
/* Append lines to DIR/phivault.conf (e.g. "[session]\nidle_timeout_s = 2\n"). */
void h_config_append(struct h_server *s, const char *text);
/* Set `key = value` in DIR/phivault.conf, replacing the line that sets it (keys are unique across sections). */
void h_config_set(struct h_server *s, const char *key, const char *value);
/* Set `key = value` in [section] only (for keys that several sections have:
 * listen, enabled); the key must be written there already (init writes all). */
void h_config_set_in(struct h_server *s, const char *section, const char *key,
    const char *value);
/* Start `phivault serve --data DIR --listen 127.0.0.1:<free port> [extra]`, wait for health. */
void h_start(struct h_server *s, const char *extra_args);
/* Start, but expect the process to exit by itself; returns its exit code. */
int h_start_expect_exit(struct h_server *s, const char *extra_args);
/* SIGTERM and wait; returns the exit status. */
int h_stop(struct h_server *s);
/* Request; body may be NULL. hdrs: NULL-terminated extra headers. A body is
 * sent as application/json unless hdrs hold a Content-Type of their own. */
void h_req(struct h_server *s, const char *method, const char *path, const char *token,
    const char *body, const char **hdrs, struct h_resp *r);
/* The local address later h_req calls leave from (CURLOPT_INTERFACE), e.g.
 * "127.0.1.7": the server sees it as the request's source (any 127/8
 * address works on Linux loopback). NULL: the default again. */
void h_source_set(const char *addr);
void h_resp_free(struct h_resp *r);
/* Requests after this call leave from local address addr (e.g. "127.0.0.2":
 * another loopback source, for network conditions); NULL: the default. */
void h_source_set(const char *addr);
/* error.code of an error body, or "" */
const char *h_err_code(struct h_resp *r);
bool h_has_header(struct h_resp *r, const char *name_and_value_prefix);
void h_done(const char *name);
/* A loopback TCP port that was free a moment ago. */
unsigned h_free_port(void);
/* Path of the phivault binary. */
const char *h_bin(void);

/* ---- the server's clock (phivault-test only) ---- */
/* Servers started after this call (PHIVAULT_TEST_CLOCK=1 in their
 * environment) answer POST /v1/test/clock; others do not have the route. */
void h_clock_enable(void);
/* Move s's clock (wall and monotonic) forward by ms instead of sleeping;
 * returns the server's wall clock after the move (UTC ms). ms = 0 reads it. */
long long h_clock_advance(struct h_server *s, long long ms);

/* ---- a real terminal (tmux) for interactive commands ---- */
/* Run shell command `cmd` in a detached tmux session (width x 60) whose
 * socket lives beside s's data directory. One session per process. */
void h_tty_start(struct h_server *s, int width, const char *cmd);
/* Wait until the pane (with `history` lines of scrollback) shows text;
 * returns its content (malloc'd). Fails the test after about 60 s (a bound for
 * a loaded machine, not a timing assertion: Argon2id under ASan is slow). */
char *h_tty_wait(const char *text, int history);
/* Type a line (literally) and Enter. */
void h_tty_type(const char *text);
/* The first-login walk of `phivault login` on the terminal: the one-time
 * password, newpw twice, then the TOTP code oathtool computes from the secret
 * on the screen. Returns the screen that asked for the code (malloc'd). */
char *h_tty_first_login(const char *otp, const char *newpw);
void h_tty_stop(void);
/* h_tty_wait for text shown after the last occurrence of marker (so a
 * second walk is not fooled by the first one's prompts). */
char *h_tty_wait_after(const char *marker, const char *text, int history);
/* h_tty_first_login for a second login on the same terminal: every prompt
 * is looked for after marker. */
char *h_tty_first_login_after(const char *marker, const char *otp, const char *newpw);

/* The value of one sample (NAME{LABELS} exactly as rendered) on a plain
 * [metrics] listen listener on 127.0.0.1:port, or -1 when it is absent. */
double h_metric_value(unsigned port, const char *sample);

/* ---- the commit path and the trail, as tests observe them ---- */
/* One counter of GET /v1/test/commit-waits (test builds): request_thread_waits
 * (commits a request thread has waited for), suspended (answers suspended
 * for a completion so far), ... */
long long h_commit_waits_field(struct h_server *s, const char *field);
/* h_commit_waits_field(s, "request_thread_waits"). */
long long h_commit_waits(struct h_server *s);
/* Poll (a bound for a loaded machine, not a timing) until at least n answers
 * have been suspended for a completion; false if that never happens. */
bool h_suspended_reach(struct h_server *s, long long n);
/* Which audit entries h_audit_count counts: action is required; every other
 * member NULL matches any (actor_user: the actor's user_id). */
struct h_audit_q {
	const char *action, *outcome, *reason, *resource, *actor_user;
};
/* The entries matching q among the newest 1,000 of q->action, read as tok
 * (GET /v1/audit?action=...; a status other than 200 fails the test). */
int h_audit_count(struct h_server *s, const char *tok, const struct h_audit_q *q);

/* ---- accounts: the set-up steps most tests share ---- */
/* The string at o.key, or NULL. */
const char *h_jstr(json_t *o, const char *key);
/* POST /v1/auth/login: its status; the token copied to token (if not NULL)
 * on a 200. */
long h_login_status(struct h_server *s, const char *user, const char *pw, char *token,
    size_t len);
/* POST /v1/auth/login with a known password: 200 and a token, copied to token. */
void h_login(struct h_server *s, const char *user, const char *pw, char *token, size_t len);
/* Log in with a one-time password, change it to newpw, log in again: a full,
 * unrestricted session (checked); its token in token. */
void h_login_fresh(struct h_server *s, const char *user, const char *otp, const char *newpw,
    char *token, size_t len);
/* POST /v1/users as admin: username user (display name user, email
 * user@hospital.test), one role, attributes attrs (a JSON object, or NULL for
 * none); 201, or 202 when the role grants PHI access (dual control): then
 * the harness's officer approves it (h_officer_approve), so the user holds
 * the role on return. Copies the new id and one-time password where not NULL. */
void h_user_create(struct h_server *s, const char *admin, const char *user, const char *role,
    const char *attrs, char *id, size_t idlen, char *otp, size_t otplen);
/* h_user_create, then h_login_fresh with newpw: the user's full session token. */
void h_add_user(struct h_server *s, const char *admin, const char *user, const char *role,
    const char *newpw, char *token, size_t len);
/* A security officer (built-in role security_officer: access.approve,
 * records.shred) named user, with a full session token: POST /v1/sys/officers
 * with admin's token and the seal's authority of the data directory
 * (h_seal_authority). Every test gets its officers here, so that how
 * officers are made (API.md "phivault officer") is written once. */
void h_add_officer(struct h_server *s, const char *admin, const char *user, const char *newpw,
    char *token, size_t len);

/* The seal's authority of s's data directory as JSON members for
 * POST /v1/sys/officers: "\"key_file\":\"<unseal.key>\"" or "\"shares\":[...]"
 * (the shares init printed); into out. */
void h_seal_authority(struct h_server *s, char *out, size_t len);
/* Approve pending request id (apr_...) as the harness's own security officer
 * (user h_officer, made with admin's token and the seal's authority on
 * first need): 200. Tests that check that something stays pending without
 * an approval simply do not call it. */
void h_officer_approve(struct h_server *s, const char *admin, const char *id);

/* POST /v1/roles (or /v1/groups: path) with body as admin: 201, or 202 when
 * it grants PHI access (dual control) and then the harness's officer
 * approves it, so it exists on return. */
void h_create_approved(struct h_server *s, const char *admin, const char *path,
    const char *body);
/* POST /v1/policies (method "POST", path "/v1/policies") or PUT
 * /v1/policies/{name} with body as admin: 201 / 200, or 202 when it is an
 * allow policy over a PHI action (dual control) and then the harness's
 * officer approves it, so it is in force on return. */
void h_policy_put_approved(struct h_server *s, const char *admin, const char *method,
    const char *path, const char *body);
/* POST /v1/apps with body as admin: 201, or 202 when a role grants PHI
 * access (dual control) and then the harness's officer approves it, so the
 * app holds its roles on return. Copies its id. */
void h_app_create(struct h_server *s, const char *admin, const char *body, char *id,
    size_t idlen);

/* A request that must answer status, and error code (NULL: any or none);
 * the response is freed. */
void h_expect(struct h_server *s, const char *method, const char *path, const char *token,
    const char *body, const char **hdrs, int status, const char *code);
/* POST /v1/collections with body (the collection's JSON): 201. */
void h_collection_create(struct h_server *s, const char *token, const char *body);
/* Sleep ms milliseconds (real time, for polling; the server's clock is h_clock_advance). */
void h_pause_ms(long ms);
/* SIGKILL the server (a crash: no shutdown), reap it, start it again with extra_args. */
void h_kill9_restart(struct h_server *s, const char *extra_args);

/* The 6-digit TOTP code (oathtool, RFC 6238 defaults) of base32 secret at
 * UNIX time unix_s, into out. */
void h_totp_at(const char *secret, long long unix_s, char out[16]);

#endif
