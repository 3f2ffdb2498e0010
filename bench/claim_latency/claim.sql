-- One claim as kiln-dispatch makes it (pgbench script, role kiln_dispatch): :batch builds
-- under a 60 s lease, committed.
select execution_id from kiln_api.claim_builds('bench-' || :client_id, :batch, 60);
