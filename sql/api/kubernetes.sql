-- The Kubernetes back-end of kiln-dispatch (src/dispatch/kubernetes*.cpp): where a
-- planned execution runs (provider, namespace, node pool, template), the credentials it
-- decrypts (one audit row per decryption), recording the PipelineRun it created or adopted,
-- the worklist of runs to sync, their logs, and provider tests and health.
-- Caller: kiln-dispatch only (kiln_system); none of these is granted to kiln_web.
-- Locks: k8s_start_execution and k8s_finish take lock_execution's (build, then execution);
-- k8s_record_logs locks the build row (append_log's rule).

-- k8s_namespace_for: a tenant's namespace on a provider: the provider's own namespace for
-- a tenant's cluster when set, else namespace_prefix || tenant name (a DNS label).
create function kiln_api.k8s_namespace_for(p kiln.providers, p_tenant_name text) returns text
  language sql immutable as $$
  select coalesce(p.namespace, rtrim(left(p.namespace_prefix || p_tenant_name, 63), '-'))
$$;

-- k8s_resolve_target: everything the dispatcher needs to render and create the run of a
-- planned execution. The plan's target ({provider_id, node_pool_id}, also read from
-- plan.decision.target) wins; without one, the tenant's first enabled provider with
-- credentials (its own before shared ones) and that provider's first enabled node pool.
-- Returns {error} when the execution cannot run on Kubernetes (permanent).
create function kiln_api.k8s_resolve_target(p_execution_id uuid, p_plan jsonb) returns jsonb
  language plpgsql stable as $$
declare
  v_exec kiln.build_executions;
  v_build kiln.builds;
  v_cfg kiln.build_configs;
  v_tenant kiln.tenants;
  v_project kiln.projects;
  v_target jsonb := coalesce(p_plan -> 'target', p_plan -> 'decision' -> 'target', '{}');
  v_provider_text text := coalesce(v_target ->> 'provider_id', p_plan ->> 'provider_id');
  v_pool_text text := coalesce(v_target ->> 'node_pool_id', p_plan ->> 'node_pool_id');
  v_uuid constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
  v_provider kiln.providers;
  v_pool kiln.node_pools;
  v_template kiln.pipeline_templates;
begin
  select * into strict v_exec from kiln.build_executions where id = p_execution_id;
  select * into strict v_build from kiln.builds where id = v_exec.build_id;
  select * into strict v_cfg from kiln.build_configs where build_id = v_build.id;
  select * into strict v_tenant from kiln.tenants where id = v_build.tenant_id;
  select * into strict v_project from kiln.projects where id = v_build.project_id;
  if v_provider_text ~ v_uuid then
    select * into v_provider from kiln.providers p
     where p.id = v_provider_text::uuid and (p.tenant_id is null or p.tenant_id = v_build.tenant_id);
  else
    select * into v_provider from kiln.providers p
     where p.enabled and p.credentials_ciphertext is not null
       and (p.tenant_id is null or p.tenant_id = v_build.tenant_id)
     order by p.tenant_id is null, p.created_at, p.name limit 1;
  end if;
  if v_provider.id is null then
    return jsonb_build_object('error',
      'no Kubernetes provider is configured for this tenant; ask an admin to add one or submit with infrastructure_type auto');
  end if;
  if v_provider.credentials_ciphertext is null then
    return jsonb_build_object('error', format('provider %s has no credentials; upload a kubeconfig', v_provider.name));
  end if;
  if v_pool_text ~ v_uuid then
    select * into v_pool from kiln.node_pools where id = v_pool_text::uuid and provider_id = v_provider.id;
  else
    select * into v_pool from kiln.node_pools where provider_id = v_provider.id and enabled
     order by created_at, name limit 1;
  end if;
  select * into v_template from kiln.pipeline_templates where build_method = v_cfg.method
   order by is_default desc, created_at desc limit 1;
  if v_template.id is null then
    return jsonb_build_object('error', format(
      'no pipeline template for %s builds; run kiln migrate (it seeds pipelines/tekton) or add one', v_cfg.method));
  end if;
  return jsonb_build_object(
    'provider', jsonb_build_object('id', v_provider.id, 'name', v_provider.name, 'display_name', v_provider.display_name,
                                   'provider_type', v_provider.provider_type, 'api_server', v_provider.api_server,
                                   'fingerprint', v_provider.credentials_fingerprint),
    'namespace', kiln_api.k8s_namespace_for(v_provider, v_tenant.name),
    'node_pool', case when v_pool.id is null then null else jsonb_build_object(
      'id', v_pool.id, 'name', v_pool.name, 'labels', v_pool.labels, 'taints', v_pool.taints,
      'capacity', v_pool.capacity) end,
    'template', jsonb_build_object('id', v_template.id, 'name', v_template.name, 'version', v_template.version,
                                   'template_yaml', v_template.template_yaml, 'parameters', v_template.parameters),
    'build', jsonb_build_object('id', v_build.id, 'tenant_id', v_build.tenant_id, 'tenant', v_tenant.name,
                                'project', v_project.name, 'method', v_cfg.method, 'params', v_cfg.params,
                                'attempt', v_exec.attempt, 'size_step', v_build.oom_retries));
