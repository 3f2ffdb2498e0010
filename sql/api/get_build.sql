-- get_build: one build of the current tenant, or QC404. A queued build also carries
-- `queue`: why it waits, its position and ETA (kiln_api.queue_state).
-- Caller: GET /api/v1/builds/{id}.
create function kiln_api.get_build(p_build_id uuid) returns jsonb
  language plpgsql stable as $$
declare
  v_json jsonb;
begin
  if exists (select from kiln.builds where id = p_build_id and kiln_api.in_session_tenant(tenant_id)) then
    v_json := kiln_api.build_json(p_build_id);
    if v_json ->> 'status' = 'queued' then
      v_json := v_json || jsonb_build_object('queue', kiln_api.queue_state(p_build_id));
    end if;
  end if;
  if v_json is null then
    perform kiln_api.raise_error(404, 'not_found', format('build %s not found', p_build_id), 'id');
  end if;
  return v_json;
end $$;
