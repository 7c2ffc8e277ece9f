-- pgbench: what users would otherwise run to store one ~1 KiB PHI record
-- encrypted in PostgreSQL: pgcrypto's pgp_sym_encrypt (defaults) in an INSERT.
\set n random(1, 1000000000)
INSERT INTO phi (data) VALUES (pgp_sym_encrypt(
  '{"name":"Bench Patient ' || :n || '","ssn":"123-45-6789","mrn":"MRN-' || :n ||
  '","dob":"1961-04-12","notes":"Follow-up visit. Blood pressure 128/82, pulse 71, afebrile. Continue lisinopril 10 mg daily; recheck lipids in three months. Follow-up visit. Blood pressure 128/82, pulse 71, afebrile. Continue lisinopril 10 mg daily; recheck lipids in three months. Follow-up visit. Blood pressure 128/82, pulse 71, afebrile. Continue lisinopril 10 mg daily; recheck lipids in three months. Follow-up visit. Blood pressure 128/82, pulse 71, afebrile. Continue lisinopril 10 mg daily; recheck lipids in three months. Follow-up visit. Blood pressure 128/82, pulse 71, afebrile. Continue lisinopril 10 mg daily; recheck lipids in three months. Follow-up visit. Blood pressure 128/82, pulse 71, afebrile. Continue lisinopril 10 mg daily; recheck lipids in three months. Follow-up visit. Blood pressure 128/82, pulse 71, afebrile. Continue lisinopril 10 mg daily; recheck lipids in three months. "}',
  'bench-passphrase'));
