-- kiln_api.submit_build: a valid body creates a pending build with its config and first
-- event; every invalid input is refused with the right SQLSTATE, message and field, and
-- changes nothing; requirements merge with the project's.
begin;
select plan(71);

-- Another tenant's `web` is created first, so a lookup that ignores the tenant finds it.
select test.make_tenant('other') as other \gset
select test.make_project(:'other', 'web') as other_web \gset
select test.make_tenant('acme') as tenant \gset
select test.make_user(:'tenant', 'ada', 'admin') as admin \gset
select test.make_user(:'tenant', 'dev', 'developer') as dev \gset
select test.make_user(:'tenant', 'vic', 'viewer') as viewer \gset
select test.make_project(:'tenant', 'web') as web \gset
select test.make_project(:'tenant', 'ml', true, '{"arch":["arm64"],"airgapped":true}') as ml \gset
-- a (offline) build node offering everything: submit refuses what nothing registered offers
select test.make_node('special-1', '{"arch":"arm64"}',
  '{"gpu":true,"airgapped":true,"legacy_system":true,"high_memory":true}', false) as special \gset
select test.make_node('s390x-fpga-1', '{"arch":"s390x","custom_hardware":"fpga"}', '{}', false) as fpga \gset
select test.act_as(:'admin');

------------------------------------------------------------------------------------------
-- A valid body
------------------------------------------------------------------------------------------
create temp table submitted as select kiln_api.submit_build(
  '{"project":"web","method":"script","params":{"script":"make test"},
    "spec":{"cpu":1,"memory_gb":1,"time_budget_min":10},"infrastructure_type":"auto"}') as j;
select (j ->> 'id') as b1 from submitted \gset

select is((select j ->> 'status' from submitted), 'pending', 'submit_build answers status pending');
select is((select j ->> 'project' from submitted), 'web', 'the answer names the project');
select is((select j -> 'executions' from submitted), '[]'::jsonb, 'a new build has no executions');
select results_eq(
  format($$select status::text, tenant_id, project_id, priority, attempt, created_by, queued_at
             from kiln.builds where id = %L$$, :'b1'),
  format($$values ('pending', %L::uuid, %L::uuid, 0, 1, %L::uuid, null::timestamptz)$$,
         :'tenant', :'web', :'admin'),
  'the build row is pending, in the caller''s tenant and project, attempt 1, created by the caller');
select results_eq(
  format($$select method::text, params, spec, infrastructure_type::text, force_infrastructure,
                  infrastructure_reason, tenant_id
             from kiln.build_configs where build_id = %L$$, :'b1'),
  format($$values ('script', '{"script":"make test"}'::jsonb,
                   '{"cpu":1,"memory_gb":1,"time_budget_min":10}'::jsonb, 'auto', false,
                   null::text, %L::uuid)$$, :'tenant'),
  'one build_configs row holds the method, params, spec and infrastructure choice');
select results_eq(
  format($$select from_status::text, to_status::text, actor, message
             from kiln.build_events where build_id = %L$$, :'b1'),
  format($$values (null::text, 'pending', 'user:%s', 'submitted')$$, :'admin'),
  'exactly one event is written: null -> pending by the user');
select is((select count(*)::int from kiln.build_executions where build_id = :'b1'), 0,
  'submitting creates no execution');

-- Optional parts
select is((kiln_api.submit_build('{"project":"web","method":"docker",
            "params":{"git_url":"https://git.example/web.git","image":"registry/web:1"}}')
          ->> 'status'), 'pending', 'a docker build with its two required params is accepted');
