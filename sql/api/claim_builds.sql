-- claim_builds: hands up to p_batch queued builds to one worker under a lease.
-- One statement: the oldest highest-priority queued rows (builds_queue partial index) are
-- locked with FOR UPDATE SKIP LOCKED, so concurrent claimers never wait on each other and
-- never get the same build; each becomes `dispatching` with a new epoch (the fencing
-- token) and one execution row. The unique index build_executions_one_active backs the
-- at-most-one-active-execution rule even against a buggy caller.
-- Caller: kiln-dispatch. Locks: the claimed builds rows.
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
  return query
  with picked as (
    select b.id from kiln.builds b
     where b.status = 'queued'
     order by b.priority desc, b.queued_at, b.id
     limit p_batch
       for update skip locked
  ), claimed as (
    update kiln.builds b
       set status = 'dispatching', lease_epoch = b.lease_epoch + 1, updated_at = v_now
      from picked where b.id = picked.id
    returning b.id, b.tenant_id, b.project_id, b.attempt, b.lease_epoch, b.oom_retries
  ), exec as (
    insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status,
                                       lease_owner, lease_expires_at, created_at)
    select c.id, c.tenant_id, c.attempt, c.lease_epoch, 'dispatching', p_worker,
           v_now + make_interval(secs => p_lease_seconds), v_now
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
