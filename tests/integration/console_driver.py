#!/usr/bin/python3
"""console_driver: drives the web console in headless Chromium (Selenium).

Run by tests/integration/test_console.c, which starts the real phivault-test
server, creates the user and causes the alert, then calls this with:
  PV_BASE      https://127.0.0.1:PORT
  PV_USER      the user to sign in as (an auditor with TOTP enrolled)
  PV_PASSWORD  the password, typed into the page's form
  PV_TOTP_SECRET  the user's TOTP secret: codes (oathtool) at the server's
               injectable clock (POST /v1/test/clock), typed into the form
  PV_IDLE_S    [session] idle_timeout_s
  PV_RULE      the alert rule expected on the alerts page (brute_force)
  PV_SHOT_DIR  where the screenshots go (build/testtmp)
  PV_PROFILE   a fresh, empty directory for --user-data-dir
  PV_SCENARIO  main (default: the flow above) or approvals: a security
               officer (PV_USER, with TOTP) approves PV_APPROVAL on the
               approvals page (screenshot console-approvals.png), or passkey:
               PV_USER adds a passkey (DevTools virtual authenticator), signs
               out and in with password + passkey (console-passkey.png);
               PV_BASE is then https://localhost:PORT = [server] public_url,
               or reviews: a security officer (PV_USER, password only)
               records PV_VERDICT on the break-glass review PV_REVIEW
               (PV_READS reads, PV_JUSTIFICATION shown) on the Reviews page
               (console-reviews.png)
  PV_COOKIE_FILE  (passkey) where the session cookie goes, for the C test
  PV_SCENARIO=oidc  (tests/integration/test_oidc.c) PV_USER signs in with
               "Sign in with your identity provider": the console's button,
               the provider (npm oidc-provider; its interaction signs the test
               account in), the callback, /console/#oidc_code= exchanged for
               the cookie session (console-oidc.png); PV_PASSWORD,
               PV_TOTP_SECRET and PV_IDLE_S are unused there
Exits 0 when every check holds, 1 (with a message) otherwise; never skips:
a missing Chromium or driver is a failure.

The server's certificate is self-signed: this test uses
--ignore-certificate-errors (test only; the console itself needs a trusted
certificate in production).
"""
import os
import shutil
import subprocess
import sys
import time

def fail(msg):
    print("console_driver: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.common.exceptions import (NoSuchElementException,
                                            StaleElementReferenceException)
except ImportError as e:
    fail("python3-selenium is missing (%s): run make deps (Debian python3-selenium)" % e)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
for path, pkg in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
    if not os.access(path, os.X_OK):
        fail("%s not found: run make deps (Debian package %s)" % (path, pkg))

base = os.environ["PV_BASE"]
user = os.environ["PV_USER"]
password = os.environ["PV_PASSWORD"]
secret = os.environ["PV_TOTP_SECRET"]
idle_s = int(os.environ["PV_IDLE_S"])
rule = os.environ.get("PV_RULE", "brute_force")
shots = os.environ["PV_SHOT_DIR"]
profile = os.environ["PV_PROFILE"]
checks = 0

def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        try:
            drv.save_screenshot(os.path.join(shots, "console-failure.png"))
        except Exception:
            pass
        fail(msg)

opts = webdriver.ChromeOptions()
opts.binary_location = CHROMIUM
for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--ignore-certificate-errors", "--window-size=1280,900",
          "--user-data-dir=" + profile):
    opts.add_argument(a)
try:
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
except Exception as e:
    fail("cannot start headless Chromium: %s" % e)

def wait(cond, what, timeout=20):
    try:
        # the page re-renders its tables: an element may go stale between polls
        return WebDriverWait(drv, timeout, poll_frequency=0.05,
                             ignored_exceptions=(NoSuchElementException,
                                                 StaleElementReferenceException)
                             ).until(lambda d: cond())
    except Exception:
        check(False, "timed out waiting for " + what)

