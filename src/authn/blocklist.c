/*
 * blocklist: a shipped list of the most common passwords from public breach
 * corpuses (the "top N" lists published from the RockYou, LinkedIn and
 * Collection #1 dumps, and the NCSC "100k most common" list), plus words
 * specific to this service (NIST SP 800-63B §5.1.1.2: "context-specific
 * words, such as the name of the service").
 *
 * It complements cracklib (which knows dictionary words but accepts
 * "password123!"): authn_password_check_policy() looks a password up here
 * lower-cased, with leading/trailing digits and symbols stripped, and with
 * common substitutions undone, so one entry "password" covers "Password1",
 * "P@ssw0rd!" and "password2024".
 *
 * Invariant: entries are lowercase ASCII, strictly ascending by strcmp (the
 * lookup is a binary search); tests/unit/authn/test_password.c checks it.
 * Keep it that way when adding entries (sort -u with LC_ALL=C).
 */
#include <stdlib.h>
#include <string.h>

#include "authn/authn_int.h"

const char *const authn_blocklist[] = {
	"000000", "00000000", "0987654321", "111111", "11111111", "1111111111",
	"112233", "121212", "123123", "123321", "12341234", "12345", "123456",
	"1234567", "12345678", "123456789", "1234567890", "1234567890qwerty",
	"123456a", "123456q", "1234abcd", "1234qwer", "123abc", "123qwe", "131313",
	"147258369", "159753", "1q2w3e", "1q2w3e4r", "1q2w3e4r5t", "1q2w3e4r5t6y",
	"1qaz2wsx", "1qaz2wsx3edc", "654321", "666666", "696969", "777777", "7777777",
	"88888888", "987654", "987654321", "99999999", "a123456", "aaaaaa", "abc123",
	"abcd1234", "abcdef", "abcdef123", "abcdefg", "abcdefgh", "access", "admin",
	"admin123", "administrator", "america", "andrew", "angel", "anthony", "april",
	"arsenal", "asdf", "asdf1234", "asdfgh", "asdfghjkl", "ashley", "august",
	"autumn", "azerty", "baby", "babygirl", "bailey", "banana", "barcelona",
	"baseball", "baseball1", "basketball", "batman", "berlin", "black", "blessed",
	"blue", "business", "buster", "butterfly", "canada", "changeit", "changeme",
	"charlie", "charlie1", "cheese", "chelsea", "china", "chocolate", "clinic",
	"company", "computer", "contrasena", "cookie", "corvette", "cowboys",
	"daniel", "database", "december", "default", "diamond", "doctor", "dragon",
	"dragon123", "fall", "family", "february", "ferrari", "flower", "football",
	"football1", "forever", "freedom", "friday", "friends", "george", "ginger",
	"god", "golden", "green", "guest", "harley", "haslo", "health", "healthcare",
	"heaven", "hello", "hellokitty", "hipaa", "hockey", "hospital", "hunter",
	"hunter2", "iloveu", "iloveyou", "iloveyou1", "india", "internet", "january",
	"jennifer", "jessica", "jesus", "jordan", "jordan23", "joshua", "july",
	"june", "killer", "letmein", "letmein1", "liverpool", "login", "london",
	"love", "lovely", "loveme", "lucky", "maggie", "march", "master", "master123",
	"matrix", "matthew", "medical", "mexico", "michael", "michelle", "monday",
	"monkey", "monkey123", "motdepasse", "mustang", "mysql", "newyork", "nicole",
	"november", "nurse", "october", "office", "oracle", "orange", "p@ssw0rd",
	"p@ssword", "paris", "pass", "pass123", "passw0rd", "password", "password1",
	"password123", "passwort", "patient", "pepper", "phivault", "pokemon",
	"postgres", "princess", "princess1", "purple", "q123456", "q1w2e3r4",
	"q1w2e3r4t5", "qazwsx", "qazwsxedc", "qwe123", "qwer1234", "qwerty",
	"qwerty1", "qwerty123", "qwerty12345", "qwertyuiop", "qwertz", "rainbow",
	"ranger", "red", "robert", "root", "salasana", "samantha", "secret", "secure",
	"security", "senha", "september", "server", "sexy", "shadow", "silver",
	"soccer", "spiderman", "spring", "starwars", "starwars1", "summer", "sunday",
	"sunshine", "sunshine1", "superman", "sweety", "system", "temp", "temporary",
	"test", "test123", "testing", "thomas", "tigger", "toor", "trustno",
	"trustno1", "unicorn", "user", "vault", "wachtwoord", "welcome", "welcome1",
	"welcome123", "whatever", "white", "william", "winter", "yankees", "zaq12wsx",
	"zaq1zaq1", "zxcvbn", "zxcvbnm", "zxcvbnm123",
};

const size_t authn_blocklist_len = sizeof(authn_blocklist) / sizeof(authn_blocklist[0]);

static int
cmp_entry(const void *key, const void *entry)
{
	return strcmp((const char *)key, *(const char *const *)entry);
}

bool
authn_blocklist_has(const char *s)
{
	return s != NULL &&
	    bsearch(s, authn_blocklist, authn_blocklist_len, sizeof(authn_blocklist[0]),
	    cmp_entry) != NULL;
}
