-- Loaded last on every reload of kiln_api. kiln_web (the API) may call the request-scoped
-- functions; the queue functions are for dispatchers (kiln_system) and DBAs.
revoke all on all functions in schema kiln_api from public;
grant usage on schema kiln_api to kiln_web, kiln_system;
grant execute on all functions in schema kiln_api to kiln_system;
grant execute on function
  kiln_api.authenticate(bytea, timestamptz),
  kiln_api.metrics_build_counts(),
  kiln_api.submit_build(jsonb),
  kiln_api.start_build(uuid, timestamptz),
  kiln_api.cancel_build(uuid, text, timestamptz),
  kiln_api.get_build(uuid),
  kiln_api.list_builds(text, text, integer, text),
  kiln_api.list_build_events(uuid, bigint),
  kiln_api.create_project(jsonb),
  kiln_api.list_projects(),
  -- helpers the above call with the caller's rights
  kiln_api.raise_error(integer, text, text, text),
  kiln_api.expect_type(jsonb, text, text),
  kiln_api.expect_keys(jsonb, text[], text),
  kiln_api.has_permission(text),
  kiln_api.current_user_id(),
  kiln_api.require_tenant(),
  kiln_api.in_session_tenant(uuid),
  kiln_api.actor(),
  kiln_api.lock_build(uuid),
  kiln_api.transition_build(uuid, kiln.build_status, text, text, uuid, jsonb, timestamptz),
  kiln_api.build_json(uuid),
  kiln_api.project_json(kiln.projects),
  kiln_api.validate_spec(jsonb),
  kiln_api.validate_requirements(jsonb, text),
  kiln_api.merge_requirements(kiln.projects, jsonb),
  kiln_api.validate_params(kiln.build_method, jsonb)
  to kiln_web;

-- Build nodes (admin routes) and the agent's calls (node token; SECURITY DEFINER).
grant execute on function
  kiln_api.setting(text),
  kiln_api.build_node_json(kiln.build_nodes, timestamptz),
  kiln_api.validate_node_declaration(jsonb),
  kiln_api.register_build_node(jsonb, bytea),
  kiln_api.list_build_nodes(),
  kiln_api.set_build_node_status(uuid, text, jsonb),
  kiln_api.agent_claim(bytea, jsonb, timestamptz),
  kiln_api.agent_renew(bytea, uuid, bigint, timestamptz),
  kiln_api.agent_append_log(bytea, uuid, bigint, bigint, text),
  kiln_api.agent_finish(bytea, uuid, bigint, jsonb, timestamptz),
  kiln_api.get_build_log(uuid, bigint, integer)
  to kiln_web;
