-- enforce_time_budgets: the server-side backstop for a run that outlives its time budget
-- plus time_budget_grace_seconds (its node should have killed it; maybe the node hangs):
-- the execution is finished as timed_out, which fences the node (its next renew is
-- refused and it kills the work). Caller: every dispatcher pass.
create function kiln_api.enforce_time_budgets(p_now timestamptz default null, p_limit integer default 200)
  returns table (build_id uuid, execution_id uuid)
  language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_exec record;
begin
  for v_exec in
    select e.id, e.build_id, e.epoch, (e.size ->> 'time_budget_min')::numeric as budget_min
      from kiln.build_executions e
     where e.status = 'running' and e.size ? 'time_budget_min'
       and e.started_at + make_interval(mins => (e.size ->> 'time_budget_min')::numeric::integer)
           + make_interval(secs => kiln_api.setting('time_budget_grace_seconds')::double precision) < v_now
     limit p_limit
  loop
    perform from kiln.builds b where b.id = v_exec.build_id for update skip locked;
    continue when not found;
    begin
      perform kiln_api.finish_execution(v_exec.id, v_exec.epoch, 'timed_out', null,
        format('time budget of %s min exceeded; stopped by the server', v_exec.budget_min), v_now);
    exception when sqlstate 'QC409' then
      continue;  -- it finished or moved on between the scan and the lock
    end;
    build_id := v_exec.build_id;
    execution_id := v_exec.id;
    return next;
  end loop;
end $$;