end $$;

-- k8s_provider_credentials: a provider's sealed credentials, for the dispatcher to decrypt
-- right after this transaction commits. Writes the audit row of that decryption (who, why).
create function kiln_api.k8s_provider_credentials(p_provider_id uuid, p_worker text, p_purpose text)
  returns table (ciphertext bytea, key_id text, fingerprint text, tenant_id uuid, name text)
  language plpgsql as $$
declare
  v_p kiln.providers;
begin
  select * into v_p from kiln.providers p where p.id = p_provider_id;
  if not found or v_p.credentials_ciphertext is null then
    perform kiln_api.raise_error(404, 'not_found', format('provider %s has no credentials', p_provider_id), 'provider_id');
  end if;
  insert into kiln.audit_log (tenant_id, action, object_type, object_id, detail)
    values (v_p.tenant_id, 'provider.credentials.decrypt', 'provider', v_p.id::text,
            jsonb_build_object('worker', p_worker, 'purpose', p_purpose, 'key_id', v_p.credentials_key_id,
                               'fingerprint', v_p.credentials_fingerprint));
  return query select v_p.credentials_ciphertext, v_p.credentials_key_id, v_p.credentials_fingerprint,
                      v_p.tenant_id, v_p.name;
end $$;

-- k8s_prepare: records where the run of a claimed execution is about to be created, before
-- the create: if the dispatcher dies right after it, the sync still knows the run (to let
-- the next attempt adopt it, or cancel it once the build has ended).
create function kiln_api.k8s_prepare(p_execution_id uuid, p_epoch bigint, p_provider_id uuid, p_namespace text,
                                     p_run_name text)
  returns void language plpgsql as $$
begin
  perform kiln_api.lock_execution(p_execution_id, p_epoch);
  update kiln.build_executions
     set infrastructure_type = 'kubernetes', provider_id = p_provider_id, k8s_namespace = p_namespace,
         external_ref = p_run_name, backend_done_at = null
   where id = p_execution_id;
end $$;

-- k8s_start_execution: the PipelineRun p_run_name exists (created now, or adopted after a
-- 409 from an earlier attempt): the execution runs, under the Kubernetes lease, with the
-- run's whereabouts recorded and a header line in the build's log.
create function kiln_api.k8s_start_execution(p_execution_id uuid, p_epoch bigint, p_plan jsonb, p_target jsonb,
                                             p_run_name text, p_adopted boolean, p_now timestamptz default null)
  returns void language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_size jsonb := coalesce(p_plan -> 'size', '{}');
  v_exec kiln.build_executions;
  v_where text;
