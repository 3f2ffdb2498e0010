-- Kubernetes providers and their node pools, as admins see and change them.
-- Callers: /api/v1/admin/providers routes (handlers/providers.cpp), which parse and encrypt
-- the kubeconfig in C++ and pass only the ciphertext, its key id and fingerprint here: no
-- function in this file ever sees or returns a credential. Permissions are checked by the
-- route and again here (infrastructure:configure adds, :manage changes and deletes,
-- :monitor reads). A tenant's admin manages the tenant's own providers; shared providers
-- (tenant_id null) are created by a DBA and read-only through the API. Every change writes
-- an audit row. Errors: QC400 naming the field, QC403, QC404, QC409.

-- provider_json: what the API shows of a provider: never the credentials, only whether
-- they are configured, their kind, fingerprint and master key id.
create function kiln_api.provider_json(p kiln.providers) returns jsonb
  language sql stable as $$
  select jsonb_build_object(
    'id', p.id, 'name', p.name, 'display_name', p.display_name, 'description', p.description,
    'provider_type', p.provider_type, 'api_server', p.api_server,
    'shared', p.tenant_id is null, 'enabled', p.enabled, 'capabilities', p.capabilities,
    'namespace', p.namespace, 'namespace_prefix', p.namespace_prefix,
    'kubeconfig_context', p.kubeconfig_context,
    'credentials', jsonb_build_object(
      'configured', p.credentials_ciphertext is not null, 'kind', p.credentials_kind,
      'fingerprint', p.credentials_fingerprint, 'key_id', p.credentials_key_id,
      'updated_at', p.credentials_updated_at),
    'health', jsonb_build_object('status', p.health, 'checked_at', p.health_checked_at,
                                 'checks', coalesce(p.health_detail -> 'checks', '[]'),
                                 'sync', p.health_detail -> 'sync'),
    'node_pools', (select coalesce(jsonb_agg(kiln_api.node_pool_json(np) order by np.name), '[]')
                     from kiln.node_pools np where np.provider_id = p.id),
    'running', (select count(*) from kiln.build_executions e
                 where e.provider_id = p.id and e.status in ('dispatching', 'running')),
    'created_at', p.created_at, 'updated_at', p.updated_at)
$$;

create function kiln_api.node_pool_json(np kiln.node_pools) returns jsonb
  language sql stable as $$
  select jsonb_build_object('id', np.id, 'name', np.name, 'enabled', np.enabled, 'labels', np.labels,
    'taints', np.taints, 'capacity', np.capacity, 'capabilities', to_jsonb(np.capabilities),
    'cost_per_cpu_hour', np.cost_per_cpu_hour, 'cost_per_gib_hour', np.cost_per_gib_hour,
    'cost_per_gpu_hour', np.cost_per_gpu_hour)
$$;

-- require_permission: QC403 unless the request holds p_permission.
create function kiln_api.require_permission(p_permission text) returns void
  language plpgsql stable as $$
begin
  if not kiln_api.has_permission(p_permission) then
    perform kiln_api.raise_error(403, 'forbidden', format('this needs the %s permission', p_permission));
  end if;
end $$;

-- validate_node_pool: one entry of node_pools (p_at names it, e.g. node_pools[0]).
create function kiln_api.validate_node_pool(p_pool jsonb, p_at text) returns void
  language plpgsql stable as $$
declare
  v_key text;
  v_item jsonb;
  v_i integer := 0;
