-- The claim without fair scheduling, for comparison: the single statement claim_builds was
-- before caps and fair share (queue order by effective priority, then age, on the
-- builds_queue index; FOR UPDATE SKIP LOCKED; one execution and one event per build).
create schema if not exists bench;
create or replace function bench.claim_plain(p_worker text, p_batch integer, p_lease_seconds integer)
  returns table (execution_id uuid, build_id uuid) language sql as $$
  with picked as (
    select b.id from kiln.builds b
     where b.status = 'queued'
     order by b.effective_priority desc, b.queued_at, b.id
     limit p_batch
       for update skip locked
  ), claimed as (
    update kiln.builds b set status = 'dispatching', lease_epoch = b.lease_epoch + 1, updated_at = now()
      from picked where b.id = picked.id
    returning b.id, b.tenant_id, b.attempt, b.lease_epoch
  ), exec as (
    insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status, lease_owner, lease_expires_at)
    select c.id, c.tenant_id, c.attempt, c.lease_epoch, 'dispatching', p_worker,
           now() + make_interval(secs => p_lease_seconds)
      from claimed c
    returning build_executions.id, build_executions.build_id
  ), events as (
    insert into kiln.build_events (build_id, tenant_id, execution_id, from_status, to_status, actor, message)
    select c.id, c.tenant_id, e.id, 'queued', 'dispatching', 'worker:' || p_worker, 'claimed'
      from claimed c join exec e on e.build_id = c.id
  )
  select e.id, e.build_id from exec e
$$;