select is((kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"},
            "priority":100}') ->> 'priority')::int, 100, 'priority 100 is accepted');
select is((kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"},
            "priority":-100}') ->> 'priority')::int, -100, 'priority -100 is accepted');
select is((kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"},
            "spec":null,"requirements":null}') -> 'spec'), '{}'::jsonb,
  'a null spec is stored as {}');
select (kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"},
          "infrastructure_type":"build_nodes","force_infrastructure":true}') ->> 'id') as forced \gset
select is(
  (select jsonb_build_object('type', c.infrastructure_type, 'force', c.force_infrastructure,
                             'reason', c.infrastructure_reason)
     from kiln.build_configs c where c.build_id = :'forced'),
  '{"type":"build_nodes","force":true,"reason":"Admin override"}'::jsonb,
  'an admin may force an infrastructure type; the reason says so');

------------------------------------------------------------------------------------------
-- Requirements merge with the project's
------------------------------------------------------------------------------------------
select is((kiln_api.submit_build('{"project":"ml","method":"script","params":{"script":"x"},
            "requirements":{"gpu":false,"arch":["amd64","arm64"],"legacy_system":true}}')
          -> 'requirements'),
  '{"gpu":true,"high_memory":false,"airgapped":true,"legacy_system":true,
    "arch":["amd64","arm64"]}'::jsonb,
  'requires_gpu makes gpu true, project flags are or-ed in, arch lists are united');
select is((kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"}}')
          -> 'requirements'),
  '{"gpu":false,"high_memory":false,"airgapped":false,"legacy_system":false}'::jsonb,
  'no requirements on either side: every flag false and no arch');
select is((kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"},
            "requirements":{"arch":["s390x"],"custom_hardware":"fpga"}}') -> 'requirements'),
  '{"gpu":false,"high_memory":false,"airgapped":false,"legacy_system":false,
    "arch":["s390x"],"custom_hardware":"fpga"}'::jsonb,
  'the build''s own arch and custom_hardware are kept');

------------------------------------------------------------------------------------------
-- Invalid input: QC400 naming the field, and nothing written
------------------------------------------------------------------------------------------
create temp table counts_before as
  select (select count(*) from kiln.builds) b, (select count(*) from kiln.build_configs) c,
         (select count(*) from kiln.build_events) e;

select throws_ok($$select kiln_api.submit_build('[]')$$, 'QC400',
  'body must be an object, not array', 'a body that is not an object is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"colour":"red"}')$$, 'QC400',
  'unknown field colour (allowed: project, method, params, spec, requirements, infrastructure_type, force_infrastructure, priority, not_before)',
  'an unknown top-level field is refused');
select throws_ok($$select kiln_api.submit_build('{"method":"script","params":{"script":"x"}}')$$,
  'QC400', 'project is required', 'a missing project is refused');
select throws_ok($$select kiln_api.submit_build('{"project":42,"method":"script"}')$$, 'QC400',
  'project must be a string, not number', 'a project that is not a string is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"nope","method":"script",
    "params":{"script":"x"}}')$$, 'QC422',
  'project nope does not exist; create it with POST /api/v1/projects',
  'an unknown project is QC422');
