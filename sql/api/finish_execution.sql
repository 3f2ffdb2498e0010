-- finish_execution: records the outcome of an execution and moves its build on.
--   succeeded → build succeeded; failed → failed; timed_out → timed_out;
--   oom_killed → requeued once (attempt + 1, oom_retries + 1, the next claim sizes one
--   step up) unless the spec says oom_retry: false or the one retry was used
--   (max_oom_retries = 1, adr-039), then failed.
-- Fenced by the epoch like renew_lease. Returns the build's new status.
-- Caller: kiln-dispatch / agents. Errors: QC400 outcome, QC409 stale_lease, QC404.
create function kiln_api.finish_execution(p_execution_id uuid, p_epoch bigint,
    p_outcome text, p_exit_code integer default null, p_reason text default null,
    p_now timestamptz default null)
  returns kiln.build_status language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_max_oom_retries constant integer := 1;
  v_exec kiln.build_executions;
  v_build kiln.builds;
  v_oom_retry boolean;
  v_actor text;
begin
  if p_outcome is null or p_outcome not in ('succeeded', 'failed', 'timed_out', 'oom_killed') then
    perform kiln_api.raise_error(400, 'invalid_value',
      'outcome must be one of succeeded, failed, timed_out, oom_killed', 'outcome');
  end if;
  v_exec := kiln_api.lock_execution(p_execution_id, p_epoch);
  v_actor := 'worker:' || v_exec.lease_owner;
  update kiln.build_executions
     set status = p_outcome::kiln.execution_status, exit_code = p_exit_code,
         failure_reason = case when p_outcome <> 'succeeded' then p_reason end,
         finished_at = v_now
   where id = p_execution_id;

  if p_outcome = 'oom_killed' then
    select * into v_build from kiln.builds where id = v_exec.build_id;
    select coalesce((c.spec ->> 'oom_retry')::boolean, true) into v_oom_retry
      from kiln.build_configs c where c.build_id = v_build.id;
    if v_oom_retry and v_build.oom_retries < v_max_oom_retries then
      update kiln.builds set attempt = attempt + 1, oom_retries = oom_retries + 1,
                             max_attempts = greatest(max_attempts, attempt + 1)
       where id = v_build.id;
      v_build := kiln_api.transition_build(v_build.id, 'queued', v_actor,
        'out of memory: retrying once, one size up', p_execution_id,
        jsonb_build_object('oom_retry', v_build.oom_retries + 1, 'exit_code', p_exit_code), v_now);
      return v_build.status;
    end if;
    v_build := kiln_api.transition_build(v_build.id, 'failed', v_actor,
      coalesce(p_reason, 'out of memory') ||
        case when v_oom_retry then ' (after one retry one size up)' else ' (oom_retry is off)' end,
      p_execution_id, jsonb_build_object('exit_code', p_exit_code), v_now);
    return v_build.status;
  end if;

  v_build := kiln_api.transition_build(v_exec.build_id, p_outcome::kiln.build_status, v_actor,
    case p_outcome
      when 'succeeded' then 'succeeded'
      when 'timed_out' then coalesce(p_reason, 'time budget exceeded')
      else coalesce(p_reason, format('failed with exit code %s', p_exit_code)) end,
    p_execution_id, jsonb_build_object('exit_code', p_exit_code), v_now);
  return v_build.status;
end $$;
