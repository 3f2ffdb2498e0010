-- build_json: the API's representation of one build, with its config and executions.
-- Caller: get_build, submit_build, start_build, cancel_build.
create function kiln_api.build_json(p_build_id uuid) returns jsonb
  language sql stable as $$
  select jsonb_build_object(
      'id', b.id, 'project', p.name, 'project_id', p.id, 'status', b.status,
      'method', c.method, 'params', c.params, 'spec', c.spec, 'requirements', c.requirements,
      'infrastructure_type', c.infrastructure_type,
      'infrastructure_reason', c.infrastructure_reason,
      'force_infrastructure', c.force_infrastructure,
      'priority', b.priority, 'attempt', b.attempt, 'max_attempts', b.max_attempts,
      'failure_reason', b.failure_reason,
      'created_at', b.created_at, 'updated_at', b.updated_at, 'queued_at', b.queued_at,
      'started_at', b.started_at, 'finished_at', b.finished_at, 'not_before', b.not_before,
      'executions', coalesce((
        select jsonb_agg(jsonb_build_object(
            'id', e.id, 'attempt', e.attempt, 'status', e.status,
            'infrastructure_type', e.infrastructure_type,
            'infrastructure_reason', e.infrastructure_reason,
            'infrastructure_metadata', e.infrastructure_metadata,
            'selected_at', e.selected_at, 'size', e.size, 'worker', e.lease_owner,
            'lease_expires_at', e.lease_expires_at, 'exit_code', e.exit_code,
            'failure_reason', e.failure_reason, 'created_at', e.created_at,
            'started_at', e.started_at, 'finished_at', e.finished_at)
          order by e.attempt)
        from kiln.build_executions e where e.build_id = b.id), '[]'::jsonb))
    from kiln.builds b
    join kiln.build_configs c on c.build_id = b.id
    join kiln.projects p on p.id = b.project_id
   where b.id = p_build_id
$$;