select throws_ok($$select kiln_api.submit_build('{"project":"web"}')$$, 'QC400',
  'method is required', 'a missing method is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"make"}')$$, 'QC400',
  'method make is not one of docker, buildx, packer, nix, paketo, script',
  'an unknown method is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script","params":[]}')$$,
  'QC400', 'params must be an object, not array', 'params that are not an object are refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x","foo":1}}')$$, 'QC400',
  'unknown field params.foo (allowed: script, git_url, git_revision, image, workdir)',
  'an unknown param is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script","params":{}}')$$,
  'QC400', 'params.script is required for script builds', 'a missing required param is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script"}')$$,
  'QC400', 'params.script is required for script builds', 'no params at all: the required one is named');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"   "}}')$$, 'QC400', 'params.script is required for script builds',
  'a blank required param counts as missing');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"docker",
    "params":{"git_url":"https://x/y.git"}}')$$, 'QC400', 'params.image is required for docker builds',
  'each method''s required params are enforced (docker needs image)');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":{"run":"x"}}}')$$, 'QC400',
  'params.script must be a string, number or boolean', 'a param value that is an object is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":"big"}')$$, 'QC400', 'spec must be an object, not string',
  'a spec that is not an object is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"gpus":1}}')$$, 'QC400',
  'unknown field spec.gpus (allowed: cpu, memory_gb, disk_gb, time_budget_min, cache_keys, oom_retry)',
  'an unknown spec field is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"cpu":"2"}}')$$, 'QC400', 'spec.cpu must be a number, not string',
  'spec.cpu of the wrong type is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"cpu":65}}')$$, 'QC400',
  'spec.cpu must be between 0.1 and 64 cores, got 65', 'spec.cpu above 64 is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"cpu":0.05}}')$$, 'QC400',
  'spec.cpu must be between 0.1 and 64 cores, got 0.05', 'spec.cpu below 0.1 is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"memory_gb":0.1}}')$$, 'QC400',
  'spec.memory_gb must be between 0.125 and 512, got 0.1', 'spec.memory_gb below 0.125 is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"memory_gb":513}}')$$, 'QC400',
  'spec.memory_gb must be between 0.125 and 512, got 513', 'spec.memory_gb above 512 is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"disk_gb":0}}')$$, 'QC400',
  'spec.disk_gb must be between 1 and 4096, got 0', 'spec.disk_gb below 1 is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"time_budget_min":1.5}}')$$, 'QC400',
  'spec.time_budget_min must be an integer, not number', 'a fractional time_budget_min is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"time_budget_min":1441}}')$$, 'QC400',
  'spec.time_budget_min must be between 1 and 1440 minutes, got 1441',
  'a time_budget_min above a day is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"cache_keys":"deps"}}')$$, 'QC400',
  'spec.cache_keys must be an array, not string', 'cache_keys that are not an array are refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"cache_keys":["go-mod","has space"]}}')$$, 'QC400',
  'spec.cache_keys must be strings of 1-200 characters from A-Z a-z 0-9 . _ : / @ -',
  'a cache key with a forbidden character is refused');
select throws_ok(format($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"cache_keys":%s}}')$$,
    (select jsonb_agg('k' || i) from generate_series(1, 21) i)), 'QC400',
  'spec.cache_keys holds at most 20 keys', 'more than 20 cache keys are refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"oom_retry":"yes"}}')$$, 'QC400',
  'spec.oom_retry must be a boolean, not string', 'a non-boolean oom_retry is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"requirements":{"arch":["x86"]}}')$$, 'QC400',
  'requirements.arch must be a non-empty list of amd64, arm64, ppc64le, s390x, riscv64',
  'an unknown arch is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"requirements":{"arch":[]}}')$$, 'QC400',
  'requirements.arch must be a non-empty list of amd64, arm64, ppc64le, s390x, riscv64',
  'an empty arch list is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"requirements":{"gpu":"yes"}}')$$, 'QC400',
  'requirements.gpu must be a boolean, not string', 'a non-boolean requirements.gpu is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"requirements":{"tpu":true}}')$$, 'QC400',
  'unknown field requirements.tpu (allowed: gpu, high_memory, airgapped, legacy_system, arch, custom_hardware)',
  'an unknown requirement is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"infrastructure_type":"gpu"}')$$, 'QC400',
  'infrastructure_type gpu is not one of auto, kubernetes, build_nodes',
  'an unknown infrastructure_type is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"force_infrastructure":"true"}')$$, 'QC400',
  'force_infrastructure must be a boolean, not string', 'a non-boolean force_infrastructure is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"infrastructure_type":"auto","force_infrastructure":true}')$$, 'QC400',
  'force_infrastructure needs infrastructure_type kubernetes or build_nodes',
  'forcing auto is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"force_infrastructure":true}')$$, 'QC400',
  'force_infrastructure needs infrastructure_type kubernetes or build_nodes',
  'forcing without naming a type is refused (the default is auto)');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"priority":101}')$$, 'QC400', 'priority must be between -100 and 100',
  'priority above 100 is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"priority":-101}')$$, 'QC400', 'priority must be between -100 and 100',
  'priority below -100 is refused');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"priority":1e30}')$$, 'QC400', 'priority must be between -100 and 100',
  'a huge priority is refused, not an integer overflow');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"priority":1.5}')$$, 'QC400', 'priority must be an integer, not number',
  'a fractional priority is refused');

