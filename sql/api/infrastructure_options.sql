-- What a user may pick (the seed's "available infrastructure configured by admins,
-- read-only"), and the checks on an infrastructure choice in a build config.

-- kubernetes_available: whether the tenant has an enabled, healthy Kubernetes provider
-- (its own or a shared one) with at least one enabled node pool: the condition for offering
-- `kubernetes` as a pick.
create function kiln_api.kubernetes_available(p_tenant uuid) returns boolean
  language sql stable as $$
  select exists (select from kiln.providers p
                  where (p.tenant_id is null or p.tenant_id = p_tenant) and p.enabled and p.health = 'healthy'
                    and exists (select from kiln.node_pools np where np.provider_id = p.id
                                   and coalesce((to_jsonb(np) ->> 'enabled')::boolean, true)))
$$;

-- infrastructure_options: the options view of GET /api/v1/infrastructure/options for the
-- current tenant:
--   types        auto, kubernetes, build_nodes, each with `available` (kubernetes: see
--                kubernetes_available; build nodes are always available: a build waits
--                for a node that can run it)
--   providers    enabled providers by display name with type, health, capabilities (the
--                capability table's flags and arch) and node pools (name, capabilities, arch)
--   build_nodes  label sets of the active build nodes with how many are online
--   can_select / can_force  whether the caller may pick (infrastructure:select) or force
--                (infrastructure:manage)
-- Never endpoints (api_server), credentials, health details (which may quote either) or
-- node names. Caller: GET /api/v1/infrastructure/options (infrastructure:view).
create function kiln_api.infrastructure_options(p_now timestamptz default null) returns jsonb
  language sql stable as $$
  with t as (select kiln_api.require_tenant() as tenant_id),
  providers as (
    select p.* from kiln.providers p, t where p.enabled and (p.tenant_id is null or p.tenant_id = t.tenant_id)),
  nodes as (
    select n.labels, n.capabilities,
           coalesce(n.last_heartbeat_at > coalesce(p_now, now()) - make_interval(
             secs => kiln_api.setting('node_offline_after_seconds')::double precision), false) as online
      from kiln.build_nodes n, t
     where n.status = 'active' and (n.tenant_id is null or n.tenant_id = t.tenant_id))
  select jsonb_build_object(
    'types', jsonb_build_array(
      jsonb_build_object('type', 'auto', 'name', 'Auto', 'available', true,
        'description', 'Kiln picks from the build''s method and requirements (recommended)'),
      jsonb_build_object('type', 'kubernetes', 'name', 'Kubernetes',
        'available', kiln_api.kubernetes_available(t.tenant_id),
        'description', 'Tekton pipelines on a Kubernetes cluster an admin configured'),
      jsonb_build_object('type', 'build_nodes', 'name', 'Build nodes', 'available', true,
        'online_nodes', (select count(*) from nodes where online),
        'description', 'self-hosted build nodes, for air-gapped, legacy and special-hardware builds')),
    'providers', (select coalesce(jsonb_agg(jsonb_build_object(
        'id', p.id, 'display_name', p.display_name, 'provider_type', p.provider_type,
        'shared', p.tenant_id is null, 'health', p.health, 'health_checked_at', p.health_checked_at,
        'capabilities', (select coalesce(jsonb_object_agg(k, v), '{}') from jsonb_each(p.capabilities) c (k, v)
                          where k in (select capability from kiln.infrastructure_capabilities)
                            and jsonb_typeof(v) = 'boolean'),
        'node_pools', (select coalesce(jsonb_agg(jsonb_build_object(
                          'name', np.name,
                          'capabilities', (select coalesce(jsonb_agg(c order by c), '[]')
                                             from unnest(np.capabilities) c
                                            where c in ('gpu', 'high_memory', 'airgapped', 'legacy_system')),
                          'arch', to_jsonb(kiln_api.pool_arch(jsonb_build_object(
                                    'capabilities', to_jsonb(np.capabilities), 'labels', np.labels))),
                          'custom_hardware', np.labels ->> 'custom_hardware') order by np.name), '[]')
                         from kiln.node_pools np
                        where np.provider_id = p.id and coalesce((to_jsonb(np) ->> 'enabled')::boolean, true)))
        order by p.display_name, p.id), '[]') from providers p),
    'build_nodes', (select coalesce(jsonb_agg(jsonb_build_object('labels', s.labels,
                      'capabilities', s.capabilities, 'nodes', s.nodes, 'online', s.online)
                      order by s.labels::text, s.capabilities::text), '[]')
                      from (select labels, capabilities, count(*) as nodes, count(*) filter (where online) as online
                              from nodes group by labels, capabilities) s),
    'can_select', kiln_api.has_permission('infrastructure:select'),
    'can_force', kiln_api.has_permission('infrastructure:manage'))
  from t
$$;

-- parse_infrastructure_choice: infrastructure_type and force_infrastructure of a build
-- config, checked in this order: types and values (QC400); forcing needs
-- infrastructure:manage (QC403 naming force_infrastructure) and a type other than auto;
-- picking needs build:create:with-infra and infrastructure:select (QC403 naming
-- infrastructure_type) and must be among the options infrastructure_options shows
-- (QC400 naming infrastructure_type). An admin override skips the last check: it is
-- honoured as given. Returns {infrastructure_type, force_infrastructure}.
-- Caller: submit_build, recommend_infrastructure.
create function kiln_api.parse_infrastructure_choice(p_body jsonb, p_tenant uuid) returns jsonb
  language plpgsql stable as $$
declare
  v_infra text := 'auto';
  v_force boolean := false;
begin
  if p_body ? 'infrastructure_type' then
    perform kiln_api.expect_type(p_body -> 'infrastructure_type', 'string', 'infrastructure_type');
    if not (p_body ->> 'infrastructure_type') = any (enum_range(null::kiln.infrastructure_type)::text[]) then
      perform kiln_api.raise_error(400, 'invalid_value',
        format('infrastructure_type %s is not one of auto, kubernetes, build_nodes',
               p_body ->> 'infrastructure_type'), 'infrastructure_type');
    end if;
    v_infra := p_body ->> 'infrastructure_type';
  end if;
  if p_body ? 'force_infrastructure' then
    perform kiln_api.expect_type(p_body -> 'force_infrastructure', 'boolean', 'force_infrastructure');
    v_force := (p_body ->> 'force_infrastructure')::boolean;
  end if;
  if v_force and not kiln_api.has_permission('infrastructure:manage') then
    perform kiln_api.raise_error(403, 'forbidden',
      'force_infrastructure needs the infrastructure:manage permission', 'force_infrastructure');
  end if;
  if v_force and v_infra = 'auto' then
    perform kiln_api.raise_error(400, 'invalid_value',
      'force_infrastructure needs infrastructure_type kubernetes or build_nodes', 'force_infrastructure');
  end if;
  if v_infra <> 'auto' and not kiln_api.has_permission('build:create:with-infra') then
    perform kiln_api.raise_error(403, 'forbidden',
      'choosing an infrastructure_type needs the build:create:with-infra permission', 'infrastructure_type');
  end if;
  if v_infra <> 'auto' and not v_force then
    if not kiln_api.has_permission('infrastructure:select') then
      perform kiln_api.raise_error(403, 'forbidden',
        'picking an infrastructure_type needs the infrastructure:select permission', 'infrastructure_type');
    end if;
    if v_infra = 'kubernetes' and not kiln_api.kubernetes_available(p_tenant) then
      perform kiln_api.raise_error(400, 'invalid_value',
        'infrastructure_type kubernetes is not available: no enabled, healthy Kubernetes provider with a node pool; '
        || 'pick one of the available options (GET /api/v1/infrastructure/options) or auto', 'infrastructure_type');
    end if;
  end if;
  return jsonb_build_object('infrastructure_type', v_infra, 'force_infrastructure', v_force);
end $$;

grant execute on function
  kiln_api.kubernetes_available(uuid),
  kiln_api.infrastructure_options(timestamptz),
  kiln_api.parse_infrastructure_choice(jsonb, uuid)
  to kiln_web;
