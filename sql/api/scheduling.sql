-- Fair scheduling (migration 0007, docs/scheduling.md): which queued builds a claim takes.
--
-- Fair share is deficit round robin by virtual time: each tenant has a vtime
-- (kiln.tenant_fair_state) that every claimed build advances by 1/share (share from
-- kiln.tenant_scheduling, default 1). A claim fills its slots from the tenants with queued
-- work by smallest vtime + j/share for their j-th build, so tenants alternate build by
-- build, a tenant with share 2 gets two builds for one, and a tenant alone gets every slot.
-- A tenant coming back from idle starts at most fair_share_burst builds behind the
-- most-served waiting tenant, not at its old vtime, so it cannot claim a burst it saved up. The state rows are taken with
-- SKIP LOCKED: concurrent claimers serve different tenants instead of queueing on one row
-- (only when every waiting tenant is being served does a claim wait for one). A single
-- tenant without caps skips all of it. Inside a tenant, builds go by effective priority
-- (priority plus aging, kiln_api.age_queued_builds), then age.
--
-- Caps (running builds, cpu and memory in flight, per tenant and per project) are hard: the
-- claim locks the scheduling rows of capped tenants and projects first (tenants, then
-- projects, each in id order, so claimers never deadlock) and counts what is in flight after
-- the lock, so two dispatchers can never both take the last slot.

-- in_flight: a tenant's or project's executions in flight (dispatching or running):
-- {running, cpu, memory_gb}; cpu and memory count the planned size, else the reservation.
create function kiln_api.in_flight(p_tenant uuid, p_project uuid default null)
  returns jsonb language sql stable as $$
  select jsonb_build_object('running', count(*),
           'cpu', coalesce(sum(coalesce((e.size ->> 'cpu')::numeric, (e.reserved ->> 'cpu')::numeric, 0)), 0),
           'memory_gb', coalesce(sum(coalesce((e.size ->> 'memory_gb')::numeric,
                                              (e.reserved ->> 'memory_gb')::numeric, 0)), 0))
    from kiln.build_executions e
   where e.tenant_id = p_tenant and e.status in ('dispatching', 'running')
     and (p_project is null or exists (select from kiln.builds b where b.id = e.build_id and b.project_id = p_project))
$$;

-- build_reservation: the size a claim reserves for a build of a cpu- or memory-capped
-- tenant or project: the size its plan will compute (the same kiln_api.compute_size).
create function kiln_api.build_reservation(p_build kiln.builds) returns jsonb
  language sql stable as $$
  select jsonb_build_object('cpu', s ->> 'cpu', 'memory_gb', s ->> 'memory_gb')
    from (select kiln_api.compute_size(kiln_api.sizing_inputs(p, c.method, c.spec), p_build.oom_retries) s
            from kiln.build_configs c join kiln.projects p on p.id = p_build.project_id
           where c.build_id = p_build.id) x
$$;

-- exceeds_cap: whether in-flight usage plus p_add breaks any cap of a scheduling row
-- (max_running, max_cpu, max_memory_gb; null = no cap).
create function kiln_api.exceeds_cap(p_usage jsonb, p_add jsonb, p_max_running integer,
                                     p_max_cpu numeric, p_max_memory_gb numeric)
  returns boolean language sql immutable as $$
  select coalesce((p_usage ->> 'running')::numeric + 1 > p_max_running, false)
      or coalesce((p_usage ->> 'cpu')::numeric + coalesce((p_add ->> 'cpu')::numeric, 0) > p_max_cpu, false)
      or coalesce((p_usage ->> 'memory_gb')::numeric + coalesce((p_add ->> 'memory_gb')::numeric, 0)
                  > p_max_memory_gb, false)
$$;

