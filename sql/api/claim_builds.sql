-- claim_builds: hands up to p_batch queued builds to one worker under a lease.
-- Which builds: kiln_api.pick_claimable (scheduling.sql) chooses them fairly across
-- tenants, within the tenant and project caps, locking them FOR UPDATE SKIP LOCKED, so
-- concurrent claimers never wait on each other's builds and never get the same build.
-- Each becomes `dispatching` with a new epoch (the fencing token) and one execution row.
-- The unique index build_executions_one_active backs the at-most-one-active-execution rule
-- even against a buggy caller.
-- Must run at READ COMMITTED: the caps are counted after their rows are locked, which is
-- only exact when each statement sees what committed before it.
-- Caller: kiln-dispatch. Locks: the claimed builds rows, the scheduling rows of capped
-- tenants and projects with queued work.
create function kiln_api.claim_builds(p_worker text, p_batch integer, p_lease_seconds integer,
                                      p_now timestamptz default null)
  returns table (execution_id uuid, build_id uuid, tenant_id uuid, project text,
                 language text, epoch bigint, attempt integer, method kiln.build_method,
                 params jsonb, spec jsonb, requirements jsonb,
                 infrastructure_type kiln.infrastructure_type, force_infrastructure boolean,
                 oom_retries integer, lease_expires_at timestamptz)
  language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_ids uuid[];
  v_reserved jsonb[];
begin
  if p_worker is null or btrim(p_worker) = '' then
    perform kiln_api.raise_error(400, 'missing_field', 'worker is required', 'worker');
  end if;
  if p_batch is null or p_batch not between 1 and 1000 then
    perform kiln_api.raise_error(400, 'invalid_value', 'batch must be between 1 and 1000', 'batch');
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 86400 then
    perform kiln_api.raise_error(400, 'invalid_value', 'lease must be between 1 and 86400 seconds',
                                 'lease_seconds');
  end if;
  if current_setting('transaction_isolation') <> 'read committed' then
    perform kiln_api.raise_error(500, 'isolation_level',
      'claim_builds must run at READ COMMITTED: its caps are exact only then', 'transaction_isolation');
  end if;
  -- The picks as arrays first: a join with the function's rows would be planned for its
  -- default estimate of 1000 rows (a scan of builds); ids in an array use the primary key.
  select coalesce(array_agg(p.build_id), '{}'), coalesce(array_agg(p.reserved), '{}')
    into v_ids, v_reserved from kiln_api.pick_claimable(p_batch, v_now) p;
  if cardinality(v_ids) = 0 then
    return;
  end if;
  return query
  with picked as (
    select u.build_id, u.reserved from unnest(v_ids, v_reserved) u (build_id, reserved)
  ), claimed as (
    update kiln.builds b
       set status = 'dispatching', lease_epoch = b.lease_epoch + 1, updated_at = v_now
      from picked where b.id = picked.build_id and b.id = any (v_ids) and b.status = 'queued'
    returning b.id, b.tenant_id, b.project_id, b.attempt, b.lease_epoch, b.oom_retries, picked.reserved
  ), exec as (
    insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status,
                                       lease_owner, lease_expires_at, created_at, reserved)
    select c.id, c.tenant_id, c.attempt, c.lease_epoch, 'dispatching', p_worker,
           v_now + make_interval(secs => p_lease_seconds), v_now, c.reserved
      from claimed c
    returning build_executions.id, build_executions.build_id, build_executions.lease_expires_at
  ), events as (
    insert into kiln.build_events (build_id, tenant_id, execution_id, from_status, to_status,
                                   actor, message, created_at)
    select c.id, c.tenant_id, e.id, 'queued', 'dispatching', 'worker:' || p_worker,
           format('claimed (attempt %s)', c.attempt), v_now
      from claimed c join exec e on e.build_id = c.id
  )
  select e.id, c.id, c.tenant_id, p.name, p.language, c.lease_epoch, c.attempt, cfg.method,
         cfg.params, cfg.spec, cfg.requirements, cfg.infrastructure_type,
         cfg.force_infrastructure, c.oom_retries, e.lease_expires_at
    from claimed c
    join exec e on e.build_id = c.id
    join kiln.build_configs cfg on cfg.build_id = c.id
    join kiln.projects p on p.id = c.project_id;
end $$;
