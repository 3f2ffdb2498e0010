-- enqueue_due_schedules: submits and starts the builds of schedules whose next tick has
-- come. Exactly once per schedule and tick, whatever number of dispatchers run at once:
-- due schedules are locked FOR UPDATE SKIP LOCKED (a concurrent pass skips them; once it
-- can lock one, the row it re-reads is no longer due), and kiln.build_schedule_runs' key
-- (schedule_id, tick_at) refuses a second run of a tick in any case.
--
-- Of the ticks due (next_run_at up to now) only the latest can be on time: it fires if it
-- is at most schedule_missed_after_seconds old. The others are missed, and after downtime
-- the schedule's missed_policy decides: skip (record them, build nothing) or catch_up_one
-- (one build now, unless the latest tick fired on time anyway). Then next_run_at becomes
-- the first tick after now. A template that no longer submits (its project was deleted)
-- records the error on the run and the schedule; the tick is not retried.
-- Each build is submitted as the schedule's tenant and creator (actor user:<creator>).
-- Caller: kiln-dispatch (housekeeping), DBAs. Locks: the due build_schedules rows, then
-- what submit_build and queue_build lock.
create function kiln_api.enqueue_due_schedules(p_worker text, p_now timestamptz default null,
                                               p_limit integer default 100)
  returns table (schedule_id uuid, tick_at timestamptz, kind text, build_id uuid, error text)
  language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_grace interval := make_interval(secs => coalesce(kiln_api.setting('schedule_missed_after_seconds'), 300)::double precision);
  v_s kiln.build_schedules;
  v_parsed jsonb;
  v_tick timestamptz;
  v_latest timestamptz;
  v_due integer;
  v_run record;
begin
  for v_s in
    select * from kiln.build_schedules s
     where s.enabled and s.next_run_at <= v_now
     order by s.next_run_at limit p_limit
       for update skip locked
  loop
    v_parsed := kiln_api.cron_parse(v_s.cron);
    -- the due ticks: how many (counted up to 1000) and the latest
    v_due := 0;
    v_tick := v_s.next_run_at;
    while v_tick is not null and v_tick <= v_now and v_due < 1000 loop
      v_due := v_due + 1;
      v_latest := v_tick;
      v_tick := kiln_api.cron_next(v_parsed, v_s.timezone, v_tick);
    end loop;
    if v_tick is not null and v_tick <= v_now then  -- more than 1000: the latest is found from now
      v_latest := kiln_api.cron_next(v_parsed, v_s.timezone, v_now - v_grace);
      while v_latest is not null and kiln_api.cron_next(v_parsed, v_s.timezone, v_latest) <= v_now loop
        v_latest := kiln_api.cron_next(v_parsed, v_s.timezone, v_latest);
      end loop;
      if v_latest is null or v_latest > v_now then
        v_latest := v_s.next_run_at;  -- no tick in the window: the latest is missed too
      end if;
    end if;

    if v_now - v_latest <= v_grace then
      select * into v_run from kiln_api.fire_schedule(v_s, v_latest, 'on_time', v_due - 1, p_worker, v_now) r;
    elsif v_s.missed_policy = 'catch_up_one' then
      select * into v_run from kiln_api.fire_schedule(v_s, v_s.next_run_at, 'catch_up', v_due, p_worker, v_now) r;
    else
      select * into v_run from kiln_api.fire_schedule(v_s, v_s.next_run_at, 'skipped', v_due, p_worker, v_now) r;
    end if;

    update kiln.build_schedules s set
        next_run_at = kiln_api.cron_next(v_parsed, v_s.timezone, v_now),
        last_tick_at = case when v_run.inserted and v_run.kind <> 'skipped' then v_run.tick_at else s.last_tick_at end,
        last_build_id = coalesce(v_run.build_id, s.last_build_id),
        last_error = case when v_run.inserted and v_run.kind <> 'skipped' then v_run.error else s.last_error end,
        missed_ticks_count = s.missed_ticks_count + case when v_run.kind = 'on_time' then v_due - 1 else v_due end,
        updated_at = v_now
     where s.id = v_s.id;
    if v_run.inserted then
      schedule_id := v_s.id; tick_at := v_run.tick_at; kind := v_run.kind;
      build_id := v_run.build_id; error := v_run.error;
      return next;
    end if;
  end loop;
end $$;

-- fire_schedule: records the run of one tick (inserted false when that tick already ran)
-- and, unless kind is skipped, submits and starts the template as the schedule's tenant
-- and creator. A failing submit is caught: the error is recorded on the run.
create function kiln_api.fire_schedule(p_schedule kiln.build_schedules, p_tick timestamptz, p_kind text,
                                       p_missed integer, p_worker text, p_now timestamptz,
                                       out inserted boolean, out tick_at timestamptz, out kind text,
                                       out build_id uuid, out error text)
  language plpgsql as $$
declare
  v_tenant text := current_setting('kiln.tenant_id', true);
  v_user text := current_setting('kiln.user_id', true);
begin
  tick_at := p_tick;
  kind := p_kind;
  insert into kiln.build_schedule_runs as r (schedule_id, tick_at, tenant_id, kind, missed_ticks, worker)
    values (p_schedule.id, p_tick, p_schedule.tenant_id, p_kind, greatest(p_missed, 0), p_worker)
    on conflict on constraint build_schedule_runs_pkey do nothing;
  inserted := found;
  if not inserted or p_kind = 'skipped' then
    return;
  end if;
  begin
    perform set_config('kiln.tenant_id', p_schedule.tenant_id::text, true);
    perform set_config('kiln.user_id', coalesce(p_schedule.created_by::text, ''), true);
    build_id := (kiln_api.submit_build(p_schedule.template) ->> 'id')::uuid;
    perform kiln_api.queue_build(build_id, p_now);
  exception when others then
    build_id := null;
    error := sqlerrm;
  end;
  perform set_config('kiln.tenant_id', coalesce(v_tenant, ''), true);
  perform set_config('kiln.user_id', coalesce(v_user, ''), true);
  update kiln.build_schedule_runs r set build_id = fire_schedule.build_id, error = fire_schedule.error
   where r.schedule_id = p_schedule.id and r.tick_at = p_tick;
end $$;
