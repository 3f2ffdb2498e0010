-- reap_expired_leases: executions whose lease ran out (their worker died or hung) are
-- marked lost; their build goes back to `queued` with attempt + 1, or to `failed` once
-- max_attempts executions were lost. Bounded by p_limit per call; rows another reaper
-- holds are skipped. Returns what it did.
-- Also ages queued builds and re-plans offers no online node can run (scheduling.sql).
-- Caller: every dispatcher pass. Locks: the builds of expired executions (skipping those
-- another transaction holds), then the executions: lock_execution's order, so a worker
-- renewing as its lease runs out cannot deadlock with the reaper.
create function kiln_api.reap_expired_leases(p_now timestamptz default null,
                                             p_limit integer default 500)
  returns table (build_id uuid, execution_id uuid, new_status kiln.build_status)
  language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_candidate record;
  v_exec kiln.build_executions;
  v_build kiln.builds;
  v_why text;
begin
  -- Scheduling upkeep first (scheduling.sql): aging, and offers whose nodes went away.
  perform kiln_api.age_queued_builds(v_now);
  return query select r.build_id, r.execution_id, r.new_status
                 from kiln_api.replan_unhealthy_offers(v_now, p_limit) r;
  for v_candidate in
    select e.id, e.build_id from kiln.build_executions e
      join kiln.builds b on b.id = e.build_id
     where e.status in ('dispatching', 'running') and e.lease_expires_at < v_now
     order by e.lease_expires_at
     limit p_limit
       for update of b skip locked
  loop
    -- Re-read under the build's lock: a renewal may have committed since the snapshot.
    select * into v_exec from kiln.build_executions e
     where e.id = v_candidate.id and e.status in ('dispatching', 'running')
       and e.lease_expires_at < v_now
       for update;
    if not found then
      continue;
    end if;
    select * into v_build from kiln.builds b where b.id = v_exec.build_id;
    -- An offer no build node took is not a crash, but it is bounded the same way.
    v_why := case when v_exec.offered_at is not null and v_exec.build_node_id is null
                  then format('no build node took it within %s s of the offer',
                              extract(epoch from v_exec.lease_expires_at - v_exec.offered_at)::integer)
                  else format('lease of %s expired at %s', v_exec.lease_owner, v_exec.lease_expires_at) end;
    update kiln.build_executions
       set status = 'lost', finished_at = v_now, failure_reason = v_why
     where id = v_exec.id;
    if v_build.attempt < v_build.max_attempts then
      update kiln.builds set attempt = attempt + 1 where id = v_build.id;
      v_build := kiln_api.transition_build(v_build.id, 'queued', 'reaper',
        format('%s; requeued as attempt %s', v_why, v_build.attempt + 1),
        v_exec.id, jsonb_build_object('lost_worker', v_exec.lease_owner), v_now);
    else
      v_build := kiln_api.transition_build(v_build.id, 'failed', 'reaper',
        format('%s; gave up after %s attempts', v_why, v_build.max_attempts),
        v_exec.id, jsonb_build_object('lost_worker', v_exec.lease_owner), v_now);
    end if;
    build_id := v_build.id;
    execution_id := v_exec.id;
    new_status := v_build.status;
    return next;
  end loop;
end $$;
