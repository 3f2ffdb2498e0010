-- Build nodes, as admins see and change them. Callers: /api/v1/admin/build-nodes routes
-- (permissions checked by the route: configure to register, monitor to list, manage to
-- drain/resume/deprecate). Every change writes an audit row. Nodes registered by a tenant's
-- admin run only that tenant's builds; nodes with tenant_id null (inserted by a DBA) are shared.

-- build_node_json: a node without its token hashes, with online/offline from heartbeat age
-- and when its token (credential) expires, and the previous one while it is still valid.
create function kiln_api.build_node_json(n kiln.build_nodes, p_now timestamptz default null)
  returns jsonb language sql stable as $$
  select jsonb_build_object(
    'id', n.id, 'name', n.name, 'shared', n.tenant_id is null, 'status', n.status,
    'online', n.last_heartbeat_at is not null and n.last_heartbeat_at >
              coalesce(p_now, now()) - make_interval(secs => kiln_api.setting('node_offline_after_seconds')::double precision),
    'last_heartbeat_at', n.last_heartbeat_at, 'labels', n.labels, 'capabilities', n.capabilities,
    'capacity', n.capacity, 'concurrency', n.concurrency, 'agent_version', n.agent_version,
    'deprecated_at', n.deprecated_at, 'credential_expires_at', n.token_expires_at,
    'previous_credential_expires_at', case when n.previous_token_expires_at > coalesce(p_now, now())
                                           then n.previous_token_expires_at end,
    'running', (select count(*) from kiln.build_executions e
                 where e.build_node_id = n.id and e.status in ('dispatching', 'running')),
    'cost_per_cpu_hour', n.cost_per_cpu_hour, 'cost_per_gib_hour', n.cost_per_gib_hour,
    'cost_per_gpu_hour', n.cost_per_gpu_hour, 'created_at', n.created_at)
$$;

-- validate_node_declaration: labels (strings), capabilities (booleans), capacity, concurrency.
create function kiln_api.validate_node_declaration(p_body jsonb) returns void
  language plpgsql stable as $$
declare
  v_key text;