begin
  perform kiln_api.expect_type(p_pool, 'object', p_at);
  perform kiln_api.expect_keys(p_pool, array['name', 'enabled', 'labels', 'taints', 'capacity', 'capabilities',
    'cost_per_cpu_hour', 'cost_per_gib_hour', 'cost_per_gpu_hour'], p_at || '.');
  if not p_pool ? 'name' then
    perform kiln_api.raise_error(400, 'missing_field', p_at || '.name is required', p_at || '.name');
  end if;
  perform kiln_api.expect_type(p_pool -> 'name', 'string', p_at || '.name');
  if p_pool ->> 'name' !~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' then
    perform kiln_api.raise_error(400, 'invalid_value',
      p_at || '.name must be a DNS label (a-z 0-9 -, at most 63)', p_at || '.name');
  end if;
  if p_pool ? 'enabled' then
    perform kiln_api.expect_type(p_pool -> 'enabled', 'boolean', p_at || '.enabled');
  end if;
  if p_pool ? 'labels' then
    -- Kubernetes label syntax: [prefix/]name = value; they become the run's nodeSelector.
    perform kiln_api.expect_type(p_pool -> 'labels', 'object', p_at || '.labels');
    select k into v_key from jsonb_each(p_pool -> 'labels') e (k, v)
     where jsonb_typeof(v) <> 'string'
        or k !~ '^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'
        or v #>> '{}' !~ '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$'
     order by k limit 1;
    if v_key is not null then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('%s.labels.%s is not a Kubernetes label (key [prefix/]name, value of at most 63 a-z A-Z 0-9 - _ .)',
               p_at, v_key), p_at || '.labels.' || v_key);
    end if;
  end if;
  if p_pool ? 'taints' then
    perform kiln_api.expect_type(p_pool -> 'taints', 'array', p_at || '.taints');
    for v_item in select t from jsonb_array_elements(p_pool -> 'taints') t loop
      if not ((jsonb_typeof(v_item) = 'string'
               and v_item #>> '{}' ~ '^[A-Za-z0-9][-A-Za-z0-9_./]{0,252}(=[-A-Za-z0-9_.]{0,63})?:(NoSchedule|PreferNoSchedule|NoExecute)$')
              or (jsonb_typeof(v_item) = 'object' and v_item ? 'key'
                  and not exists (select from jsonb_object_keys(v_item) k where k not in ('key', 'value', 'effect'))
                  and coalesce(v_item ->> 'effect', 'NoSchedule') in ('NoSchedule', 'PreferNoSchedule', 'NoExecute'))) then
        perform kiln_api.raise_error(400, 'invalid_value',
          format('%s.taints[%s] must be "key[=value]:Effect" or {key, value, effect} with effect NoSchedule, PreferNoSchedule or NoExecute',
                 p_at, v_i), format('%s.taints[%s]', p_at, v_i));
      end if;
      v_i := v_i + 1;
    end loop;
  end if;
  if p_pool ? 'capacity' then
    perform kiln_api.expect_type(p_pool -> 'capacity', 'object', p_at || '.capacity');
    perform kiln_api.expect_keys(p_pool -> 'capacity', array['cpu', 'memory_gb', 'gpu', 'nodes', 'max_builds'],
                                 p_at || '.capacity.');
    select k into v_key from jsonb_each(p_pool -> 'capacity') e (k, v)
     where jsonb_typeof(v) <> 'number' or (v #>> '{}')::numeric < 0 order by k limit 1;
    if v_key is not null then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('%s.capacity.%s must be a number of at least 0', p_at, v_key), p_at || '.capacity.' || v_key);
    end if;
  end if;
  if p_pool ? 'capabilities' then
    perform kiln_api.expect_type(p_pool -> 'capabilities', 'array', p_at || '.capabilities');
    select c #>> '{}' into v_key from jsonb_array_elements(p_pool -> 'capabilities') c
     where jsonb_typeof(c) <> 'string' or c #>> '{}' not in ('gpu', 'high_memory', 'amd64', 'arm64', 'ppc64le',
       's390x', 'riscv64', 'docker', 'buildx', 'packer', 'nix', 'paketo', 'script') limit 1;
    if found then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('%s.capabilities holds %s; allowed: gpu, high_memory, an architecture (amd64, arm64, ppc64le, s390x, riscv64) or a build method',
               p_at, coalesce(v_key, 'a non-string')), p_at || '.capabilities');
    end if;
  end if;
  foreach v_key in array array['cost_per_cpu_hour', 'cost_per_gib_hour', 'cost_per_gpu_hour'] loop
    if p_pool ? v_key then
      perform kiln_api.expect_type(p_pool -> v_key, 'number', p_at || '.' || v_key);
      if (p_pool ->> v_key)::numeric not between 0 and 1000 then
        perform kiln_api.raise_error(400, 'invalid_value', format('%s.%s must be between 0 and 1000', p_at, v_key),
                                     p_at || '.' || v_key);
      end if;
    end if;
  end loop;
end $$;

