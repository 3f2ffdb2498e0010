-- kiln_api.list_builds: the tenant's builds newest first, filtered by status (one or a
-- comma-separated list) and project, paged by next_cursor so that walking the pages
-- returns every build exactly once. Bad arguments are QC400 naming the argument.
begin;
select plan(24);

select test.make_tenant('acme') as acme \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_project(:'acme', 'web') as web \gset
select test.make_project(:'acme', 'api') as api \gset

-- 25 builds: 19 of web, 6 of api; created in threes at the same microsecond, so the
-- order and the cursor must break ties by id.
create temp table seeded as
  select n, test.make_build(:'acme', case when n % 4 = 0 then 'api' else 'web' end) as id
    from generate_series(1, 25) n;
update kiln.builds b set created_at = '2030-01-01 00:00:00.123457+00'::timestamptz
                                     + (s.n / 3) * interval '1.000001 second'
  from seeded s where s.id = b.id;
select kiln_api.start_build(id) from seeded where n % 3 = 1;          -- 9 queued
select kiln_api.cancel_build(id) from seeded where n % 3 = 2 and n < 20; -- 6 cancelled

set local role kiln_web;
select test.act_as(:'dev');

create temp view newest_first as
  select id, row_number() over (order by created_at desc, id desc) as pos
    from kiln.builds;
grant select on newest_first to kiln_web;

------------------------------------------------------------------------------------------
-- Order and filters
------------------------------------------------------------------------------------------
select is(jsonb_array_length(kiln_api.list_builds(null, null, null, null) -> 'items'), 25,
  'without arguments: all 25 builds (the default limit is 50)');
select is(kiln_api.list_builds(null, null, null, null) -> 'next_cursor', 'null'::jsonb,
  'one page only: next_cursor is null');
select results_eq(
  $$select (i ->> 'id')::uuid from jsonb_array_elements(
      kiln_api.list_builds(null, null, 50, null) -> 'items') i$$,
  $$select id from newest_first order by pos$$,
  'newest first, ties broken by id');
select is((select (b.created_at)::text from kiln.builds b
            where b.id = (kiln_api.list_builds(null, null, 1, null) -> 'items' -> 0 ->> 'id')::uuid),
  (select max(created_at)::text from kiln.builds), 'the first item is the newest');
select is((kiln_api.list_builds(null, null, 1, null) -> 'items' -> 0) - array['id', 'created_at',
            'updated_at', 'queued_at', 'started_at', 'finished_at', 'failure_reason', 'status', 'project'],
  '{"method":"script","priority":0,"attempt":1,"infrastructure_type":"auto"}'::jsonb,
  'an item carries method, priority, attempt and infrastructure_type');

select is((select count(*)::int from jsonb_array_elements(
             kiln_api.list_builds('queued', null, 50, null) -> 'items') i where i ->> 'status' = 'queued'),
  9, 'status=queued: the 9 queued builds');
select is(jsonb_array_length(kiln_api.list_builds('queued', null, 50, null) -> 'items'), 9,
  'and nothing else');
select is((select jsonb_object_agg(s, n) from (
             select i ->> 'status' s, count(*) n from jsonb_array_elements(
               kiln_api.list_builds('queued,cancelled', null, 50, null) -> 'items') i group by 1) x),
  '{"queued":9,"cancelled":6}'::jsonb, 'a comma list filters on several statuses');
select is(jsonb_array_length(kiln_api.list_builds('running', null, 50, null) -> 'items'), 0,
  'a status no build has: an empty list');
select is((select count(*)::int from jsonb_array_elements(
             kiln_api.list_builds(null, 'api', 50, null) -> 'items') i where i ->> 'project' = 'api'),
  6, 'project=api: its 6 builds');
select is(jsonb_array_length(kiln_api.list_builds(null, 'api', 50, null) -> 'items'), 6,
  'and only those');
select is(kiln_api.list_builds(null, 'nope', 50, null), '{"items":[],"next_cursor":null}'::jsonb,
  'an unknown project lists nothing');

select throws_ok($$select kiln_api.list_builds('queued,done', null, 50, null)$$, 'QC400',
  'status done is not one of pending, queued, dispatching, running, succeeded, failed, cancelled, timed_out',
  'an unknown status is refused');
select is(test.error_detail($$select kiln_api.list_builds('bogus', null, 50, null)$$),
  '{"code":"invalid_value","field":"status"}'::jsonb, 'the 400 names status');
select throws_ok($$select kiln_api.list_builds(null, null, 0, null)$$, 'QC400',
  'limit must be between 1 and 200', 'limit 0 is refused');
select throws_ok($$select kiln_api.list_builds(null, null, 201, null)$$, 'QC400',
  'limit must be between 1 and 200', 'limit 201 is refused');
select is(jsonb_array_length(kiln_api.list_builds(null, null, 200, null) -> 'items'), 25,
  'limit 200 is allowed');

------------------------------------------------------------------------------------------
-- Keyset pagination
------------------------------------------------------------------------------------------
create temp view walk4 as
  with recursive pages (n, page) as (
    select 1, kiln_api.list_builds(null, null, 4, null)
    union all
    select n + 1, kiln_api.list_builds(null, null, 4, page ->> 'next_cursor')
      from pages where page ->> 'next_cursor' is not null and n < 50)
  select p.n, jsonb_array_length(p.page -> 'items') as size, (i.item ->> 'id')::uuid as id, i.ord
    from pages p, jsonb_array_elements(p.page -> 'items') with ordinality i (item, ord);
grant select on walk4 to kiln_web;

select results_eq($$select id from walk4 order by n, ord$$, $$select id from newest_first order by pos$$,
  'walking pages of 4 returns every build exactly once, in order');
select results_eq($$select n, size from walk4 group by n, size order by n$$,
  $$values (1, 4), (2, 4), (3, 4), (4, 4), (5, 4), (6, 4), (7, 1)$$,
  'six full pages and a last one of 1; the last page has no next_cursor');
select is((with recursive pages (n, page) as (
             select 1, kiln_api.list_builds(null, null, 5, null)
             union all
             select n + 1, kiln_api.list_builds(null, null, 5, page ->> 'next_cursor')
               from pages where page ->> 'next_cursor' is not null and n < 50)
           select count(*)::int from pages), 5,
  '25 builds in pages of 5: five pages, no empty sixth');
select is((with recursive pages (n, page) as (
             select 1, kiln_api.list_builds('queued,cancelled', null, 2, null)
             union all
             select n + 1, kiln_api.list_builds('queued,cancelled', null, 2, page ->> 'next_cursor')
               from pages where page ->> 'next_cursor' is not null and n < 50)
           select count(distinct i ->> 'id')::int from pages, jsonb_array_elements(page -> 'items') i
            where i ->> 'status' in ('queued', 'cancelled')), 15,
  'paging a filtered list walks all 15 matching builds');

select throws_ok($$select kiln_api.list_builds(null, null, 4, 'not-a-cursor')$$, 'QC400',
  'cursor is not a next_cursor returned by this endpoint', 'a malformed cursor is refused');
select throws_ok(format('select kiln_api.list_builds(null, null, 4, %L)',
                        translate(encode(convert_to('yesterday/xyz', 'UTF8'), 'base64'), '+/', '-_')),
  'QC400', 'cursor is not a next_cursor returned by this endpoint',
  'a well-encoded cursor holding garbage is refused');
select is(test.error_detail($$select kiln_api.list_builds(null, null, 4, '!!')$$),
  '{"code":"invalid_value","field":"cursor"}'::jsonb, 'the 400 names cursor');

reset role;
select * from finish();
rollback;
