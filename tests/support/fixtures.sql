-- Test helpers for the pgTAP suite (tests/sql/*.sql), in schema `test`.
-- Loaded once into the template database after the migrations and kiln_api; every test
-- file runs in its own clone of that template.
--
-- The make_* helpers are SECURITY DEFINER (owned by the loading superuser): they write
-- whatever the test needs whatever role the test has switched to, and submit through the
-- real kiln_api functions so fixtures follow the same rules as the API. error_detail,
-- error_of and plan_uses_index are not: they run the given SQL with the caller's rights.

create schema test;
grant usage on schema test to public;

-- A connection string to this database as this user: the second sessions (dblink) of the
-- concurrency tests.
create function test.self_connstr() returns text language sql stable as $$
  select format('dbname=%s user=%s host=%s port=%s', current_database(), current_user,
                coalesce(nullif(btrim(split_part(
                  (select setting from pg_settings where name = 'unix_socket_directories'), ',', 1)), ''),
                  '127.0.0.1'),
                (select setting from pg_settings where name = 'port'))
$$;

-- SHA-256 of a token's text, as kiln.api_tokens stores it.
create function test.sha(p_secret text) returns bytea
  language sql immutable as $$ select sha256(convert_to(p_secret, 'UTF8')) $$;

create function test.make_tenant(p_name text) returns uuid
  language sql security definer as $$
  insert into kiln.tenants (name) values (p_name) returning id
$$;

-- A user of p_tenant holding p_role (admin, developer or viewer).
create function test.make_user(p_tenant uuid, p_name text, p_role text default 'admin')
  returns uuid language plpgsql security definer as $$
declare
  v_user uuid;
begin
  insert into kiln.users (tenant_id, name) values (p_tenant, p_name) returning id into v_user;
  insert into kiln.user_roles (user_id, role_name, tenant_id) values (v_user, p_role, p_tenant);
  return v_user;
end $$;

-- An API token for p_user whose secret is p_secret (test.sha(p_secret) is stored).
create function test.make_token(p_user uuid, p_secret text, p_expires_at timestamptz default null,
                                p_revoked_at timestamptz default null)
  returns uuid language sql security definer as $$
  insert into kiln.api_tokens (tenant_id, user_id, name, token_sha256, expires_at, revoked_at)
    select u.tenant_id, u.id, 'test-' || p_secret, test.sha(p_secret), p_expires_at, p_revoked_at
      from kiln.users u where u.id = p_user
  returning id
$$;

-- The permissions p_user's roles grant, sorted, as authenticate computes them.
create function test.permissions_of(p_user uuid) returns text[]
  language sql stable security definer as $$
  select array(select distinct rp.permission from kiln.user_roles ur
                 join kiln.role_permissions rp on rp.role_name = ur.role_name
                where ur.user_id = p_user order by 1)
$$;

-- Acts as p_user for the rest of the transaction: sets kiln.tenant_id, kiln.user_id and
-- kiln.permissions (transaction-local) exactly as kiln_api.authenticate does.
create function test.act_as(p_user uuid) returns void
  language plpgsql security definer as $$
declare
  v_tenant uuid;
begin
  select tenant_id into strict v_tenant from kiln.users where id = p_user;
  perform set_config('kiln.tenant_id', v_tenant::text, true);
  perform set_config('kiln.user_id', p_user::text, true);
  perform set_config('kiln.permissions', array_to_string(test.permissions_of(p_user), ','), true);
end $$;

-- Acts as a tenant with no user and no permissions (a DBA who ran `set kiln.tenant_id`);
-- null clears the tenant.
create function test.act_as_tenant(p_tenant uuid) returns void
  language plpgsql as $$
begin
  perform set_config('kiln.tenant_id', coalesce(p_tenant::text, ''), true);
  perform set_config('kiln.user_id', '', true);
  perform set_config('kiln.permissions', '', true);
end $$;

create function test.make_project(p_tenant uuid, p_name text, p_requires_gpu boolean default false,
                                  p_requirements jsonb default '{}', p_language text default null)
  returns uuid language sql security definer as $$
  insert into kiln.projects (tenant_id, name, language, requires_gpu, requirements)
    values (p_tenant, p_name, p_language, p_requires_gpu, p_requirements)
  returning id
$$;

-- A pending build of p_tenant's project p_project, submitted through kiln_api.submit_build
-- (a script build unless p_body says otherwise; p_body's keys win). The caller's
-- kiln.tenant_id is restored afterwards.
create function test.make_build(p_tenant uuid, p_project text, p_body jsonb default '{}')
  returns uuid language plpgsql security definer as $$
declare
  v_saved text := current_setting('kiln.tenant_id', true);
  v_build jsonb;
begin
  perform set_config('kiln.tenant_id', p_tenant::text, true);
  v_build := kiln_api.submit_build(jsonb_build_object('project', p_project, 'method', 'script',
    'params', jsonb_build_object('script', 'make test')) || coalesce(p_body, '{}'));
  perform set_config('kiln.tenant_id', coalesce(v_saved, ''), true);
  return (v_build ->> 'id')::uuid;
end $$;

-- A queued build: make_build then kiln_api.start_build at p_queued_at (default now()).
create function test.make_queued_build(p_tenant uuid, p_project text, p_priority integer default 0,
                                       p_queued_at timestamptz default null,
                                       p_body jsonb default '{}')
  returns uuid language plpgsql security definer as $$
declare
  v_build uuid := test.make_build(p_tenant, p_project,
                                  jsonb_build_object('priority', p_priority) || coalesce(p_body, '{}'));
begin
  perform kiln_api.start_build(v_build, p_queued_at);
  return v_build;
end $$;

-- Claims p_build (which must be the first build in the queue) for p_worker and returns
-- its new execution. Raises if claim_builds handed out some other build.
create function test.claim(p_build uuid, p_worker text default 'worker-1',
                           p_lease_seconds integer default 60, p_now timestamptz default null)
  returns kiln.build_executions language plpgsql security definer as $$
declare
  v_claimed uuid;
  v_exec kiln.build_executions;
begin
  select c.build_id into v_claimed from kiln_api.claim_builds(p_worker, 1, p_lease_seconds, p_now) c;
  if v_claimed is distinct from p_build then
    raise exception 'test.claim: expected to claim %, claimed %', p_build, v_claimed;
  end if;
  select * into strict v_exec from kiln.build_executions
   where build_id = p_build and status = 'dispatching';
  return v_exec;
end $$;

-- A build of p_project in `dispatching`, claimed by p_worker; returns the execution.
create function test.make_claimed_build(p_tenant uuid, p_project text,
                                        p_worker text default 'worker-1',
                                        p_lease_seconds integer default 60,
                                        p_body jsonb default '{}', p_now timestamptz default null)
  returns kiln.build_executions language plpgsql security definer as $$
begin
  return test.claim(test.make_queued_build(p_tenant, p_project, 100, '2000-01-01', p_body),
                    p_worker, p_lease_seconds, p_now);
end $$;

-- A build of p_project in `running` on kubernetes; returns the execution.
create function test.make_running_build(p_tenant uuid, p_project text,
                                        p_worker text default 'worker-1',
                                        p_lease_seconds integer default 60,
                                        p_body jsonb default '{}', p_now timestamptz default null)
  returns kiln.build_executions language plpgsql security definer as $$
declare
  v_exec kiln.build_executions :=
    test.make_claimed_build(p_tenant, p_project, p_worker, p_lease_seconds, p_body, p_now);
begin
  perform kiln_api.start_execution(v_exec.id, v_exec.epoch, 'kubernetes', 'test fixture',
                                   p_now => p_now);
  select * into strict v_exec from kiln.build_executions where id = v_exec.id;
  return v_exec;
end $$;

-- A build's row, its executions and its event count as one value, to show that a refused
-- call changed nothing.
create function test.build_state(p_build uuid) returns jsonb
  language sql stable security definer as $$
  select jsonb_build_object(
    'build', (select to_jsonb(b) from kiln.builds b where b.id = p_build),
    'executions', (select coalesce(jsonb_agg(to_jsonb(e) order by e.attempt), '[]')
                     from kiln.build_executions e where e.build_id = p_build),
    'events', (select count(*) from kiln.build_events v where v.build_id = p_build))
$$;

-- Runs p_sql and returns the error it raised as {sqlstate, message, detail}, detail parsed
-- as JSON when it is JSON; null when p_sql raised nothing. The statement's effects are
-- rolled back with the error (the exception block is a subtransaction).
create function test.error_of(p_sql text) returns jsonb
  language plpgsql as $$
declare
  v_state text;
  v_message text;
  v_detail text;
  v_json jsonb;
begin
  execute p_sql;
  return null;
exception when others then
  get stacked diagnostics v_state = returned_sqlstate, v_message = message_text,
                          v_detail = pg_exception_detail;
  begin
    v_json := v_detail::jsonb;
  exception when others then
    v_json := to_jsonb(v_detail);
  end;
  return jsonb_build_object('sqlstate', v_state, 'message', v_message, 'detail', v_json);
end $$;

-- The DETAIL of the error p_sql raises, parsed ({"code":…, "field":…}); null if none.
create function test.error_detail(p_sql text) returns jsonb
  language sql as $$ select test.error_of(p_sql) -> 'detail' $$;

-- Whether the plan of p_sql reads the index p_index (EXPLAIN, format json).
create function test.plan_uses_index(p_sql text, p_index text) returns boolean
  language plpgsql as $$
declare
  v_plan json;
begin
  execute 'explain (format json) ' || p_sql into v_plan;
  return v_plan::text like '%"Index Name": "' || p_index || '"%';
end $$;

------------------------------------------------------------------------------------------
-- Infrastructure (issue 4): providers, node pools, build nodes and usage history
------------------------------------------------------------------------------------------

-- A Kubernetes provider (shared when p_tenant is null) with an endpoint and credential
-- fingerprint that must never show in any API answer.
create function test.make_provider(p_display_name text, p_type kiln.provider_type default 'eks',
                                   p_health kiln.health_status default 'healthy',
                                   p_capabilities jsonb default '{}', p_tenant uuid default null,
                                   p_enabled boolean default true)
  returns uuid language sql security definer as $$
  insert into kiln.providers (tenant_id, name, display_name, provider_type, api_server, capabilities,
                              credentials_ciphertext, credentials_key_id, credentials_fingerprint,
                              health, health_detail, enabled)
    values (p_tenant, lower(regexp_replace(p_display_name, '[^A-Za-z0-9]+', '-', 'g')), p_display_name, p_type,
            'https://api-server.secret.example:6443', p_capabilities, '\xdeadbeef', 'key-1',
            'SHA256:credfingerprint0123456789', p_health,
            '{"error": "dial tcp https://api-server.secret.example:6443: token eyJhbGciOiJSUzI1NiJ9.secret"}',
            p_enabled)
  returning id
$$;

create function test.make_node_pool(p_provider uuid, p_name text, p_capabilities text[] default '{}',
                                    p_capacity jsonb default '{"cpu": 16, "memory_gb": 32}',
                                    p_labels jsonb default '{}', p_cost_per_cpu_hour numeric default 0.05)
  returns uuid language sql security definer as $$
  insert into kiln.node_pools (provider_id, name, capabilities, capacity, labels, cost_per_cpu_hour)
    values (p_provider, p_name, p_capabilities, p_capacity, p_labels, p_cost_per_cpu_hour)
  returning id
$$;

-- A build node, online (heartbeat at p_now) or offline (no heartbeat).
create function test.make_node(p_name text, p_labels jsonb default '{"arch": "amd64"}',
                               p_capabilities jsonb default '{}', p_online boolean default true,
                               p_tenant uuid default null, p_capacity jsonb default '{}',
                               p_now timestamptz default null)
  returns uuid language sql security definer as $$
  insert into kiln.build_nodes (tenant_id, name, labels, capabilities, capacity, last_heartbeat_at)
    values (p_tenant, p_name, p_labels, p_capabilities, p_capacity,
            case when p_online then coalesce(p_now, now()) end)
  returning id
$$;

-- A finished build of p_project with one execution and its infrastructure_usage row, as
-- agent_finish writes it (cpu_seconds, duration_seconds, peak_memory_bytes). On
-- Kubernetes, p_node_pool_id is the pool the execution's decision named. Returns the
-- execution id.
create function test.make_usage(p_tenant uuid, p_project text, p_success boolean,
                                p_method kiln.build_method default 'script',
                                p_infrastructure_type kiln.infrastructure_type default 'build_nodes',
                                p_cpu_seconds numeric default 60, p_duration_seconds numeric default 60,
                                p_peak_memory_bytes bigint default 1073741824,
                                p_node_pool_id uuid default null, p_start_time timestamptz default null)
  returns uuid language plpgsql security definer as $$
declare
  v_project uuid;
  v_build uuid;
  v_exec uuid;
  v_start timestamptz := coalesce(p_start_time, now() - interval '1 hour');
  v_status text := case when p_success then 'succeeded' else 'failed' end;
begin
  select id into strict v_project from kiln.projects where tenant_id = p_tenant and name = p_project;
  insert into kiln.builds (tenant_id, project_id, status, started_at, finished_at)
    values (p_tenant, v_project, v_status::kiln.build_status, v_start, v_start + interval '1 minute')
    returning id into v_build;
  insert into kiln.build_configs (build_id, tenant_id, method, params)
    values (v_build, p_tenant, p_method, '{}');
  insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status, infrastructure_type,
                                     infrastructure_metadata, started_at, finished_at)
    values (v_build, p_tenant, 1, 1, v_status::kiln.execution_status, p_infrastructure_type,
            case when p_node_pool_id is null then '{}'::jsonb
                 else jsonb_build_object('target', jsonb_build_object('node_pool_id', p_node_pool_id)) end,
            v_start, v_start + interval '1 minute')
    returning id into v_exec;
  insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type,
                                         start_time, end_time, resource_usage, success)
    values (v_exec, p_tenant, v_project, p_infrastructure_type::text, v_start, v_start + interval '1 minute',
            jsonb_build_object('cpu_seconds', p_cpu_seconds, 'duration_seconds', p_duration_seconds,
                               'peak_memory_bytes', p_peak_memory_bytes), p_success);
  return v_exec;
end $$;
