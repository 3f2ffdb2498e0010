-- Kubernetes providers through kiln_api (sql/api/providers.sql): created from the sealed
-- credentials the route hands over and never shown again; validation naming the field;
-- the seed's permissions; tenant isolation (row-level security on providers and node pools);
-- PATCH semantics; deletion refused while builds run; provider tests asked for and answered.
begin;
select plan(36);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('other') as other \gset
select test.make_user(:'acme', 'boss', 'admin') as boss \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_user(:'other', 'them', 'admin') as them \gset

create temp table sealed as select
  '{"api_server":"https://10.0.0.1:6443","kind":"token","context":"prod"}'::jsonb as summary,
  '\x01aabbccdd'::bytea as ciphertext;
grant select on sealed to kiln_web;
create temp table body as select
  '{"name":"prod","provider_type":"eks","display_name":"Production","capabilities":{"gpu":true},
    "node_pools":[{"name":"builds","labels":{"kiln.dev/pool":"builds"},"taints":["kiln=builds:NoSchedule"],
                   "capacity":{"cpu":16,"memory_gb":64},"capabilities":["amd64","gpu"],"cost_per_cpu_hour":0.04}]}'::jsonb as b;
grant select on body to kiln_web;

set local role kiln_web;
select test.act_as(:'boss');

create temp table created as
  select kiln_api.create_provider('11111111-1111-4111-8111-111111111111', (select b from body),
                                  (select summary from sealed), (select ciphertext from sealed), 'k1', 'sha256:abc') as j;
select is((select (j -> 'credentials') - 'updated_at' from created),
  '{"configured":true,"kind":"token","fingerprint":"sha256:abc","key_id":"k1"}'::jsonb,
  'the answer says the credentials are configured, their kind, fingerprint and key id');
select is((select j ->> 'api_server' from created), 'https://10.0.0.1:6443', 'the API server is shown');
select ok((select j::text !~ 'ciphertext|aabbccdd' from created), 'the ciphertext is never in the answer');
select is((select jsonb_array_length(j -> 'node_pools') from created), 1, 'its node pool is created');
select is((select j -> 'node_pools' -> 0 -> 'capabilities' from created), '["amd64","gpu"]'::jsonb,
  'with its capabilities');
select is((select j ->> 'shared' from created), 'false', 'a tenant''s provider is not shared');
select is((select j -> 'health' ->> 'status' from created), 'unknown', 'its health is unknown until tested');
select is((select count(*)::integer from kiln.audit_log where action = 'provider.create'
            and object_id = '11111111-1111-4111-8111-111111111111'), 1, 'the creation is audited');
select ok((select detail::text !~ 'aabbccdd' from kiln.audit_log where action = 'provider.create'),
  'the audit row holds no credential');

-- validation
select is(test.error_detail($$select kiln_api.create_provider(gen_random_uuid(), '{"name":"x","provider_type":"rke"}',
  '{}', '\x01', 'k1', 'f')$$), '{"code":"invalid_value","field":"provider_type"}'::jsonb, 'an unknown provider type');
select is(test.error_detail($$select kiln_api.create_provider(gen_random_uuid(), '{"provider_type":"eks"}',
  '{}', '\x01', 'k1', 'f')$$), '{"code":"missing_field","field":"name"}'::jsonb, 'a missing name');
select is(test.error_detail($$select kiln_api.create_provider(gen_random_uuid(), '{"name":"x","provider_type":"eks"}',
  '{}', null, null, null)$$), '{"code":"missing_field","field":"kubeconfig"}'::jsonb, 'missing credentials');
select is(test.error_detail($$select kiln_api.create_provider(gen_random_uuid(),
  '{"name":"x","provider_type":"eks","kubeconfig":"apiVersion: v1"}', '{}', '\x01', 'k1', 'f')$$),
  '{"code":"unknown_field","field":"kubeconfig"}'::jsonb, 'a kubeconfig never reaches SQL: refused if it does');
select is(test.error_detail($$select kiln_api.create_provider(gen_random_uuid(),
  '{"name":"x","provider_type":"eks","node_pools":[{"name":"p","capacity":{"cpu":"lots"}}]}', '{}', '\x01', 'k1', 'f')$$),
  '{"code":"invalid_value","field":"node_pools[0].capacity.cpu"}'::jsonb, 'a node pool''s capacity');
select is(test.error_detail($$select kiln_api.create_provider(gen_random_uuid(),
  '{"name":"x","provider_type":"eks","node_pools":[{"name":"p","taints":[{"key":"a","effect":"Sometimes"}]}]}',
  '{}', '\x01', 'k1', 'f')$$), '{"code":"invalid_value","field":"node_pools[0].taints[0]"}'::jsonb, 'a taint''s effect');
select is(test.error_detail($$select kiln_api.create_provider(gen_random_uuid(),
  '{"name":"x","provider_type":"eks","node_pools":[{"name":"p"},{"name":"p"}]}', '{}', '\x01', 'k1', 'f')$$),
  '{"code":"invalid_value","field":"node_pools"}'::jsonb, 'a pool listed twice');
select is(test.error_detail($$select kiln_api.create_provider(gen_random_uuid(), '{"name":"prod","provider_type":"eks"}',
  '{"api_server":"https://x"}', '\x01', 'k1', 'f')$$), '{"code":"conflict","field":"name"}'::jsonb,
  'a taken name is a conflict');

-- permissions and isolation
select test.act_as(:'dev');
select throws_ok($$select kiln_api.create_provider(gen_random_uuid(), '{"name":"y","provider_type":"eks"}',
  '{}', '\x01', 'k1', 'f')$$, 'QC403', 'this needs the infrastructure:configure permission',
  'a developer cannot add a provider');