-- add_usage: usage plus one build of size p_add.
create function kiln_api.add_usage(p_usage jsonb, p_add jsonb) returns jsonb
  language sql immutable as $$
  select jsonb_build_object('running', (p_usage ->> 'running')::numeric + 1,
    'cpu', (p_usage ->> 'cpu')::numeric + coalesce((p_add ->> 'cpu')::numeric, 0),
    'memory_gb', (p_usage ->> 'memory_gb')::numeric + coalesce((p_add ->> 'memory_gb')::numeric, 0))
$$;

-- queued_tenants: tenants with claimable builds, by a loose scan of builds_queue_tenant
-- (one index probe per tenant, however long the queues).
create function kiln_api.queued_tenants() returns uuid[]
  language sql stable as $$
  with recursive t (tenant_id) as (
    (select b.tenant_id from kiln.builds b where b.status = 'queued' order by b.tenant_id limit 1)
    union all
    select (select b.tenant_id from kiln.builds b
             where b.status = 'queued' and b.tenant_id > t.tenant_id order by b.tenant_id limit 1)
      from t where t.tenant_id is not null)
  select coalesce(array_agg(tenant_id order by tenant_id), '{}') from t where tenant_id is not null
$$;

-- pick_claimable: up to p_batch queued builds, fairly across tenants and within the caps,
-- locked FOR UPDATE SKIP LOCKED; reserved is the size held against cpu/memory caps ({}
-- when none applies). Caller: claim_builds, in the same statement that claims them.
create function kiln_api.pick_claimable(p_batch integer, p_now timestamptz)
  returns table (build_id uuid, reserved jsonb) language plpgsql as $$
declare
  v_tenants uuid[] := kiln_api.queued_tenants();
  v_capped uuid[] := '{}';
  v_served uuid[];
  v_floor numeric;
  v_taken integer;
  v_locked integer;
  v_left integer := p_batch;
  v_round integer;
  v_done_before integer;
  v_done uuid[] := '{}';
  v_picked uuid[] := '{}';
  v_ids uuid[];
  v_pick record;
  v_quota record;