begin
  if p_body ? 'labels' then
    perform kiln_api.expect_type(p_body -> 'labels', 'object', 'labels');
    select k into v_key from jsonb_each(p_body -> 'labels') e (k, v)
     where jsonb_typeof(v) <> 'string' or k !~ '^[a-z0-9_./-]{1,63}$' or length(v #>> '{}') > 200 limit 1;
    if v_key is not null then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('labels.%s must be a string of at most 200 characters with a name of a-z 0-9 _ . / -', v_key),
        'labels.' || v_key);
    end if;
  end if;
  if p_body ? 'capabilities' then
    perform kiln_api.expect_type(p_body -> 'capabilities', 'object', 'capabilities');
    perform kiln_api.expect_keys(p_body -> 'capabilities',
      array['gpu', 'high_memory', 'airgapped', 'legacy_system'], 'capabilities.');
    select k into v_key from jsonb_each(p_body -> 'capabilities') e (k, v) where jsonb_typeof(v) <> 'boolean' limit 1;
    if v_key is not null then
      perform kiln_api.expect_type(p_body -> 'capabilities' -> v_key, 'boolean', 'capabilities.' || v_key);
    end if;
  end if;
  if p_body ? 'capacity' then
    perform kiln_api.expect_type(p_body -> 'capacity', 'object', 'capacity');
    perform kiln_api.expect_keys(p_body -> 'capacity', array['cpu', 'memory_gb', 'disk_gb'], 'capacity.');
    select k into v_key from jsonb_each(p_body -> 'capacity') e (k, v)
     where jsonb_typeof(v) <> 'number' or (v #>> '{}')::numeric <= 0 limit 1;
    if v_key is not null then
      perform kiln_api.raise_error(400, 'invalid_value', format('capacity.%s must be a positive number', v_key),
                                   'capacity.' || v_key);
    end if;
  end if;
  if p_body ? 'concurrency' then
    perform kiln_api.expect_type(p_body -> 'concurrency', 'integer', 'concurrency');
    if (p_body ->> 'concurrency')::numeric not between 1 and 256 then
      perform kiln_api.raise_error(400, 'invalid_value', 'concurrency must be between 1 and 256', 'concurrency');
    end if;
  end if;
end $$;

-- register_build_node: creates a node of the current tenant and stores its token's hash;
-- the token expires node_token_days later (rotate_node_token renews it).
-- Errors: QC400 (shape), QC409 (name taken).
create function kiln_api.register_build_node(p_body jsonb, p_token_sha256 bytea) returns jsonb
  language plpgsql as $$
declare
  v_tenant uuid := kiln_api.require_tenant();
  v_node kiln.build_nodes;
  v_key text;
begin
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['name', 'labels', 'capabilities', 'capacity', 'concurrency',
    'cost_per_cpu_hour', 'cost_per_gib_hour', 'cost_per_gpu_hour'], '');
  if not p_body ? 'name' then
    perform kiln_api.raise_error(400, 'missing_field', 'name is required', 'name');
  end if;
  perform kiln_api.expect_type(p_body -> 'name', 'string', 'name');
  if (p_body ->> 'name') !~ '^[a-z0-9][a-z0-9.-]{0,62}$' then
    perform kiln_api.raise_error(400, 'invalid_value',
      'name must be 1-63 characters of a-z 0-9 . - starting with a letter or digit', 'name');
  end if;
  perform kiln_api.validate_node_declaration(p_body);
  foreach v_key in array array['cost_per_cpu_hour', 'cost_per_gib_hour', 'cost_per_gpu_hour'] loop
    if p_body ? v_key then
      perform kiln_api.expect_type(p_body -> v_key, 'number', v_key);
      if (p_body ->> v_key)::numeric < 0 or (p_body ->> v_key)::numeric > 1000 then
        perform kiln_api.raise_error(400, 'invalid_value', format('%s must be between 0 and 1000', v_key), v_key);
      end if;
    end if;
  end loop;
  begin
    insert into kiln.build_nodes (tenant_id, name, labels, capabilities, capacity, concurrency,
        token_sha256, token_expires_at, cost_per_cpu_hour, cost_per_gib_hour, cost_per_gpu_hour)
      values (v_tenant, p_body ->> 'name', coalesce(p_body -> 'labels', '{}'),
              coalesce(p_body -> 'capabilities', '{}'), coalesce(p_body -> 'capacity', '{}'),
              coalesce((p_body ->> 'concurrency')::numeric::integer, 1), p_token_sha256,
              now() + make_interval(days => kiln_api.setting('node_token_days')::integer),
              coalesce((p_body ->> 'cost_per_cpu_hour')::numeric, 0),
              coalesce((p_body ->> 'cost_per_gib_hour')::numeric, 0),
              coalesce((p_body ->> 'cost_per_gpu_hour')::numeric, 0))
      returning * into v_node;
  exception when unique_violation then
    perform kiln_api.raise_error(409, 'conflict',
      format('a build node named %s already exists', p_body ->> 'name'), 'name');
  end;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_tenant, kiln_api.current_user_id(), 'build_node.register', 'build_node', v_node.id::text,
            jsonb_build_object('name', v_node.name));
  return kiln_api.build_node_json(v_node);
end $$;

create function kiln_api.list_build_nodes() returns jsonb
  language sql stable as $$
  select jsonb_build_object('items', coalesce(jsonb_agg(kiln_api.build_node_json(n) order by n.name), '[]'))
    from kiln.build_nodes n where kiln_api.in_session_tenant(n.tenant_id) or n.tenant_id is null
$$;

-- set_build_node_status: drain (finish running work, claim nothing new), resume, or
-- deprecate (drain, with the date it is to be removed). Errors: QC400, QC404.
create function kiln_api.set_build_node_status(p_node_id uuid, p_action text, p_body jsonb default '{}')
  returns jsonb language plpgsql as $$
declare
  v_node kiln.build_nodes;
  v_date timestamptz;