select throws_ok($$select kiln_api.update_provider('11111111-1111-4111-8111-111111111111', '{}')$$, 'QC403',
  'this needs the infrastructure:manage permission', 'nor change one');
select test.act_as(:'them');
select is(kiln_api.list_providers(), '{"items":[]}'::jsonb, 'another tenant sees none of them');
select throws_ok($$select kiln_api.get_provider('11111111-1111-4111-8111-111111111111')$$, 'QC404',
  'provider 11111111-1111-4111-8111-111111111111 not found', 'nor any by id');
select is((select count(*)::integer from kiln.node_pools), 0, 'nor their node pools');
select is((select count(*)::integer from kiln.providers where credentials_ciphertext is not null), 0,
  'nor their ciphertext');

-- updates
select test.act_as(:'boss');
create temp table patched as select kiln_api.update_provider('11111111-1111-4111-8111-111111111111',
  '{"display_name":"Prod","enabled":false,"node_pools":[{"name":"arm","capabilities":["arm64"]}]}') as j;
select is((select j - 'updated_at' - 'created_at' - 'credentials' - 'health' - 'id' - 'node_pools' from patched),
  jsonb_build_object('name', 'prod', 'display_name', 'Prod', 'description', '', 'provider_type', 'eks',
    'api_server', 'https://10.0.0.1:6443', 'shared', false, 'enabled', false, 'capabilities', '{"gpu":true}'::jsonb,
    'namespace', null, 'namespace_prefix', 'kiln-', 'kubeconfig_context', 'prod', 'running', 0),
  'a PATCH changes the fields given and keeps the others');
select is((select jsonb_path_query_array(j, '$.node_pools[*].name') from patched), '["arm"]'::jsonb,
  'node_pools replaces the pools: the ones not listed are gone');
reset role;
update kiln.providers set health = 'healthy' where id = '11111111-1111-4111-8111-111111111111';
set local role kiln_web;
select test.act_as(:'boss');
select is((kiln_api.update_provider('11111111-1111-4111-8111-111111111111', '{}',
  '{"api_server":"https://10.0.0.2","kind":"exec","context":"c2"}', '\x01ff', 'k2', 'sha256:new')
  -> 'credentials') - 'updated_at',
  '{"configured":true,"kind":"exec","fingerprint":"sha256:new","key_id":"k2"}'::jsonb, 'new credentials replace the old');
select is(kiln_api.get_provider('11111111-1111-4111-8111-111111111111') -> 'health' ->> 'status', 'unknown',
  'and the health is unknown again');

-- tests
create temp table asked as select kiln_api.request_provider_check('11111111-1111-4111-8111-111111111111') as j;
select is(kiln_api.provider_check_result('11111111-1111-4111-8111-111111111111', (select (j ->> 'request_id')::uuid from asked)) ->> 'status',
  'pending', 'a test is pending until a dispatcher answers');
reset role;
select is((select count(*)::integer from kiln_api.k8s_pending_checks() where provider_id = '11111111-1111-4111-8111-111111111111'),
  1, 'dispatchers see the request');
select is((select namespace from kiln_api.k8s_pending_checks()), 'kiln-acme', 'with the tenant''s namespace');
select kiln_api.k8s_record_check('11111111-1111-4111-8111-111111111111', (select (j ->> 'request_id')::uuid from asked),
  '[{"name":"reachable","ok":true,"message":"yes"},{"name":"tekton","ok":false,"message":"not installed"}]');
set local role kiln_web;
select test.act_as(:'boss');
select is(kiln_api.provider_check_result('11111111-1111-4111-8111-111111111111', (select (j ->> 'request_id')::uuid from asked)) - 'checked_at',
  jsonb_build_object('provider_id', '11111111-1111-4111-8111-111111111111', 'request_id', (select j ->> 'request_id' from asked),
    'status', 'done', 'ok', false, 'health', 'unhealthy',
    'checks', '[{"name":"reachable","ok":true,"message":"yes"},{"name":"tekton","ok":false,"message":"not installed"}]'::jsonb),
  'the answer carries each check; one failed check makes the provider unhealthy');
reset role;
select is((select count(*)::integer from kiln_api.k8s_pending_checks()), 0, 'an answered test is no longer pending');

-- shared providers and deletion
insert into kiln.providers (id, name, display_name, provider_type, api_server, credentials_ciphertext)
  values ('22222222-2222-4222-8222-222222222222', 'shared', 'Shared', 'gke', 'https://shared', '\x01');
set local role kiln_web;
select test.act_as(:'boss');
select is((select count(*)::integer from jsonb_array_elements(kiln_api.list_providers() -> 'items')), 2,
  'a shared provider is listed for every tenant');
select throws_ok($$select kiln_api.delete_provider('22222222-2222-4222-8222-222222222222')$$, 'QC403',
  'shared providers are managed by the platform operator, not through a tenant''s API', 'but not deleted by one');
reset role;
select test.make_project(:'acme', 'web');
select id as ex from test.make_running_build(:'acme', 'web') \gset
update kiln.build_executions set provider_id = '11111111-1111-4111-8111-111111111111' where id = :'ex';
set local role kiln_web;
select test.act_as(:'boss');
select throws_ok($$select kiln_api.delete_provider('11111111-1111-4111-8111-111111111111')$$, 'QC409',
  'provider prod has 1 running builds; disable it (enabled: false) and delete it when they are done',
  'a provider with running builds is not deleted');
reset role;
update kiln.build_executions set status = 'failed' where id = :'ex';
set local role kiln_web;
select test.act_as(:'boss');
select is(kiln_api.delete_provider('11111111-1111-4111-8111-111111111111'),
  '{"id":"11111111-1111-4111-8111-111111111111","deleted":true}'::jsonb, 'then it is deleted');

select * from finish();
rollback;
