-- One Kiln worker step (pgbench script, role kiln_dispatch): claim :batch queued builds,
-- report them running, report them finished; three transactions, as kiln-dispatch claims
-- and a build node then starts and finishes each execution.
select coalesce(array_agg(execution_id), '{}') ids, coalesce(array_agg(epoch), '{}') epochs
  from kiln_api.claim_builds('bench-' || :client_id, :batch, 60) \gset
select kiln_api.start_execution(e.id, e.ep, 'build_nodes', 'bench') from unnest(:ids::uuid[], :epochs::bigint[]) e(id, ep);
select kiln_api.finish_execution(e.id, e.ep, 'succeeded', 0) from unnest(:ids::uuid[], :epochs::bigint[]) e(id, ep);
