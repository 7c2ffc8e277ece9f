-- pgbench: read one encrypted record back by primary key (pgp_sym_decrypt).
\set id random(1, :rows)
SELECT pgp_sym_decrypt(data, 'bench-passphrase') FROM phi WHERE id = :id;
