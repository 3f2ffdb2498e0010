-- kiln_api.create_project and list_projects: a valid body creates a project of the
-- caller's tenant; a duplicate name is QC409; every invalid input is QC400 naming the field.
begin;
select plan(27);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('other') as other \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_project(:'other', 'shared-name');

set local role kiln_web;
select test.act_as(:'dev');

create temp table created as select kiln_api.create_project('{"name":"web","language":"go"}') as j;
select is((select j - array['id', 'created_at'] from created),
  '{"name":"web","language":"go","requires_gpu":false,"requirements":{}}'::jsonb,
  'create_project answers the project');
select results_eq(
  $$select p.id, p.tenant_id, p.name, p.language from kiln.projects p
     where p.id = (select (j ->> 'id')::uuid from created)$$,
  format($$select (select (j ->> 'id')::uuid from created), %L::uuid, 'web', 'go'$$, :'acme'),
  'the project is stored in the caller''s tenant');
select is((kiln_api.create_project('{"name":"ml.v2_x-1","requires_gpu":true,"language":null,
            "requirements":{"arch":["arm64"],"high_memory":true}}') - array['id', 'created_at']),
  '{"name":"ml.v2_x-1","language":null,"requires_gpu":true,
    "requirements":{"arch":["arm64"],"high_memory":true}}'::jsonb,
  'requires_gpu and requirements are stored; language may be null');
select is((kiln_api.create_project(format('{"name":"%s"}', repeat('a', 100))::jsonb) ->> 'name'),
  repeat('a', 100), 'a name of 100 characters is allowed');
select is((kiln_api.create_project('{"name":"shared-name"}') ->> 'name'), 'shared-name',
  'a name another tenant uses is free in this one');

create temp table counts_before as select count(*) n from kiln.projects;
grant select on counts_before to kiln_web;

select throws_ok($$select kiln_api.create_project('{"name":"web"}')$$, 'QC409',
  'project web already exists', 'a duplicate name is QC409');
select is(test.error_detail($$select kiln_api.create_project('{"name":"web","language":"rust"}')$$),
  '{"code":"conflict","field":"name"}'::jsonb, 'the 409 names the field');
select throws_ok($$select kiln_api.create_project('{"name":"-web"}')$$, 'QC400',
  'name must be 1-100 characters of A-Z a-z 0-9 . _ - starting with a letter or digit',
  'a name starting with a dash is refused');
select throws_ok($$select kiln_api.create_project('{"name":""}')$$, 'QC400',
  'name must be 1-100 characters of A-Z a-z 0-9 . _ - starting with a letter or digit',
  'an empty name is refused');
select throws_ok($$select kiln_api.create_project('{"name":"my web"}')$$, 'QC400',
  'name must be 1-100 characters of A-Z a-z 0-9 . _ - starting with a letter or digit',
  'a name with a space is refused');
select throws_ok(format($$select kiln_api.create_project('{"name":"%s"}')$$, repeat('a', 101)), 'QC400',
  'name must be 1-100 characters of A-Z a-z 0-9 . _ - starting with a letter or digit',
  'a name of 101 characters is refused');
select is(test.error_detail($$select kiln_api.create_project('{"name":"a/b"}')$$),
  '{"code":"invalid_value","field":"name"}'::jsonb, 'the 400 names the field');
select throws_ok($$select kiln_api.create_project('{"language":"go"}')$$, 'QC400',
  'name is required', 'a missing name is refused');
select throws_ok($$select kiln_api.create_project('{"name":5}')$$, 'QC400',
  'name must be a string, not number', 'a name that is not a string is refused');
select throws_ok($$select kiln_api.create_project('{"name":"api","owner":"me"}')$$, 'QC400',
  'unknown field owner (allowed: name, language, requires_gpu, requirements)',
  'an unknown field is refused');
select is(test.error_detail($$select kiln_api.create_project('{"name":"api","owner":"me"}')$$),
  '{"code":"unknown_field","field":"owner"}'::jsonb, 'the unknown field is named');
select throws_ok($$select kiln_api.create_project('["web"]')$$, 'QC400',
  'body must be an object, not array', 'a body that is not an object is refused');
select throws_ok($$select kiln_api.create_project('{"name":"api","language":"Go Lang"}')$$, 'QC400',
  'language must be 1-40 lowercase characters (go, rust, node, python…)', 'a bad language is refused');
select throws_ok($$select kiln_api.create_project('{"name":"api","language":5}')$$, 'QC400',
  'language must be a string, not number', 'a language that is not a string is refused');
select throws_ok($$select kiln_api.create_project('{"name":"api","requires_gpu":"yes"}')$$, 'QC400',
  'requires_gpu must be a boolean, not string', 'a non-boolean requires_gpu is refused');
select throws_ok($$select kiln_api.create_project('{"name":"api","requirements":{"arch":["x86"]}}')$$,
  'QC400', 'requirements.arch must be a non-empty list of amd64, arm64, ppc64le, s390x, riscv64',
  'invalid requirements are refused');
select is((select count(*) from kiln.projects), (select n from counts_before),
  'refused creates wrote nothing');

select is((select jsonb_agg(p ->> 'name') from jsonb_array_elements(kiln_api.list_projects() -> 'items') p),
  jsonb_build_array(repeat('a', 100), 'ml.v2_x-1', 'shared-name', 'web'),
  'list_projects lists the tenant''s projects by name');

select test.act_as_tenant(null);
select throws_ok($$select kiln_api.create_project('{"name":"api"}')$$, 'QC400',
  'no tenant in this session: set kiln.tenant_id to the tenant''s id first',
  'without a tenant no project can be created');
select is(kiln_api.list_projects(), '{"items":[]}'::jsonb, 'without a tenant list_projects is empty');
reset role;

-- A DBA (not the API role) acting for a tenant: the duplicate check is per tenant.
select test.act_as_tenant(:'other');
select is((kiln_api.create_project('{"name":"web"}') ->> 'name'), 'web',
  'a DBA may create web in the other tenant although acme has one');
select throws_ok($$select kiln_api.create_project('{"name":"shared-name"}')$$, 'QC409',
  'project shared-name already exists', 'but not twice in the same tenant');

select * from finish();
rollback;