begin
  perform kiln_api.start_execution(p_execution_id, p_epoch, 'kubernetes', p_plan ->> 'reason',
    coalesce(p_plan -> 'metadata', '{}') || jsonb_build_object('kubernetes', jsonb_build_object(
      'provider_id', p_target -> 'provider' -> 'id', 'provider', p_target -> 'provider' -> 'name',
      'namespace', p_target -> 'namespace', 'node_pool', p_target -> 'node_pool' -> 'name',
      'node_pool_id', p_target -> 'node_pool' -> 'id', 'pipeline_run', p_run_name,
      'template', format('%s@%s', p_target -> 'template' ->> 'name', p_target -> 'template' ->> 'version'),
      'adopted', p_adopted)),
    v_size, p_run_name, kiln_api.setting('k8s_lease_seconds')::integer, v_now);
  update kiln.build_executions
     set provider_id = (p_target -> 'provider' ->> 'id')::uuid, k8s_namespace = p_target ->> 'namespace',
         backend_state = '{}', backend_done_at = null
   where id = p_execution_id
   returning * into v_exec;
  update kiln.build_configs set infrastructure_reason = p_plan ->> 'reason' where build_id = v_exec.build_id;
  v_where := format('%s/%s%s', p_target -> 'provider' ->> 'name', p_target ->> 'namespace',
                    case when p_target -> 'node_pool' ->> 'name' is null then ''
                         else ', node pool ' || (p_target -> 'node_pool' ->> 'name') end);
  perform kiln_api.append_log(v_exec.build_id, p_execution_id, format(
    E'==> attempt %s on kubernetes %s: PipelineRun %s%s (%s cpu, %s GiB, %s min)\n',
    v_exec.attempt, v_where, p_run_name, case when p_adopted then ' (adopted)' else '' end,
    v_size ->> 'cpu', v_size ->> 'memory_gb', v_size ->> 'time_budget_min'));
end $$;

-- k8s_open_runs: the sync's worklist: every execution with a PipelineRun that the
-- dispatcher is not done with, active or not (a cancelled execution's run must still be
-- cancelled in the cluster). superseded: another active execution of the build holds the
-- same run (it adopted it after this one's lease was lost).
create function kiln_api.k8s_open_runs(p_limit integer default 2000) returns jsonb
  language sql stable as $$
  select coalesce(jsonb_agg(jsonb_build_object(
      'execution_id', e.id, 'build_id', e.build_id, 'tenant_id', e.tenant_id, 'epoch', e.epoch,
      'attempt', e.attempt, 'status', e.status, 'provider_id', e.provider_id, 'namespace', e.k8s_namespace,
      'build_status', (select b.status from kiln.builds b where b.id = e.build_id),
      'run', e.external_ref, 'state', e.backend_state, 'lease_expires_at', e.lease_expires_at,
      'superseded', exists (select from kiln.build_executions o
                             where o.build_id = e.build_id and o.id <> e.id and o.external_ref = e.external_ref
                               and o.status in ('dispatching', 'running')))
      order by e.provider_id, e.k8s_namespace, e.created_at), '[]')
    from (select * from kiln.build_executions e
           where e.infrastructure_type = 'kubernetes' and e.external_ref is not null and e.backend_done_at is null
           order by e.created_at limit p_limit) e
$$;

-- k8s_build_states: for runs found in a cluster that no open execution holds: each build's
-- status and whether an execution of it is being handed off right now.
create function kiln_api.k8s_build_states(p_build_ids uuid[]) returns jsonb
  language sql stable as $$
  select coalesce(jsonb_object_agg(b.id, jsonb_build_object('status', b.status,
      'dispatching', exists (select from kiln.build_executions e where e.build_id = b.id and e.status = 'dispatching'))),
      '{}')
    from kiln.builds b where b.id = any (p_build_ids)
$$;

-- k8s_record_logs: appends step logs to the build's log. Each entry {key, offset, text}
-- continues the step's log at byte offset (of the step's own log) only if that is where
-- the execution's state says it stopped, so two dispatchers syncing at once never write a
-- line twice. An entry {key, done: true} records that the step's log was read to its end.
-- Returns the new state.
create function kiln_api.k8s_record_logs(p_execution_id uuid, p_entries jsonb) returns jsonb
  language plpgsql as $$
declare
  v_exec kiln.build_executions;
  v_state jsonb;
  v_entry jsonb;