-- validate_provider: the fields of a create (p_create) or update body. The kubeconfig never
-- arrives here; the route has replaced it by the encrypted credentials.
create function kiln_api.validate_provider(p_body jsonb, p_create boolean) returns void
  language plpgsql stable as $$
declare
  v_key text;
  v_i integer := 0;
  v_pool jsonb;
begin
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['name', 'display_name', 'description', 'provider_type', 'capabilities',
    'enabled', 'namespace', 'namespace_prefix', 'node_pools'], '');
  if p_create then
    foreach v_key in array array['name', 'provider_type'] loop
      if not p_body ? v_key then
        perform kiln_api.raise_error(400, 'missing_field', v_key || ' is required', v_key);
      end if;
    end loop;
  elsif p_body ? 'name' then
    perform kiln_api.raise_error(400, 'invalid_value', 'a provider''s name cannot change', 'name');
  end if;
  if p_body ? 'name' then
    perform kiln_api.expect_type(p_body -> 'name', 'string', 'name');
    if p_body ->> 'name' !~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' then
      perform kiln_api.raise_error(400, 'invalid_value', 'name must be a DNS label (a-z 0-9 -, at most 63)', 'name');
    end if;
  end if;
  foreach v_key in array array['display_name', 'description'] loop
    if p_body ? v_key then
      perform kiln_api.expect_type(p_body -> v_key, 'string', v_key);
      if length(p_body ->> v_key) > (case v_key when 'display_name' then 200 else 2000 end) then
        perform kiln_api.raise_error(400, 'invalid_value', format('%s is too long', v_key), v_key);
      end if;
    end if;
  end loop;
  if p_body ? 'provider_type' then
    perform kiln_api.expect_type(p_body -> 'provider_type', 'string', 'provider_type');
    if not p_body ->> 'provider_type' = any (enum_range(null::kiln.provider_type)::text[]) then
      perform kiln_api.raise_error(400, 'invalid_value',
        'provider_type must be one of eks, gke, aks, oke, vks, openshift, rancher, kubernetes', 'provider_type');
    end if;
  end if;
  if p_body ? 'capabilities' then
    perform kiln_api.expect_type(p_body -> 'capabilities', 'object', 'capabilities');
    perform kiln_api.expect_keys(p_body -> 'capabilities',
      array['gpu', 'high_memory', 'arm64', 'airgapped', 'legacy_system'], 'capabilities.');
    select k into v_key from jsonb_each(p_body -> 'capabilities') e (k, v) where jsonb_typeof(v) <> 'boolean' limit 1;
    if v_key is not null then
      perform kiln_api.expect_type(p_body -> 'capabilities' -> v_key, 'boolean', 'capabilities.' || v_key);
    end if;
  end if;
  if p_body ? 'enabled' then
    perform kiln_api.expect_type(p_body -> 'enabled', 'boolean', 'enabled');
  end if;
  if p_body ? 'namespace' and p_body -> 'namespace' <> 'null'::jsonb then
    perform kiln_api.expect_type(p_body -> 'namespace', 'string', 'namespace');
    if p_body ->> 'namespace' !~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' then
      perform kiln_api.raise_error(400, 'invalid_value', 'namespace must be a DNS label (a-z 0-9 -, at most 63)',
                                   'namespace');
    end if;
  end if;
  if p_body ? 'namespace_prefix' then
    perform kiln_api.expect_type(p_body -> 'namespace_prefix', 'string', 'namespace_prefix');
    if p_body ->> 'namespace_prefix' !~ '^[a-z0-9][-a-z0-9]{0,30}$' then
      perform kiln_api.raise_error(400, 'invalid_value',
        'namespace_prefix must be 1-31 characters of a-z 0-9 - (the tenant''s name is appended)', 'namespace_prefix');
    end if;
  end if;
  if p_body ? 'node_pools' then
    perform kiln_api.expect_type(p_body -> 'node_pools', 'array', 'node_pools');
    for v_pool in select p from jsonb_array_elements(p_body -> 'node_pools') p loop
      perform kiln_api.validate_node_pool(v_pool, format('node_pools[%s]', v_i));
      v_i := v_i + 1;
    end loop;
    select n into v_key from (select p ->> 'name' n from jsonb_array_elements(p_body -> 'node_pools') p) s
     group by n having count(*) > 1 limit 1;
    if v_key is not null then
      perform kiln_api.raise_error(400, 'invalid_value', format('node pool %s is listed twice', v_key), 'node_pools');
    end if;
  end if;
