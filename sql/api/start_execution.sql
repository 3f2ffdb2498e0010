-- start_execution: the worker handed the execution to its back-end (a PipelineRun was
-- created, a node took it): dispatching → running on both the execution and the build,
-- with the infrastructure decision recorded on the execution.
-- Caller: kiln-dispatch / agents. Errors: QC409 stale_lease, QC404.
create function kiln_api.start_execution(p_execution_id uuid, p_epoch bigint,
    p_infrastructure_type kiln.infrastructure_type, p_reason text,
    p_metadata jsonb default '{}', p_size jsonb default '{}', p_external_ref text default null,
    p_lease_seconds integer default null, p_now timestamptz default null)
  returns void language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_exec kiln.build_executions;
begin
  if p_lease_seconds is not null and p_lease_seconds not between 1 and 86400 then
    perform kiln_api.raise_error(400, 'invalid_value', 'lease must be between 1 and 86400 seconds',
                                 'lease_seconds');
  end if;
  v_exec := kiln_api.lock_execution(p_execution_id, p_epoch);
  if v_exec.status <> 'dispatching' then
    perform kiln_api.raise_error(409, 'illegal_transition',
      format('execution %s is already %s', p_execution_id, v_exec.status), 'execution_id');
  end if;
  update kiln.build_executions set
      status = 'running', started_at = v_now,
      infrastructure_type = p_infrastructure_type, infrastructure_reason = p_reason,
      infrastructure_metadata = coalesce(p_metadata, '{}'), size = coalesce(p_size, '{}'),
      selected_at = v_now, external_ref = p_external_ref,
      lease_expires_at = case when p_lease_seconds is null then lease_expires_at
                              else v_now + make_interval(secs => p_lease_seconds) end
   where id = p_execution_id;
  perform kiln_api.transition_build(v_exec.build_id, 'running', 'worker:' || v_exec.lease_owner,
    format('running on %s', p_infrastructure_type), p_execution_id,
    jsonb_build_object('infrastructure_type', p_infrastructure_type, 'reason', p_reason,
                       'external_ref', p_external_ref), v_now);
end $$;