begin
  if cardinality(v_tenants) = 0 then
    return;
  end if;
  -- Lock the caps first; everything counted below is then exact for capped tenants.
  perform from kiln.tenant_scheduling s
   where s.tenant_id = any (v_tenants)
     and (s.max_running is not null or s.max_cpu is not null or s.max_memory_gb is not null)
   order by s.tenant_id for update;
  get diagnostics v_locked = row_count;
  perform from kiln.project_scheduling s
   where s.tenant_id = any (v_tenants)
     and (s.max_running is not null or s.max_cpu is not null or s.max_memory_gb is not null)
   order by s.tenant_id, s.project_id for update;
  get diagnostics v_taken = row_count;
  -- One tenant without caps (the common case): its builds in order, nothing to share.
  if cardinality(v_tenants) = 1 and v_locked + v_taken = 0 then
    return query
      select b.id, '{}'::jsonb from kiln.builds b
       where b.tenant_id = v_tenants[1] and b.status = 'queued'
         and (b.not_before is null or b.not_before <= p_now)
       order by b.effective_priority desc, b.queued_at, b.id
       limit p_batch
         for update skip locked;
    return;
  end if;
  if v_locked + v_taken > 0 then
    select coalesce(array_agg(t), '{}') into v_capped from unnest(v_tenants) t
     where exists (select from kiln.tenant_scheduling s where s.tenant_id = t
                      and (s.max_cpu is not null or s.max_memory_gb is not null))
        or exists (select from kiln.project_scheduling s where s.tenant_id = t
                      and (s.max_running is not null or s.max_cpu is not null or s.max_memory_gb is not null));
  end if;

  -- The tenants this claim serves: the least served waiting tenants no other claim is
  -- serving now, no more of them than builds it may take.
  select coalesce(array_agg(f.tenant_id), '{}') into v_served from (
    select f.tenant_id from kiln.tenant_fair_state f
     where f.tenant_id = any (v_tenants)
     order by f.vtime, f.tenant_id
     limit p_batch
       for update skip locked) f;
  if cardinality(v_served) = 0 then
    select array[f.tenant_id] into v_served from (
      select f.tenant_id from kiln.tenant_fair_state f where f.tenant_id = any (v_tenants)
       order by f.vtime, f.tenant_id limit 1 for update) f;
  end if;
  -- A tenant back from idle (or long skipped) starts at most fair_share_burst builds
  -- behind the most-served waiting tenant: it catches up by that many, then alternates.
  v_floor := (select max(f.vtime) from kiln.tenant_fair_state f where f.tenant_id = any (v_tenants))
             - kiln_api.setting('fair_share_burst');

  -- Fill the batch: each round splits what is left by vtime; a tenant with caps, or one
  -- that had fewer claimable builds than its share of the round, is done after its turn
  -- (its caps were counted once), and the next round gives the rest to the others.
  while v_left > 0 loop
    v_round := 0;
    v_done_before := cardinality(v_done);
    for v_quota in
      with info as (
        -- a tenant with fewer builds than its slots is done after its turn and the next
        -- round hands the rest on, so its queue is not counted here
        select t.tenant_id, coalesce(s.share, 1) as share, greatest(f.vtime, v_floor) as vtime,
               case when s.max_running is not null then
                 s.max_running - (select count(*) from kiln.build_executions e
                                   where e.tenant_id = t.tenant_id and e.status in ('dispatching', 'running'))
               end as room
          from unnest(v_served) t (tenant_id)
          join kiln.tenant_fair_state f on f.tenant_id = t.tenant_id
          left join kiln.tenant_scheduling s on s.tenant_id = t.tenant_id
         where t.tenant_id <> all (v_done)
      ), slots as (
        select i.tenant_id, i.share, i.vtime, i.room is not null as capped, i.vtime + j / i.share as finish
          from info i
          -- room is null without a running cap (greatest() would turn that into 0)
          cross join generate_series(1, least(v_left, case when i.room is null then v_left
                                                          else greatest(i.room, 0) end)) j
      )
      select s.tenant_id, min(s.share) as share, min(s.vtime) as vtime, bool_or(s.capped) as capped,
             count(*)::integer as quota
        from (select * from slots order by finish, vtime, tenant_id limit v_left) s
       group by s.tenant_id order by s.tenant_id
    loop
      v_taken := 0;
      if v_quota.tenant_id = any (v_capped) then
        for v_pick in select * from kiln_api.pick_capped(v_quota.tenant_id, v_quota.quota, p_now) loop
          build_id := v_pick.build_id;
          reserved := v_pick.reserved;
          v_taken := v_taken + 1;
          return next;
        end loop;
      else
        select coalesce(array_agg(q.id), '{}') into v_ids from (
          select b.id from kiln.builds b
           where b.tenant_id = v_quota.tenant_id and b.status = 'queued'
             and (b.not_before is null or b.not_before <= p_now) and b.id <> all (v_picked)
           order by b.effective_priority desc, b.queued_at, b.id
           limit v_quota.quota
             for update skip locked) q;
        v_picked := v_picked || v_ids;
        v_taken := cardinality(v_ids);
        return query select unnest(v_ids), '{}'::jsonb;
      end if;
      update kiln.tenant_fair_state f set vtime = v_quota.vtime + v_taken / v_quota.share
       where f.tenant_id = v_quota.tenant_id;
      if v_quota.capped or v_quota.tenant_id = any (v_capped) or v_taken < v_quota.quota then
        v_done := v_done || v_quota.tenant_id;
      end if;
      v_left := v_left - v_taken;
      v_round := v_round + v_taken;
    end loop;
    -- done when a round neither claimed nor ruled out a tenant (nothing else can be had)
    exit when v_round = 0 and cardinality(v_done) = v_done_before;
  end loop;
end $$;

