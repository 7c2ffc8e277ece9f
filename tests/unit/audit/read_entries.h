/*
 * read_entries.h: n "record.read" entries like the benchmark's (a clinician
 * reading a patient's record, one subject), committed 64 a transaction the
 * way a busy server's reads share commit groups. For the cost harnesses of
 * the audit trail's subscribers (tests/unit/sinks/test_sink_cost.c,
 * tests/unit/detect/test_detect_cost.c). Include after cmocka.h.
 */
#ifndef PV_TEST_READ_ENTRIES_H
#define PV_TEST_READ_ENTRIES_H

#include <string.h>

#include "audit/audit.h"

static void
audit_write_reads(struct audit *audit, int n)
{
	static const char *const subj[] =
	    { "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d0f" };
	struct audit_event ev[64];

	for (int done = 0; done < n; ) {
		int k = n - done < 64 ? n - done : 64;

		for (int i = 0; i < k; i++) {
			memset(&ev[i], 0, sizeof ev[i]);
			ev[i].actor.kind = PV_ACTOR_USER;
			ev[i].actor.user_id = "usr_01JBENCHCLINICIAN00000000";
			ev[i].actor.session_id = "ses_01JBENCHSESSION000000000";
			ev[i].actor.source = "127.0.0.1";
			ev[i].actor.auth_method = "password";
			ev[i].actor.auth_ms = 1764650000000;
			ev[i].action = "record.read";
			ev[i].resource = "collections/patients/records/rec_01JBENCHRECORD0000000000";
			ev[i].purpose_of_use = "TREAT";
			ev[i].outcome = AUDIT_ALLOWED;
			ev[i].detail = "{\"fields\":[\"dob\",\"mrn\",\"name\",\"notes\",\"ssn\"]}";
			ev[i].subjects = subj;
			ev[i].nsubjects = 1;
		}
		assert_int_equal(audit_commitv(audit, ev, (size_t)k, NULL, NULL,
		    COMMIT_REQUEST), PV_OK);
		done += k;
	}
}

#endif