begin
  select e.* into v_exec from kiln.build_executions e where e.id = p_execution_id;
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('execution %s not found', p_execution_id), 'execution_id');
  end if;
  perform from kiln.builds where id = v_exec.build_id for update;
  select backend_state into v_state from kiln.build_executions where id = p_execution_id for update;
  for v_entry in select x from jsonb_array_elements(p_entries) x loop
    if coalesce((v_entry ->> 'done')::boolean, false) then
      v_state := jsonb_set(v_state, array['logs_done'], coalesce(v_state -> 'logs_done', '{}')
        || jsonb_build_object(v_entry ->> 'key', true));
      continue;
    end if;
    if coalesce((v_state -> 'logs' ->> (v_entry ->> 'key'))::bigint, 0) = (v_entry ->> 'offset')::bigint then
      perform kiln_api.append_log(v_exec.build_id, p_execution_id, v_entry ->> 'text');
      v_state := jsonb_set(v_state, array['logs'], coalesce(v_state -> 'logs', '{}')
        || jsonb_build_object(v_entry ->> 'key', (v_entry ->> 'offset')::bigint + (v_entry ->> 'bytes')::bigint));
    end if;
  end loop;
  update kiln.build_executions set backend_state = v_state where id = p_execution_id;
  return v_state;
end $$;

-- k8s_finish: records a finished run's outcome (finish_execution's rules: an OOM kill is
-- retried once one size up) and that nothing more will be read from the run.
create function kiln_api.k8s_finish(p_execution_id uuid, p_epoch bigint, p_outcome text, p_exit_code integer,
                                    p_reason text, p_now timestamptz default null)
  returns kiln.build_status language plpgsql as $$
declare
  v_status kiln.build_status := kiln_api.finish_execution(p_execution_id, p_epoch, p_outcome, p_exit_code,
                                                          p_reason, p_now);
begin
  update kiln.build_executions set backend_done_at = coalesce(p_now, now()) where id = p_execution_id;
  return v_status;
end $$;

-- k8s_mark_done: nothing more to read from this execution's run (it ended, was cancelled,
-- vanished, or another execution adopted it).
create function kiln_api.k8s_mark_done(p_execution_id uuid, p_note text, p_now timestamptz default null)
  returns void language sql as $$
  update kiln.build_executions
     set backend_done_at = coalesce(p_now, now()),
         backend_state = backend_state || jsonb_build_object('done', p_note)
   where id = p_execution_id
$$;

-- k8s_set_health: the sync's view of a provider: healthy when its LIST worked, unhealthy
-- with the error when it did not. Writes only on a change.
create function kiln_api.k8s_set_health(p_provider_id uuid, p_healthy boolean, p_error text,
                                        p_now timestamptz default null)
  returns void language sql as $$
  update kiln.providers p
     set health = case when p_healthy then 'healthy' else 'unhealthy' end::kiln.health_status,
         health_checked_at = coalesce(p_now, now()),
         health_detail = p.health_detail || jsonb_build_object('sync', jsonb_build_object(
           'ok', p_healthy, 'error', p_error, 'at', coalesce(p_now, now())))
   where p.id = p_provider_id
     and (p.health is distinct from case when p_healthy then 'healthy' else 'unhealthy' end::kiln.health_status
          or p.health_detail -> 'sync' ->> 'error' is distinct from p_error)
$$;

-- k8s_pending_checks: provider tests an admin asked for that no dispatcher answered yet.
create function kiln_api.k8s_pending_checks() returns table (provider_id uuid, request_id uuid, namespace text)
  language sql stable as $$
  select p.id, p.check_request_id, kiln_api.k8s_namespace_for(p, t.name)
    from kiln.providers p left join kiln.tenants t on t.id = p.tenant_id
   where p.check_request_id is not null
     and p.health_detail ->> 'request_id' is distinct from p.check_request_id::text
     and p.check_requested_at > now() - interval '10 minutes'
$$;

-- k8s_record_check: a provider test's results ([{name, ok, message}]); healthy when all passed.
create function kiln_api.k8s_record_check(p_provider_id uuid, p_request_id uuid, p_checks jsonb,
                                          p_now timestamptz default null)
  returns void language plpgsql as $$
begin
  update kiln.providers p
     set health = case when not exists (select from jsonb_array_elements(p_checks) c where not (c ->> 'ok')::boolean)
                       then 'healthy' else 'unhealthy' end::kiln.health_status,
         health_checked_at = coalesce(p_now, now()),
         health_detail = jsonb_build_object('request_id', p_request_id, 'checks', p_checks)
   where p.id = p_provider_id and p.check_request_id = p_request_id;
  perform pg_notify('kiln_provider_check_done', p_provider_id::text);
end $$;