end $$;

-- set_node_pools: makes the provider's pools exactly p_pools (matched by name: updated,
-- added, the others removed).
create function kiln_api.set_node_pools(p_provider_id uuid, p_pools jsonb) returns void
  language plpgsql as $$
begin
  delete from kiln.node_pools np where np.provider_id = p_provider_id
     and np.name not in (select p ->> 'name' from jsonb_array_elements(p_pools) p);
  insert into kiln.node_pools (provider_id, name, enabled, labels, taints, capacity, capabilities,
                               cost_per_cpu_hour, cost_per_gib_hour, cost_per_gpu_hour)
  select p_provider_id, p ->> 'name', coalesce((p ->> 'enabled')::boolean, true), coalesce(p -> 'labels', '{}'),
         coalesce(p -> 'taints', '[]'), coalesce(p -> 'capacity', '{}'),
         coalesce(array(select jsonb_array_elements_text(p -> 'capabilities')), '{}'),
         coalesce((p ->> 'cost_per_cpu_hour')::numeric, 0), coalesce((p ->> 'cost_per_gib_hour')::numeric, 0),
         coalesce((p ->> 'cost_per_gpu_hour')::numeric, 0)
    from jsonb_array_elements(p_pools) p
  on conflict (provider_id, name) do update set
    enabled = excluded.enabled, labels = excluded.labels, taints = excluded.taints, capacity = excluded.capacity,
    capabilities = excluded.capabilities, cost_per_cpu_hour = excluded.cost_per_cpu_hour,
    cost_per_gib_hour = excluded.cost_per_gib_hour, cost_per_gpu_hour = excluded.cost_per_gpu_hour,
    updated_at = now();
end $$;

-- create_provider: a provider of the current tenant. p_credentials is what the route read
-- from the kubeconfig that may be shown ({api_server, kind, context}); p_ciphertext is the
-- encrypted credentials, sealed for p_id (the route chose the id to bind the ciphertext).
create function kiln_api.create_provider(p_id uuid, p_body jsonb, p_credentials jsonb, p_ciphertext bytea,
                                         p_key_id text, p_fingerprint text)
  returns jsonb language plpgsql as $$
declare
  v_tenant uuid := kiln_api.require_tenant();
  v_provider kiln.providers;
begin
  perform kiln_api.require_permission('infrastructure:configure');
  perform kiln_api.validate_provider(p_body, true);
  if p_ciphertext is null or p_credentials ->> 'api_server' is null then
    perform kiln_api.raise_error(400, 'missing_field', 'kubeconfig is required', 'kubeconfig');
  end if;
  begin
    insert into kiln.providers (id, tenant_id, name, display_name, description, provider_type, api_server,
        capabilities, enabled, namespace, namespace_prefix, kubeconfig_context, credentials_kind,
        credentials_ciphertext, credentials_key_id, credentials_fingerprint, credentials_updated_at, created_by)
      values (p_id, v_tenant, p_body ->> 'name', coalesce(p_body ->> 'display_name', p_body ->> 'name'),
              coalesce(p_body ->> 'description', ''), (p_body ->> 'provider_type')::kiln.provider_type,
              p_credentials ->> 'api_server', coalesce(p_body -> 'capabilities', '{}'),
              coalesce((p_body ->> 'enabled')::boolean, true), p_body ->> 'namespace',
              coalesce(p_body ->> 'namespace_prefix', 'kiln-'), p_credentials ->> 'context',
              p_credentials ->> 'kind', p_ciphertext, p_key_id, p_fingerprint, now(), kiln_api.current_user_id())
      returning * into v_provider;
  exception when unique_violation then
    perform kiln_api.raise_error(409, 'conflict', format('a provider named %s already exists', p_body ->> 'name'),
                                 'name');
  end;
  perform kiln_api.set_node_pools(v_provider.id, coalesce(p_body -> 'node_pools', '[]'));
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_tenant, kiln_api.current_user_id(), 'provider.create', 'provider', v_provider.id::text,
            jsonb_build_object('name', v_provider.name, 'provider_type', v_provider.provider_type,
                               'api_server', v_provider.api_server, 'credentials_kind', v_provider.credentials_kind,
                               'credentials_fingerprint', p_fingerprint, 'key_id', p_key_id));
  return kiln_api.provider_json(v_provider);
