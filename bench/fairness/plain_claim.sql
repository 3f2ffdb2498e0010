-- The claim without fair scheduling, for comparison: claim_builds as it was before caps
-- and fair share (one statement: queue order by effective priority, then age, on the
-- builds_queue index; FOR UPDATE SKIP LOCKED; one execution and one event per build; the
-- same columns back).
create schema if not exists bench;
create or replace function bench.claim_plain(p_worker text, p_batch integer, p_lease_seconds integer)
  returns table (execution_id uuid, build_id uuid, tenant_id uuid, project text,
                 language text, epoch bigint, attempt integer, method kiln.build_method,
                 params jsonb, spec jsonb, requirements jsonb,
                 infrastructure_type kiln.infrastructure_type, force_infrastructure boolean,
                 oom_retries integer, lease_expires_at timestamptz)
  language plpgsql as $$
declare
  v_now timestamptz := now();
begin
  return query
  with picked as (
    select b.id from kiln.builds b
     where b.status = 'queued'
     order by b.effective_priority desc, b.queued_at, b.id
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