-- pick_capped: up to p_quota builds of a tenant with cpu/memory caps or project caps, one
-- at a time: each must fit its tenant's and its project's caps with what is already in
-- flight and what this claim took. A build too big for what is left stays queued and the
-- next one is tried (at most 4 × p_quota tries). The caller holds the scheduling rows.
create function kiln_api.pick_capped(p_tenant uuid, p_quota integer, p_now timestamptz)
  returns table (build_id uuid, reserved jsonb) language plpgsql as $$
declare
  v_tenant kiln.tenant_scheduling;
  v_usage jsonb := kiln_api.in_flight(p_tenant);
  v_projects jsonb := '{}';  -- project id -> {usage, max_running, max_cpu, max_memory_gb}
  v_full uuid[] := '{}';
  v_tried uuid[] := '{}';
  v_build kiln.builds;
  v_project jsonb;
  v_size jsonb;
  v_taken integer := 0;
begin
  select * into v_tenant from kiln.tenant_scheduling s where s.tenant_id = p_tenant;
  select coalesce(jsonb_object_agg(s.project_id, jsonb_build_object('usage', kiln_api.in_flight(p_tenant, s.project_id),
           'max_running', s.max_running, 'max_cpu', s.max_cpu, 'max_memory_gb', s.max_memory_gb)), '{}')
    into v_projects
    from kiln.project_scheduling s
   where s.tenant_id = p_tenant
     and (s.max_running is not null or s.max_cpu is not null or s.max_memory_gb is not null);
  select coalesce(array_agg(k::uuid), '{}') into v_full from jsonb_each(v_projects) p (k, v)
   where (v ->> 'max_running')::integer <= (v -> 'usage' ->> 'running')::integer;

  for i in 1 .. 4 * p_quota loop
    exit when v_taken >= p_quota;
    select * into v_build from kiln.builds b
     where b.tenant_id = p_tenant and b.status = 'queued'
       and (b.not_before is null or b.not_before <= p_now)
       and b.project_id <> all (v_full) and b.id <> all (v_tried)
     order by b.effective_priority desc, b.queued_at, b.id
     limit 1
       for update skip locked;
    exit when not found;
    v_tried := v_tried || v_build.id;
    v_project := v_projects -> v_build.project_id::text;
    v_size := case when v_tenant.max_cpu is not null or v_tenant.max_memory_gb is not null
                     or v_project ->> 'max_cpu' is not null or v_project ->> 'max_memory_gb' is not null
                   then kiln_api.build_reservation(v_build) else '{}' end;
    if kiln_api.exceeds_cap(v_usage, v_size, v_tenant.max_running, v_tenant.max_cpu, v_tenant.max_memory_gb) then
      continue;
    end if;
    if v_project is not null then
      if kiln_api.exceeds_cap(v_project -> 'usage', v_size, (v_project ->> 'max_running')::integer,
                              (v_project ->> 'max_cpu')::numeric, (v_project ->> 'max_memory_gb')::numeric) then
        continue;
      end if;
      v_projects := jsonb_set(v_projects, array[v_build.project_id::text, 'usage'],
                              kiln_api.add_usage(v_project -> 'usage', v_size));
      if (v_project ->> 'max_running')::integer <= (v_project -> 'usage' ->> 'running')::integer + 1 then
        v_full := v_full || v_build.project_id;
      end if;
    end if;
    v_usage := kiln_api.add_usage(v_usage, v_size);
    v_taken := v_taken + 1;
    build_id := v_build.id;
    reserved := v_size;
    return next;
  end loop;
end $$;

-- age_queued_builds: raises the effective priority of builds waiting longer than
-- priority_aging_seconds by one per such period, skipping rows a claim holds: a build
-- waiting long enough outranks any priority (100 at most), so none waits forever. Returns how many builds it raised. Caller: reap_expired_leases (each pass).
create function kiln_api.age_queued_builds(p_now timestamptz default null) returns integer
  language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_aging numeric := kiln_api.setting('priority_aging_seconds');
  v_count integer;