def fetch(method, path, headers=None):
    """fetch() from inside the page (same origin, the cookie goes along)."""
    return drv.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch(arguments[1], {method: arguments[0], credentials: 'same-origin',
            headers: arguments[2] || {}, body: arguments[0] === 'GET' ? undefined : '{}'})
          .then(function (r) { return r.text().then(function (t) {
              var h = {}; r.headers.forEach(function (v, k) { h[k] = v; });
              done({status: r.status, body: t, headers: h}); }); })
          .catch(function (e) { done({status: -1, body: String(e), headers: {}}); });
    """, method, path, headers)

def clock(advance_ms):
    """Move the server's injectable clock (phivault-test only); its now_ms."""
    r = drv.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch('/v1/test/clock', {method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({advance_ms: arguments[0]})})
          .then(function (r) { return r.json(); }).then(done)
          .catch(function (e) { done({error: String(e)}); });
    """, advance_ms)
    check("now_ms" in r, "POST /v1/test/clock: %r" % r)
    return r["now_ms"]

def totp_now():
    now_s = clock(0) // 1000
    out = subprocess.run(["oathtool", "--totp", "-b", secret, "-N", "@%d" % now_s],
                         capture_output=True, text=True)
    check(out.returncode == 0, "oathtool failed: " + out.stderr)
    return out.stdout.strip()

def sign_in(totp=True):
    wait(lambda: drv.find_element(By.ID, "signin").is_displayed(), "the sign-in form")
    drv.find_element(By.ID, "username").clear()
    drv.find_element(By.ID, "username").send_keys(user)
    drv.find_element(By.ID, "password").send_keys(password)
    drv.find_element(By.ID, "signin-button").click()
    if not totp:
        return
    wait(lambda: drv.find_element(By.ID, "mfa-form").is_displayed(), "the MFA step")
    drv.find_element(By.ID, "code").send_keys(totp_now())
    drv.find_element(By.ID, "mfa-button").click()
    wait(lambda: drv.find_element(By.ID, "nav").is_displayed(), "the signed-in console")

def on_page(name, what):
    wait(lambda: drv.find_element(By.ID, "page").get_attribute("data-page") == name and
         drv.find_element(By.ID, "page").get_attribute("data-loaded") == "yes", what)

def main_flow():
        drv.get(base + "/console/")
        wait(lambda: drv.find_element(By.ID, "signin").is_displayed(), "the sign-in form")

        # the console's own response headers, read by the page itself
        r = fetch("GET", "/console/")
        check(r["status"] == 200, "GET /console/ answered %s" % r["status"])
        csp = r["headers"].get("content-security-policy", "")
        check(csp == ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                      "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
              "CSP of /console/ is %r" % csp)
        check(r["headers"].get("x-content-type-options") == "nosniff", "nosniff missing")
        check(r["headers"].get("referrer-policy") == "no-referrer", "Referrer-Policy missing")
        check("no-store" in r["headers"].get("cache-control", ""), "Cache-Control: no-store missing")

        # password, then the TOTP code, typed into the page
        sign_in()
        check(user in drv.find_element(By.ID, "whoami").text, "whoami does not name " + user)

        # the session cookie: HttpOnly, Secure, SameSite=Strict, Path=/ (and unreadable by JS)
        cookies = {c["name"]: c for c in drv.get_cookies()}
        check("pv_session" in cookies, "no pv_session cookie: %r" % list(cookies))
        c = cookies["pv_session"]
        check(c.get("httpOnly") is True, "pv_session is not HttpOnly")
        check(c.get("secure") is True, "pv_session is not Secure")
        check(c.get("sameSite") == "Strict", "pv_session SameSite is %r" % c.get("sameSite"))
        check(c.get("path") == "/", "pv_session path is %r" % c.get("path"))
        check("pv_session" not in drv.execute_script("return document.cookie"),
              "pv_session readable from JS")
        for store in ("localStorage", "sessionStorage"):
            n = drv.execute_script("return window.%s.length" % store)
            check(n == 0, "the console wrote to %s" % store)

        # the alert this user's test caused, on the alerts page; acknowledge it
        drv.get(base + "/console/#/alerts")
        wait(lambda: drv.find_element(By.ID, "page").get_attribute("data-page") == "alerts" and
             drv.find_element(By.ID, "page").get_attribute("data-loaded") == "yes", "the alerts page")
        rows = drv.find_elements(By.CSS_SELECTOR, "#alerts-table tr[data-rule='%s']" % rule)
        check(len(rows) == 1, "%d %s rows on the alerts page" % (len(rows), rule))
        check("open" in rows[0].text, "the %s alert is not open: %r" % (rule, rows[0].text))
        drv.save_screenshot(os.path.join(shots, "console-alerts.png"))

        # a state change with the cookie but without X-CSRF-Token: 403 csrf
        aid = rows[0].find_element(By.CSS_SELECTOR, "button.ack").get_attribute("data-id")
        r = fetch("POST", "/v1/alerts/%s/ack" % aid, {"Content-Type": "application/json"})
        check(r["status"] == 403 and '"csrf"' in r["body"],
              "POST without X-CSRF-Token answered %s %s" % (r["status"], r["body"]))
        r = fetch("POST", "/v1/alerts/%s/ack" % aid,
                  {"Content-Type": "application/json", "X-CSRF-Token": "0" * 64})
        check(r["status"] == 403 and '"csrf"' in r["body"], "a wrong X-CSRF-Token answered %s" % r["status"])
        rows = drv.find_elements(By.CSS_SELECTOR, "#alerts-table tr[data-rule='%s']" % rule)
        check("open" in rows[0].text, "the refused POSTs changed the alert")

        rows[0].find_element(By.CSS_SELECTOR, "button.ack").click()
        def acked():
            rr = drv.find_elements(By.CSS_SELECTOR, "#alerts-table tr[data-rule='%s']" % rule)
            return len(rr) == 1 and "acknowledged" in rr[0].text
        wait(acked, "the alert to show acknowledged")

        # a page this auditor may not see renders as such (users.manage)
        drv.get(base + "/console/#/users")
        wait(lambda: drv.find_element(By.ID, "page").get_attribute("data-page") == "users" and
             drv.find_element(By.ID, "page").get_attribute("data-loaded") == "yes", "the users page")
        check("do not have access" in drv.find_element(By.ID, "page").text, "users page for an auditor")

        # the compliance page (compliance.read): the summary
        drv.get(base + "/console/#/compliance")
        wait(lambda: drv.find_element(By.ID, "page").get_attribute("data-page") == "compliance" and
             drv.find_element(By.ID, "page").get_attribute("data-loaded") == "yes", "the compliance page")
        check("pass" in drv.find_element(By.ID, "compliance-summary").text, "no compliance summary")
        drv.save_screenshot(os.path.join(shots, "console-compliance.png"))

        # approvals (dual control): an auditor approves nothing; the page lists what the
        # caller may see (a table, empty for the auditor) and never fails
        drv.get(base + "/console/#/approvals")
        wait(lambda: drv.find_element(By.ID, "page").get_attribute("data-page") == "approvals" and
             drv.find_element(By.ID, "page").get_attribute("data-loaded") == "yes", "the approvals page")
        t = drv.find_element(By.ID, "approvals").text
        check("Requested by" in t and "Not available in this version" not in t,
              "approvals page for an auditor: %r" % t)

        # sign out: the cookie is cleared, the page is back at sign-in
        drv.find_element(By.ID, "logout").click()
        wait(lambda: drv.find_element(By.ID, "signin").is_displayed(), "sign-in after sign-out")
        check("pv_session" not in {c["name"] for c in drv.get_cookies()}, "pv_session kept after sign-out")
        r = fetch("GET", "/v1/alerts")
        check(r["status"] == 401, "GET /v1/alerts after sign-out answered %s" % r["status"])

        # idle logoff: sign in again (next TOTP step), let the server's clock pass
        # idle_timeout_s; the next page answers 401 session_expired and the page
        # returns to sign-in saying so
        clock(30000)
        sign_in()
        drv.get(base + "/console/#/keys")
        on_page("keys", "the keys page")
        clock((idle_s + 1) * 1000)
        drv.find_element(By.CSS_SELECTOR, "#nav a[href='#/alerts']").click()
        wait(lambda: drv.find_element(By.ID, "signin").is_displayed(), "sign-in after the idle timeout")
        check("expired" in drv.find_element(By.ID, "notice").text,
              "notice after idle timeout: %r" % drv.find_element(By.ID, "notice").text)
        check(not drv.find_element(By.ID, "page").is_displayed(), "the page still shows after expiry")
        drv.save_screenshot(os.path.join(shots, "console-expired.png"))

def approvals_flow():
    """A security officer approves PV_APPROVAL (a pending user creation) on the
    approvals page; the C test checks the result over the API."""
    apr = os.environ["PV_APPROVAL"]
    drv.get(base + "/console/")
    sign_in()
    drv.get(base + "/console/#/approvals")
    on_page("approvals", "the approvals page")
    sel = "#approvals-table tr[data-id='%s']" % apr
    rows = drv.find_elements(By.CSS_SELECTOR, sel)
    check(len(rows) == 1, "%d rows for %s on the approvals page" % (len(rows), apr))
    check(rows[0].get_attribute("data-status") == "pending", "%s is not pending" % apr)
    check("clinician" in rows[0].text, "the change is not shown: %r" % rows[0].text)
    btns = rows[0].find_elements(By.CSS_SELECTOR, "button.approve")
    check(len(btns) == 1 and len(rows[0].find_elements(By.CSS_SELECTOR, "button.deny")) == 1,
          "no Approve/Deny buttons on the pending request")
    btns[0].click()
    def approved():
        rr = drv.find_elements(By.CSS_SELECTOR, sel)
        return (len(rr) == 1 and rr[0].get_attribute("data-status") == "approved" and
                drv.find_element(By.ID, "page").get_attribute("data-loaded") == "yes")
    wait(approved, "the request to show approved")
    rr = drv.find_elements(By.CSS_SELECTOR, sel)
    check(len(rr[0].find_elements(By.CSS_SELECTOR, "button")) == 0,
          "buttons left on a decided request")
    check(drv.find_element(By.ID, "notice").text == "", "notice after approve: %r" %
          drv.find_element(By.ID, "notice").text)
    drv.set_window_size(1900, 900)   # the whole table, status and decider included
    drv.save_screenshot(os.path.join(shots, "console-approvals.png"))

def reviews_flow():
    """A security officer (PV_USER, password only) records the verdict
    PV_VERDICT on the break-glass review PV_REVIEW on the Reviews page: the
    row shows the reads made under the grant (PV_READS of them) and a note
    goes with the verdict; the C test checks the result over the API."""
    rev = os.environ["PV_REVIEW"]
    verdict = os.environ.get("PV_VERDICT", "appropriate")
    drv.get(base + "/console/")
    sign_in(totp=False)
    wait(lambda: drv.find_element(By.ID, "nav").is_displayed(), "the signed-in console")
    drv.find_element(By.CSS_SELECTOR, "#nav a[href='#/reviews']").click()
    on_page("reviews", "the reviews page")
    sel = "#reviews-table tr[data-id='%s']" % rev
    rows = drv.find_elements(By.CSS_SELECTOR, sel)
    check(len(rows) == 1, "%d rows for %s on the reviews page" % (len(rows), rev))
    check(rows[0].get_attribute("data-status") == "open", "%s is not open" % rev)
    check(rows[0].get_attribute("data-reads") == os.environ["PV_READS"],
          "reads shown: %s, want %s" % (rows[0].get_attribute("data-reads"), os.environ["PV_READS"]))
    check("seq " in rows[0].text and "record.read" in rows[0].text,
          "the reads are not listed: %r" % rows[0].text)
    check(os.environ["PV_JUSTIFICATION"] in rows[0].text, "the justification is not shown")
    rows[0].find_element(By.CSS_SELECTOR, "input.review-note").send_keys("checked in the console")
    btns = rows[0].find_elements(By.CSS_SELECTOR, "button." + verdict)
    check(len(btns) == 1, "no %s button on the open review" % verdict)
    drv.set_window_size(2600, 900)   # the whole row: reads, due, status and verdict
    drv.save_screenshot(os.path.join(shots, "console-reviews-open.png"))
    btns[0].click()
    def decided():
        rr = drv.find_elements(By.CSS_SELECTOR, sel)
        return (len(rr) == 1 and rr[0].get_attribute("data-status") == verdict and
                drv.find_element(By.ID, "page").get_attribute("data-loaded") == "yes")
    wait(decided, "the review to show its verdict")
    rr = drv.find_elements(By.CSS_SELECTOR, sel)
    check(len(rr[0].find_elements(By.CSS_SELECTOR, "button")) == 0,
          "buttons left on a decided review")
    check(drv.find_element(By.ID, "notice").text == "", "notice after the verdict: %r" %
          drv.find_element(By.ID, "notice").text)
    drv.save_screenshot(os.path.join(shots, "console-reviews.png"))

def passkey_flow():
    """PV_USER (password only, no second factor yet) adds a passkey on the
    Passkeys page with a DevTools virtual authenticator, signs out, signs in
    with password + passkey; the session's cookie goes to PV_COOKIE_FILE for
    the C test's API checks. PV_BASE is [server] public_url (localhost)."""
    name = "console laptop"
    drv.execute_cdp_cmd("WebAuthn.enable", {})
    va = drv.execute_cdp_cmd("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})
    drv.get(base + "/console/")
    sign_in(totp=False)
    wait(lambda: drv.find_element(By.ID, "nav").is_displayed(), "the signed-in console")
    drv.get(base + "/console/#/passkeys")
    on_page("passkeys", "the passkeys page")
    check(len(drv.find_elements(By.ID, "no-passkeys")) == 1, "a passkey before registering")
    drv.find_element(By.ID, "passkey-name").send_keys(name)
    drv.find_element(By.ID, "passkey-add").click()
    def listed():
        rr = drv.find_elements(By.CSS_SELECTOR, "#passkeys-table tbody tr")
        return (len(rr) == 1 and name in rr[0].text and
                drv.find_element(By.ID, "page").get_attribute("data-loaded") == "yes")
    wait(listed, "the new passkey on the passkeys page")
    check(drv.find_element(By.ID, "notice").text == "Passkey added.",
          "notice after adding: %r" % drv.find_element(By.ID, "notice").text)
    creds = drv.execute_cdp_cmd("WebAuthn.getCredentials",
                                {"authenticatorId": va["authenticatorId"]})["credentials"]
    check(len(creds) == 1, "%d credentials in the virtual authenticator" % len(creds))

    # sign out; sign in with the password, then the passkey (no code field: no TOTP)
    drv.find_element(By.ID, "logout").click()
    wait(lambda: drv.find_element(By.ID, "signin").is_displayed(), "sign-in after sign-out")
    sign_in(totp=False)
    wait(lambda: drv.find_element(By.ID, "passkey-button").is_displayed(), "the passkey button")
    check(not drv.find_element(By.ID, "code-label").is_displayed(),
          "a code field for a user without TOTP")
    drv.find_element(By.ID, "passkey-button").click()
    wait(lambda: drv.find_element(By.ID, "nav").is_displayed(), "the console after the passkey")
    r = fetch("GET", "/v1/auth/session")
    check(r["status"] == 200 and '"mfa_method":"webauthn"' in r["body"].replace(" ", ""),
          "the session after the passkey: %s %s" % (r["status"], r["body"]))
    drv.get(base + "/console/#/passkeys")
    on_page("passkeys", "the passkeys page again")
    rr = drv.find_elements(By.CSS_SELECTOR, "#passkeys-table tbody tr")
    check(len(rr) == 1 and "never" not in rr[0].text, "last used not shown: %r" %
          (rr[0].text if rr else None))
    drv.save_screenshot(os.path.join(shots, "console-passkey.png"))
    cookies = {c["name"]: c["value"] for c in drv.get_cookies()}
    check("pv_session" in cookies, "no pv_session cookie after the passkey sign-in")
    with open(os.environ["PV_COOKIE_FILE"], "w") as f:
        f.write("pv_session=" + cookies["pv_session"])

def oidc_flow():
    """The console's sign-in through the identity provider, end to end."""
    drv.get(base + "/console/")
    wait(lambda: drv.find_element(By.ID, "sso").is_displayed(), "the identity-provider button")
    drv.find_element(By.ID, "sso-button").click()
    wait(lambda: drv.find_element(By.ID, "nav").is_displayed(), "the console after the IdP")
    check(user in drv.find_element(By.ID, "whoami").text,
          "signed in as %r" % drv.find_element(By.ID, "whoami").text)
    check("oidc_code" not in drv.current_url, "the one-time code left in the URL")
    r = fetch("GET", "/v1/auth/session")
    check(r["status"] == 200 and ('"username":"%s"' % user) in r["body"].replace(" ", ""),
          "the session: %s %s" % (r["status"], r["body"]))
    cookies = {c["name"]: c["value"] for c in drv.get_cookies()}
    check("pv_session" in cookies, "no pv_session cookie after the IdP sign-in")
    drv.save_screenshot(os.path.join(shots, "console-oidc.png"))

try:
    drv.set_script_timeout(20)
    scenario = os.environ.get("PV_SCENARIO", "main")
    if scenario == "approvals":
        approvals_flow()
    elif scenario == "reviews":
        reviews_flow()
    elif scenario == "passkey":
        passkey_flow()
    elif scenario == "oidc":
        oidc_flow()
    elif scenario == "main":
        main_flow()
    else:
        fail("unknown PV_SCENARIO " + scenario)
finally:
    try:
        drv.quit()
    except Exception:
        pass
print("console_driver: %d checks passed" % checks)