-- The DETAIL carries the code and the field.
select is(test.error_detail($$select kiln_api.submit_build('[]')$$),
  '{"code":"invalid_type","field":"body"}'::jsonb, 'detail of a non-object body');
select is(test.error_detail($$select kiln_api.submit_build('{"project":"nope","method":"script"}')$$),
  '{"code":"project_not_found","field":"project"}'::jsonb, 'detail of an unknown project');
select is(test.error_detail($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x","foo":1}}')$$),
  '{"code":"unknown_field","field":"params.foo"}'::jsonb, 'detail of an unknown param');
select is(test.error_detail($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{}}')$$),
  '{"code":"missing_field","field":"params.script"}'::jsonb, 'detail of a missing param');
select is(test.error_detail($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"cpu":100}}')$$),
  '{"code":"invalid_value","field":"spec.cpu"}'::jsonb, 'detail of spec.cpu out of range');
select is(test.error_detail($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"spec":{"time_budget_min":1.5}}')$$),
  '{"code":"invalid_type","field":"spec.time_budget_min"}'::jsonb,
  'detail of a fractional time budget');
select is(test.error_detail($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"requirements":{"arch":["x86"]}}')$$),
  '{"code":"invalid_value","field":"requirements.arch"}'::jsonb, 'detail of a bad arch');

------------------------------------------------------------------------------------------
-- Permissions, as the API role
------------------------------------------------------------------------------------------
set local role kiln_web;
select test.act_as(:'dev');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"infrastructure_type":"kubernetes","force_infrastructure":true}')$$,
  'QC403', 'force_infrastructure needs the infrastructure:manage permission',
  'a developer may not force an infrastructure');
select is(test.error_detail($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"infrastructure_type":"kubernetes","force_infrastructure":true}')$$),
  '{"code":"forbidden","field":"force_infrastructure"}'::jsonb, 'the 403 names force_infrastructure');
select is((kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"},
            "infrastructure_type":"build_nodes"}') ->> 'infrastructure_type'), 'build_nodes',
  'a developer may pick an available infrastructure type without forcing it');
select test.act_as(:'viewer');
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"},"infrastructure_type":"kubernetes"}')$$, 'QC403',
  'choosing an infrastructure_type needs the build:create:with-infra permission',
  'a viewer may not pick an infrastructure type');
select test.act_as(:'admin');
select is((kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"},
            "infrastructure_type":"kubernetes","force_infrastructure":true}')
          ->> 'force_infrastructure')::boolean, true,
  'an admin holding infrastructure:manage may force, as the API role too');
select test.act_as_tenant(null);
select throws_ok($$select kiln_api.submit_build('{"project":"web","method":"script",
    "params":{"script":"x"}}')$$, 'QC400',
  'no tenant in this session: set kiln.tenant_id to the tenant''s id first',
  'without a tenant nothing can be submitted');
reset role;

select results_eq(
  $$select (select count(*) from kiln.builds) - 2, (select count(*) from kiln.build_configs) - 2,
           (select count(*) from kiln.build_events) - 2$$,
  $$select b, c, e from counts_before$$,
  'the refused submits wrote nothing (only the two accepted API-role submits were added)');

------------------------------------------------------------------------------------------
-- A DBA (not the API role) acting for a tenant uses that tenant's project
------------------------------------------------------------------------------------------
select test.act_as_tenant(:'tenant');
select (kiln_api.submit_build('{"project":"web","method":"script","params":{"script":"x"}}')
        ->> 'id') as dba_build \gset
select is((select b.project_id from kiln.builds b where b.id = :'dba_build'),
  :'web'::uuid, 'submit_build looks the project up in the session''s tenant only');
select is((select count(*)::int from kiln.builds b join kiln.projects p on p.id = b.project_id
            where b.tenant_id <> p.tenant_id), 0, 'no build belongs to another tenant''s project');

select * from finish();
rollback;
