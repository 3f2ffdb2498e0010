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
