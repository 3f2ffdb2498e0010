-- start_build: pending → queued; the event's NOTIFY wakes dispatchers.
-- Caller: POST /api/v1/builds/{id}/start. Errors: QC404, QC409 illegal_transition.
create function kiln_api.start_build(p_build_id uuid, p_now timestamptz default null)
  returns jsonb language plpgsql as $$
begin
  perform kiln_api.lock_build(p_build_id);
  perform kiln_api.transition_build(p_build_id, 'queued', kiln_api.actor(), 'started',
                                    p_now => p_now);
  return kiln_api.build_json(p_build_id);
end $$;
