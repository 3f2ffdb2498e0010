-- Lease fencing shared by renew_lease, start_execution and finish_execution.
-- An execution is held by whoever knows its epoch while it is still active and the
-- build's lease_epoch has not moved on. Once reaped (status lost) or cancelled, every
-- call with that epoch is refused and changes nothing: a zombie worker cannot
-- overwrite the work of the one that replaced it.
-- Locks: the build row, then the execution row (always in this order).
create function kiln_api.lock_execution(p_execution_id uuid, p_epoch bigint)
  returns kiln.build_executions language plpgsql as $$
declare
  v_exec kiln.build_executions;
  v_build_epoch bigint;
begin
  select b.lease_epoch into v_build_epoch from kiln.builds b
    join kiln.build_executions e on e.build_id = b.id
   where e.id = p_execution_id for update of b;
  if not found then
    perform kiln_api.raise_error(404, 'not_found',
      format('execution %s not found', p_execution_id), 'execution_id');
  end if;
  select * into v_exec from kiln.build_executions where id = p_execution_id for update;
  if v_exec.status = 'cancelled' then
    perform kiln_api.raise_error(409, 'execution_cancelled',
      format('execution %s was cancelled; stop the work', p_execution_id), 'execution_id');
  end if;
  if v_exec.epoch <> p_epoch or v_build_epoch <> p_epoch
     or v_exec.status not in ('dispatching', 'running') then
    perform kiln_api.raise_error(409, 'stale_lease',
      format('lease of execution %s is no longer held (epoch %s, execution %s, current epoch %s)',
             p_execution_id, p_epoch, v_exec.status, v_build_epoch), 'epoch');
  end if;
  return v_exec;
end $$;

-- renew_lease: extends the lease of an active execution; returns the new expiry.
-- Caller: the worker holding it (dispatcher, agent), well before expiry.
-- Errors: QC409 stale_lease or execution_cancelled, QC404.
create function kiln_api.renew_lease(p_execution_id uuid, p_epoch bigint,
                                     p_lease_seconds integer, p_now timestamptz default null)
  returns timestamptz language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_expires timestamptz;
begin
  if p_lease_seconds is null or p_lease_seconds not between 1 and 86400 then
    perform kiln_api.raise_error(400, 'invalid_value', 'lease must be between 1 and 86400 seconds',
                                 'lease_seconds');
  end if;
  perform kiln_api.lock_execution(p_execution_id, p_epoch);
  update kiln.build_executions
     set lease_expires_at = v_now + make_interval(secs => p_lease_seconds)
   where id = p_execution_id
   returning lease_expires_at into v_expires;
  return v_expires;
end $$;
