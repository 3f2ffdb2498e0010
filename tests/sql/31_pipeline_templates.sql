-- Pipeline templates (sql/api/pipeline_templates.sql): `kiln migrate` seeded one default
-- per method whose parameters are the method's; admins add versions and pick defaults;
-- templates whose parameters differ from the method's are refused naming the parameter;
-- seeding keeps existing versions and an admin's choice of default.
begin;
select plan(22);

select test.make_tenant('acme') as acme \gset
select test.make_user(:'acme', 'boss', 'admin') as boss \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset

select set_eq($$select build_method::text from kiln.pipeline_templates where is_default and source = 'seed'$$,
  array['docker', 'buildx', 'packer', 'nix', 'paketo', 'script'], 'kiln migrate seeded a default template per method');
select is_empty($$select m.method from kiln.build_methods m join kiln.pipeline_templates t
                   on t.build_method = m.method and t.is_default
                  where array(select p ->> 'name' from jsonb_array_elements(t.parameters) p order by 1)
                        <> array(select unnest(m.required_params || m.optional_params) order by 1)$$,
  'each declares exactly its method''s parameters');
select ok((select bool_and(template_yaml like '%:x-yaml}}%') from kiln.pipeline_templates),
  'and escapes its values for YAML');

set local role kiln_web;
select test.act_as(:'boss');
select is((select jsonb_array_length(kiln_api.list_pipeline_templates() -> 'items')), 6, 'the list has them all');
select is((select jsonb_array_length(kiln_api.list_pipeline_templates('nix') -> 'items')), 1, 'filtered by method');
select ok(not (kiln_api.list_pipeline_templates() -> 'items' -> 0 ? 'template_yaml'), 'the list leaves the text out');
select throws_ok($$select kiln_api.list_pipeline_templates('ant')$$, 'QC400',
  'method must be one of docker, buildx, packer, nix, paketo, script', 'an unknown method');

create temp table seeded as select id, template_yaml, parameters from kiln.pipeline_templates where build_method = 'script';
create temp table v2 as select kiln_api.create_pipeline_template(jsonb_build_object(
  'name', 'custom-script', 'method', 'script', 'version', '2.0.0', 'template_yaml', (select template_yaml from seeded),
  'parameters', (select parameters from seeded), 'description', 'second')) as j;
select is((select j - 'id' - 'created_at' from v2), jsonb_build_object('name', 'custom-script', 'method', 'script',
  'version', '2.0.0', 'description', 'second', 'is_default', false, 'source', 'api',
  'parameters', (select parameters from seeded)), 'a new version is added, not the default');
select is(test.error_detail(format($$select kiln_api.create_pipeline_template(jsonb_build_object(
  'name', 'custom-script', 'method', 'script', 'version', '2.0.0', 'template_yaml', 'x', 'parameters', %L::jsonb))$$,
  (select parameters from seeded))), '{"code":"conflict","field":"version"}'::jsonb, 'a version exists once');
select is(test.error_detail($$select kiln_api.create_pipeline_template('{"name":"t","method":"script","version":"1",
  "template_yaml":"x","parameters":[]}')$$), '{"code":"invalid_value","field":"version"}'::jsonb,
  'a version is semantic');
select throws_ok($$select kiln_api.create_pipeline_template('{"name":"t","method":"script","version":"1.0.0",
  "template_yaml":"x","parameters":[{"name":"script","required":true},{"name":"extra"}]}')$$, 'QC400',
  'parameter extra is not a parameter of script builds (they take script, git_url, git_revision, image, workdir)',
  'a parameter the method does not take');
select throws_ok($$select kiln_api.create_pipeline_template('{"name":"t","method":"script","version":"1.0.0",
  "template_yaml":"x","parameters":[{"name":"script","required":true}]}')$$, 'QC400',
  'the template must declare parameter git_url (script builds may pass it)', 'a parameter the method takes is missing');
select throws_ok($$select kiln_api.create_pipeline_template('{"name":"t","method":"docker","version":"1.0.0",
  "template_yaml":"x","parameters":[{"name":"git_url","required":true},{"name":"image"},{"name":"git_revision"},
  {"name":"dockerfile"},{"name":"context"}]}')$$, 'QC400',
  'parameter image is required for docker builds; declare it required', 'a required parameter declared optional');
select throws_ok($$select kiln_api.create_pipeline_template('{"name":"t","method":"docker","version":"1.0.0",
  "template_yaml":"x","parameters":[{"name":"git_url","required":true},{"name":"image","required":true},
  {"name":"git_revision","required":true},{"name":"dockerfile"},{"name":"context"}]}')$$, 'QC400',
  'parameter git_revision is optional for docker builds; the template must give it a default, not require it',
  'an optional parameter declared required');

select is((kiln_api.set_default_pipeline_template((select (j ->> 'id')::uuid from v2)) ->> 'is_default'), 'true',
  'an admin makes it the default');
select is((select array_agg(version) from kiln.pipeline_templates where build_method = 'script' and is_default),
  array['2.0.0']::varchar[], 'the one default of its method');

select test.act_as(:'dev');
select throws_ok(format($$select kiln_api.set_default_pipeline_template(%L)$$, (select id from seeded)), 'QC403',
  'this needs the infrastructure:manage permission', 'a developer cannot pick the default');
select throws_ok($$select kiln_api.create_pipeline_template('{}')$$, 'QC403',
  'this needs the infrastructure:configure permission', 'nor add a template');

reset role;
select is(kiln_api.seed_pipeline_template('custom-script', 'script', '1.0.0', (select template_yaml from seeded),
  (select parameters from seeded), ''), 'unchanged', 'seeding the same file again changes nothing');
select is(kiln_api.seed_pipeline_template('custom-script', 'script', '1.0.0', 'other text',
  (select parameters from seeded), ''), 'conflict', 'a changed file with the same version is reported, not applied');
select is(kiln_api.seed_pipeline_template('custom-script', 'script', '1.1.0', 'newer',
  (select parameters from seeded), ''), 'inserted', 'a newer seed does not replace an admin''s default');
select is(kiln_api.seed_pipeline_template('nix-build', 'nix', '1.1.0', 'newer',
  (select parameters from kiln.pipeline_templates where build_method = 'nix'), ''), 'inserted (default)',
  'but does replace the older seed it follows');

select * from finish();
rollback;
