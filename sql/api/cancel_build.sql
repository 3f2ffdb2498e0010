-- cancel_build: ends a build that has not finished. An active execution is marked
-- cancelled at once, which fences its worker: its next renew_lease answers
-- execution_cancelled (QC409) and it kills the work.
-- Audited (build.cancel). Caller: POST /api/v1/builds/{id}/cancel. Errors: QC404, QC409 illegal_transition.
create function kiln_api.cancel_build(p_build_id uuid, p_reason text default null,
                                      p_now timestamptz default null)
  returns jsonb language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_reason text := coalesce(nullif(btrim(p_reason), ''), 'cancelled');
  v_exec uuid;
begin
  perform kiln_api.lock_build(p_build_id);
  update kiln.build_executions
     set status = 'cancelled', finished_at = v_now,
         failure_reason = v_reason
   where build_id = p_build_id and status in ('dispatching', 'running')
   returning id into v_exec;
  perform kiln_api.transition_build(p_build_id, 'cancelled', kiln_api.actor(),
    v_reason, v_exec, p_now => v_now);
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    select b.tenant_id, kiln_api.current_user_id(), 'build.cancel', 'build', b.id::text,
           jsonb_build_object('reason', v_reason, 'execution_id', v_exec)
      from kiln.builds b where b.id = p_build_id;
  return kiln_api.build_json(p_build_id);
end $$;