begin
  with aged as (
    select b.id, b.priority + least(floor(extract(epoch from v_now - b.queued_at) / v_aging), 1000000)::integer as eff
      from kiln.builds b
     where b.status = 'queued' and b.queued_at < v_now - make_interval(secs => v_aging::double precision)
       and b.effective_priority < b.priority + least(floor(extract(epoch from v_now - b.queued_at) / v_aging), 1000000)
       for update skip locked)
  update kiln.builds b set effective_priority = aged.eff from aged where b.id = aged.id;
  get diagnostics v_count = row_count;
  return v_count;
end $$;

-- replan_unhealthy_offers: executions offered to build nodes that no online build node can
-- run any more (their nodes stopped sending heartbeats, were drained or deprecated) go back
-- to `queued` as a new attempt that does not count against max_attempts, when the build's plan would now pick another
-- infrastructure (its fallback); the next claim of the same pass plans them there. The
-- event records why. Caller: reap_expired_leases (each pass, before the claims).
create function kiln_api.replan_unhealthy_offers(p_now timestamptz default null, p_limit integer default 100)
  returns table (build_id uuid, execution_id uuid, new_status kiln.build_status)
  language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_online_since timestamptz := v_now - make_interval(
    secs => kiln_api.setting('node_offline_after_seconds')::double precision);
  v_candidate record;
  v_decision jsonb;
  v_why text;
begin
  for v_candidate in
    select e.id, e.build_id, b.tenant_id, cfg.method, cfg.spec, cfg.requirements, cfg.infrastructure_type,
           cfg.force_infrastructure, b.oom_retries, p.name as project
      from kiln.build_executions e
      join kiln.builds b on b.id = e.build_id
      join kiln.build_configs cfg on cfg.build_id = b.id
      join kiln.projects p on p.id = b.project_id
     where e.status = 'dispatching' and e.infrastructure_type = 'build_nodes' and e.offered_at is not null
       and e.build_node_id is null and not cfg.force_infrastructure and cfg.infrastructure_type = 'auto'
       and not exists (select from kiln.build_nodes n
                        where (n.tenant_id is null or n.tenant_id = e.tenant_id) and n.status = 'active'
                          and n.last_heartbeat_at > v_online_since
                          and kiln_api.node_can_run(n, e.node_requirements, e.size))
     order by e.offered_at
     limit p_limit
       for update of b skip locked
  loop
    v_decision := kiln_api.select_infrastructure(v_candidate.tenant_id, jsonb_build_object(
        'project', v_candidate.project, 'method', v_candidate.method, 'spec', v_candidate.spec,
        'requirements', v_candidate.requirements, 'infrastructure_type', v_candidate.infrastructure_type,
        'force_infrastructure', v_candidate.force_infrastructure), v_candidate.oom_retries, v_now);
    continue when v_decision ? 'error' or v_decision ->> 'infrastructure_type' = 'build_nodes';
    v_why := format('no online build node can run it any more; re-planned for %s (%s)',
                    v_decision ->> 'infrastructure_type', v_decision ->> 'reason');
    update kiln.build_executions set status = 'lost', finished_at = v_now, failure_reason = v_why
     where id = v_candidate.id and status = 'dispatching';
    continue when not found;
    -- a new attempt (executions are unique per attempt) that does not count against the bound
    update kiln.builds set attempt = attempt + 1, max_attempts = max_attempts + 1 where id = v_candidate.build_id;
    perform kiln_api.transition_build(v_candidate.build_id, 'queued', 'scheduler', v_why, v_candidate.id,
      jsonb_build_object('replanned_to', v_decision ->> 'infrastructure_type'), v_now);
    build_id := v_candidate.build_id;
    execution_id := v_candidate.id;
    new_status := 'queued';
    return next;
  end loop;
end $$;

grant execute on function
  kiln_api.in_flight(uuid, uuid),
  kiln_api.exceeds_cap(jsonb, jsonb, integer, numeric, numeric),
  kiln_api.add_usage(jsonb, jsonb),
  kiln_api.build_reservation(kiln.builds)
  to kiln_web;