end $$;

create function kiln_api.list_providers() returns jsonb
  language sql stable as $$
  select jsonb_build_object('items', coalesce(jsonb_agg(kiln_api.provider_json(p) order by p.name), '[]'))
    from kiln.providers p where kiln_api.in_session_tenant(p.tenant_id) or p.tenant_id is null
$$;

-- visible_provider: the provider if the session's tenant may see it; QC404 otherwise.
create function kiln_api.visible_provider(p_id uuid) returns kiln.providers
  language plpgsql stable as $$
declare
  v_provider kiln.providers;
begin
  select * into v_provider from kiln.providers p
   where p.id = p_id and (kiln_api.in_session_tenant(p.tenant_id) or p.tenant_id is null);
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('provider %s not found', p_id), 'id');
  end if;
  return v_provider;
end $$;

create function kiln_api.get_provider(p_id uuid) returns jsonb
  language sql stable as $$ select kiln_api.provider_json(kiln_api.visible_provider(p_id)) $$;

-- own_provider: the provider locked for a change by its tenant; QC403 for a shared one.
create function kiln_api.own_provider(p_id uuid) returns kiln.providers
  language plpgsql as $$
declare
  v_provider kiln.providers := kiln_api.visible_provider(p_id);
begin
  if v_provider.tenant_id is null then
    perform kiln_api.raise_error(403, 'forbidden',
      'shared providers are managed by the platform operator, not through a tenant''s API', 'id');
  end if;
  select * into v_provider from kiln.providers where id = p_id for update;
  return v_provider;
end $$;

-- update_provider: changes the given fields; new credentials (p_ciphertext not null)
-- replace the old ones and reset the provider's health to unknown until it is tested.
create function kiln_api.update_provider(p_id uuid, p_body jsonb, p_credentials jsonb default null,
                                         p_ciphertext bytea default null, p_key_id text default null,
                                         p_fingerprint text default null)
  returns jsonb language plpgsql as $$
declare
  v_provider kiln.providers;
begin
  perform kiln_api.require_permission('infrastructure:manage');
  v_provider := kiln_api.own_provider(p_id);
  perform kiln_api.validate_provider(p_body, false);
  update kiln.providers p set
      display_name = coalesce(p_body ->> 'display_name', p.display_name),
      description = coalesce(p_body ->> 'description', p.description),
      provider_type = coalesce((p_body ->> 'provider_type')::kiln.provider_type, p.provider_type),
      capabilities = coalesce(p_body -> 'capabilities', p.capabilities),
      enabled = coalesce((p_body ->> 'enabled')::boolean, p.enabled),
      namespace = case when p_body ? 'namespace' then p_body ->> 'namespace' else p.namespace end,
      namespace_prefix = coalesce(p_body ->> 'namespace_prefix', p.namespace_prefix),
      api_server = coalesce(p_credentials ->> 'api_server', p.api_server),
      kubeconfig_context = case when p_ciphertext is null then p.kubeconfig_context else p_credentials ->> 'context' end,
      credentials_kind = case when p_ciphertext is null then p.credentials_kind else p_credentials ->> 'kind' end,
      credentials_ciphertext = coalesce(p_ciphertext, p.credentials_ciphertext),
      credentials_key_id = case when p_ciphertext is null then p.credentials_key_id else p_key_id end,
      credentials_fingerprint = case when p_ciphertext is null then p.credentials_fingerprint else p_fingerprint end,
      credentials_updated_at = case when p_ciphertext is null then p.credentials_updated_at else now() end,
      health = case when p_ciphertext is null then p.health else 'unknown' end,
      health_detail = case when p_ciphertext is null then p.health_detail else '{}' end,
      updated_at = now()
   where p.id = p_id
   returning * into v_provider;
  if p_body ? 'node_pools' then
    perform kiln_api.set_node_pools(p_id, p_body -> 'node_pools');
  end if;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_provider.tenant_id, kiln_api.current_user_id(), 'provider.update', 'provider', p_id::text,
            jsonb_build_object('fields', (select coalesce(jsonb_agg(k order by k), '[]') from jsonb_object_keys(p_body) k),
                               'credentials_replaced', p_ciphertext is not null,
                               'credentials_fingerprint', v_provider.credentials_fingerprint));
  return kiln_api.provider_json(v_provider);
