-- Row-level security covers every table that carries a tenant: each table (or partition)
-- of schema kiln with a tenant_id column has RLS enabled and forced and at least one policy
-- for the API role, so a new table without them fails here. Views the API role can read run
-- with the caller's rights (security_invoker), so RLS applies through them too.
begin;
select plan(7);

create temp view tenant_tables as
  select c.oid, c.relname::text as name, c.relrowsecurity, c.relforcerowsecurity
    from pg_class c
    join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
   where c.relnamespace = 'kiln'::regnamespace and c.relkind in ('r', 'p');

select cmp_ok((select count(*)::int from tenant_tables), '>=', 20, 'the check finds the tenant tables');
select is_empty($$select name from tenant_tables where not relrowsecurity$$,
  'every table with a tenant_id has row-level security enabled');
select is_empty($$select name from tenant_tables where not relforcerowsecurity$$,
  'and forced (the owner is subject to it too)');
select is_empty($$select t.name from tenant_tables t
                   where not exists (select from pg_policy p where p.polrelid = t.oid
                                        and (p.polroles = '{0}' or 'kiln_web'::regrole = any (p.polroles)))$$,
  'and has a policy for the API role');
select is_empty($$select t.name from tenant_tables t
                   where has_table_privilege('kiln_web', t.oid, 'select')
                     and not exists (select from pg_policy p where p.polrelid = t.oid
                                        and 'kiln_web'::regrole = any (p.polroles)
                                        and pg_get_expr(p.polqual, p.polrelid) ~ 'current_tenant_id')$$,
  'every policy of a table the API role reads is keyed on the request''s tenant');
select is_empty($$select c.oid::regclass::text from pg_class c
                   where c.relkind = 'v' and c.relnamespace in ('kiln'::regnamespace, 'kiln_api'::regnamespace)
                     and has_table_privilege('kiln_web', c.oid, 'select')
                     and not coalesce('security_invoker=true' = any (c.reloptions), false)$$,
  'every view the API role can read runs with the caller''s rights');

-- Through such a view the caller sees only its tenant's rows.
select test.make_tenant('acme') as acme \gset
select test.make_tenant('globex') as globex \gset
select test.make_user(:'acme', 'alice') as alice \gset
select test.make_project(:'acme', 'a-web') as a_web \gset
select test.make_project(:'globex', 'g-web') as g_web \gset
create view kiln_api.test_projects with (security_invoker = true) as select id, name from kiln.projects;
grant select on kiln_api.test_projects to kiln_web;
set local role kiln_web;
select test.act_as(:'alice');
select results_eq($$select name::text from kiln_api.test_projects order by 1$$, $$values ('a-web')$$,
  'a security_invoker view shows the API role its own tenant''s rows only');
reset role;

select * from finish();
rollback;
