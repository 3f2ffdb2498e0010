-- queue_build: pending → queued; the event's NOTIFY wakes dispatchers. Callers: start_build,
-- fire_schedule (a schedule's start is recorded by its schedule run, not audited, so that
-- schedulers racing on one tenant never queue on its audit chain).
create function kiln_api.queue_build(p_build_id uuid, p_now timestamptz default null)
  returns jsonb language plpgsql as $$
begin
  perform kiln_api.lock_build(p_build_id);
  perform kiln_api.transition_build(p_build_id, 'queued', kiln_api.actor(), 'started',
                                    p_now => p_now);
  return kiln_api.build_json(p_build_id);
end $$;

-- start_build: queue_build for a person, audited (build.start).
-- Caller: POST /api/v1/builds/{id}/start. Errors: QC404, QC409 illegal_transition.
create function kiln_api.start_build(p_build_id uuid, p_now timestamptz default null)
  returns jsonb language plpgsql as $$
declare
  v_build jsonb := kiln_api.queue_build(p_build_id, p_now);
begin
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id)
    select b.tenant_id, kiln_api.current_user_id(), 'build.start', 'build', b.id::text
      from kiln.builds b where b.id = p_build_id;
  return v_build;
end $$;

grant execute on function kiln_api.queue_build(uuid, timestamptz) to kiln_web;