end $$;

-- delete_provider: refused while builds run on it (disable it and let them finish).
create function kiln_api.delete_provider(p_id uuid) returns jsonb
  language plpgsql as $$
declare
  v_provider kiln.providers;
  v_running integer;
begin
  perform kiln_api.require_permission('infrastructure:manage');
  v_provider := kiln_api.own_provider(p_id);
  select count(*) into v_running from kiln.build_executions e
   where e.provider_id = p_id and e.status in ('dispatching', 'running');
  if v_running > 0 then
    perform kiln_api.raise_error(409, 'provider_in_use',
      format('provider %s has %s running builds; disable it (enabled: false) and delete it when they are done',
             v_provider.name, v_running), 'id');
  end if;
  delete from kiln.providers where id = p_id;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_provider.tenant_id, kiln_api.current_user_id(), 'provider.delete', 'provider', p_id::text,
            jsonb_build_object('name', v_provider.name));
  return jsonb_build_object('id', p_id, 'deleted', true);
end $$;

-- request_provider_check: asks the dispatchers (NOTIFY kiln_provider_checks) to test the
-- provider: reachability, authentication, Tekton's CRDs, access to the namespace. Only a
-- dispatcher holds the master key, so the answer comes back through provider_check_result.
create function kiln_api.request_provider_check(p_id uuid) returns jsonb
  language plpgsql as $$
declare
  v_provider kiln.providers := kiln_api.visible_provider(p_id);
  v_request uuid := gen_random_uuid();
begin
  perform kiln_api.require_permission('infrastructure:configure');
  if v_provider.tenant_id is null then
    perform kiln_api.raise_error(403, 'forbidden', 'shared providers are tested by the platform operator', 'id');
  end if;
  update kiln.providers set check_request_id = v_request, check_requested_at = now() where id = p_id;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_provider.tenant_id, kiln_api.current_user_id(), 'provider.test', 'provider', p_id::text,
            jsonb_build_object('request_id', v_request));
  perform pg_notify('kiln_provider_checks', p_id::text);
  return jsonb_build_object('provider_id', p_id, 'request_id', v_request);
end $$;

-- provider_check_result: pending until a dispatcher answered request p_request.
create function kiln_api.provider_check_result(p_id uuid, p_request uuid) returns jsonb
  language plpgsql stable as $$
declare
  v_provider kiln.providers := kiln_api.visible_provider(p_id);
begin
  if v_provider.health_detail ->> 'request_id' is distinct from p_request::text then
    return jsonb_build_object('provider_id', p_id, 'request_id', p_request, 'status', 'pending');
  end if;
  return jsonb_build_object('provider_id', p_id, 'request_id', p_request, 'status', 'done',
    'ok', v_provider.health = 'healthy', 'health', v_provider.health, 'checked_at', v_provider.health_checked_at,
    'checks', coalesce(v_provider.health_detail -> 'checks', '[]'));
end $$;

grant execute on function
  kiln_api.provider_json(kiln.providers),
  kiln_api.node_pool_json(kiln.node_pools),
  kiln_api.require_permission(text),
  kiln_api.validate_node_pool(jsonb, text),
  kiln_api.validate_provider(jsonb, boolean),
  kiln_api.set_node_pools(uuid, jsonb),
  kiln_api.create_provider(uuid, jsonb, jsonb, bytea, text, text),
  kiln_api.list_providers(),
  kiln_api.visible_provider(uuid),
  kiln_api.get_provider(uuid),
  kiln_api.own_provider(uuid),
  kiln_api.update_provider(uuid, jsonb, jsonb, bytea, text, text),
  kiln_api.delete_provider(uuid),
  kiln_api.request_provider_check(uuid),
  kiln_api.provider_check_result(uuid, uuid)
  to kiln_web;