begin
  select * into v_node from kiln.build_nodes
   where id = p_node_id and kiln_api.in_session_tenant(tenant_id)  -- shared nodes: DBA only
   for update;
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('build node %s not found', p_node_id), 'id');
  end if;
  p_body := coalesce(nullif(p_body, 'null'::jsonb), '{}');
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, case when p_action = 'deprecate' then array['deprecated_at'] else array[]::text[] end, '');
  if p_action = 'deprecate' then
    if p_body ? 'deprecated_at' then
      perform kiln_api.expect_type(p_body -> 'deprecated_at', 'string', 'deprecated_at');
      begin
        v_date := (p_body ->> 'deprecated_at')::timestamptz;
      exception when others then
        perform kiln_api.raise_error(400, 'invalid_value',
          'deprecated_at must be a date or timestamp (2027-01-31 or 2027-01-31T00:00:00Z)', 'deprecated_at');
      end;
    end if;
    update kiln.build_nodes set status = 'deprecated', deprecated_at = coalesce(v_date, now()), updated_at = now()
     where id = p_node_id returning * into v_node;
  elsif p_action = 'drain' then
    update kiln.build_nodes set status = 'draining', updated_at = now() where id = p_node_id returning * into v_node;
  elsif p_action = 'resume' then
    update kiln.build_nodes set status = 'active', deprecated_at = null, updated_at = now()
     where id = p_node_id returning * into v_node;
  else
    perform kiln_api.raise_error(400, 'invalid_value', format('unknown node action %s', p_action), 'action');
  end if;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_node.tenant_id, kiln_api.current_user_id(), 'build_node.' || p_action, 'build_node',
            v_node.id::text, jsonb_build_object('name', v_node.name, 'deprecated_at', v_node.deprecated_at));
  return kiln_api.build_node_json(v_node);
end $$;

-- rotate_node_token: body {grace_seconds?: 0..86400, default 3600}. The node gets a new
-- token (its hash here; kiln-api shows the token once) valid for node_token_days; the
-- current one keeps working for the grace (never past its own expiry), so the agent can
-- be given the new token without downtime. A token that was already the previous one is
-- dropped. Writes an audit row. Errors: QC400, QC404 (not the tenant's node; shared nodes
-- are rotated by a DBA).
create function kiln_api.rotate_node_token(p_node_id uuid, p_body jsonb, p_token_sha256 bytea,
                                           p_now timestamptz default null)
  returns jsonb language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_node kiln.build_nodes;
  v_grace integer;
  v_previous_expires timestamptz;
begin
  select * into v_node from kiln.build_nodes
   where id = p_node_id and kiln_api.in_session_tenant(tenant_id) for update;
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('build node %s not found', p_node_id), 'id');
  end if;
  v_grace := kiln_api.rotation_grace(p_body);
  v_previous_expires := least(coalesce(v_node.token_expires_at, 'infinity'), v_now + make_interval(secs => v_grace));
  if v_node.token_sha256 is null or v_previous_expires <= v_now then
    v_previous_expires := null;
  end if;
  update kiln.build_nodes set
      previous_token_sha256 = case when v_previous_expires is not null then token_sha256 end,
      previous_token_expires_at = v_previous_expires,
      token_sha256 = p_token_sha256,
      token_expires_at = v_now + make_interval(days => kiln_api.setting('node_token_days')::integer),
      updated_at = v_now
   where id = p_node_id returning * into v_node;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_node.tenant_id, kiln_api.current_user_id(), 'build_node.rotate_token', 'build_node', v_node.id::text,
            jsonb_build_object('name', v_node.name, 'expires_at', v_node.token_expires_at,
                               'previous_token_expires_at', v_previous_expires));
  return jsonb_build_object('id', v_node.id, 'name', v_node.name, 'expires_at', v_node.token_expires_at,
                            'previous_token_expires_at', v_previous_expires);
end $$;

grant execute on function kiln_api.rotate_node_token(uuid, jsonb, bytea, timestamptz) to kiln_web;
