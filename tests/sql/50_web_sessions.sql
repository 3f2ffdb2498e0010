-- Page sessions (kiln_api.session_start / session_authenticate / session_end) and the page
-- queries (kiln_api.page_*): a session starts only from a valid token, lives on the server
-- as a hash, ends on sign-out, expiry, idleness or token revocation, and sets the same
-- context as authenticate; page queries see only the session's tenant.
begin;
select plan(23);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('zeta') as zeta \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_user(:'zeta', 'zed', 'admin') as zed \gset
select test.make_token(:'ann', 'ann-token') as ann_token_id \gset
select test.make_token(:'dev', 'dev-token', p_expires_at => '2030-01-01 06:00+00');
select test.make_token(:'ann', 'ann-revoked', p_revoked_at => '2029-01-01');
select test.make_project(:'acme', 'web');
select test.make_project(:'zeta', 'secret');
select test.make_build(:'acme', 'web') as acme_build \gset
select test.make_build(:'zeta', 'secret') as zeta_build \gset

set local role kiln_web;

------------------------------------------------------------------------------------------
-- Starting a session
------------------------------------------------------------------------------------------
select is((select count(*)::int from kiln_api.session_start(test.sha('nope'), test.sha('s0'), repeat('c', 43), 'ua',
                                                              '2030-01-01')), 0,
  'an unknown token starts no session');
select is((select count(*)::int from kiln_api.session_start(test.sha('ann-revoked'), test.sha('s0'), repeat('c', 43),
                                                              'ua', '2030-01-01')), 0,
  'nor does a revoked one');
select results_eq(
  $$select user_id, expires_at from kiln_api.session_start(test.sha('ann-token'), test.sha('s1'), repeat('a', 43),
                                                           'Chromium', '2030-01-01 00:00+00')$$,
  format($$values (%L::uuid, '2030-01-01 12:00+00'::timestamptz)$$, :'ann'),
  'a valid token starts a session for its user that ends web_session_hours later');
select is((select expires_at from kiln_api.session_start(test.sha('dev-token'), test.sha('s2'), repeat('b', 43),
                                                         null, '2030-01-01 00:00+00')),
  '2030-01-01 06:00+00'::timestamptz, 'a session never outlives the token it started from');
select is(coalesce(current_setting('kiln.tenant_id', true), ''), '', 'starting a session sets no tenant');
reset role;
select is((select count(*)::int from kiln.web_sessions where session_sha256 = test.sha('s1') and user_agent = 'Chromium'),
  1, 'the session row holds the id''s hash');
select is((select count(*)::int from kiln.audit_log where action = 'session.start'), 2, 'each start is audited');
select ok(not has_table_privilege('kiln_web', 'kiln.web_sessions', 'select'),
  'the API role cannot read session rows directly');
set local role kiln_web;

------------------------------------------------------------------------------------------
-- Each page request
------------------------------------------------------------------------------------------
select results_eq(
  $$select user_id, tenant_id, csrf_token, user_name, tenant_name
      from kiln_api.session_authenticate(test.sha('s1'), '2030-01-01 01:00+00')$$,
  format($$values (%L::uuid, %L::uuid, repeat('a', 43), 'ann', 'acme')$$, :'ann', :'acme'),
  'a live session resolves to its user, tenant and CSRF token');
select is(current_setting('kiln.tenant_id'), :'acme', 'and sets the tenant like authenticate does');
select ok(kiln_api.has_permission('infrastructure:manage'), 'and the user''s permissions');
select is((select count(*)::int from kiln_api.session_authenticate(test.sha('s1'), '2030-01-01 03:30+00')), 0,
  'a session unused for web_session_idle_minutes has ended');
select is((select count(*)::int from kiln_api.session_authenticate(test.sha('s2'), '2030-01-01 06:00+00')), 0,
  'so has one past its expiry');
select is((select count(*)::int from kiln_api.session_authenticate(test.sha('unknown'), '2030-01-01 01:00+00')), 0,
  'an unknown cookie has no session');

------------------------------------------------------------------------------------------
-- Page queries see the session's tenant only
------------------------------------------------------------------------------------------
select is((select user_name from kiln_api.session_authenticate(test.sha('s1'), '2030-01-01 01:00+00')), 'ann',
  'a session seen within the idle limit is live again');
select is(jsonb_array_length(kiln_api.page_builds(null, null, 25, null) -> 'items'), 1,
  'the builds page lists the tenant''s build only');
select is(kiln_api.page_builds(null, null, 25, null) -> 'projects', '["web"]', 'and its projects');
select is((kiln_api.page_build(:'acme_build', 1000) ->> 'status'), 'pending', 'a build page shows the tenant''s build');
select is(test.error_of(format('select kiln_api.page_build(%L, 1000)', :'zeta_build')) ->> 'sqlstate', 'QC404',
  'another tenant''s build is not found');
select is((select sum((s ->> 'count')::int)::int from jsonb_array_elements(kiln_api.page_dashboard() -> 'builds_by_status') s),
  1, 'the dashboard counts the tenant''s builds only');
select is((select count(*)::int from jsonb_array_elements(kiln_api.page_audit_log(null, null, 50) -> 'items') a
            where a ->> 'action' = 'session.start'), 2, 'the audit page shows the tenant''s sign-ins');

------------------------------------------------------------------------------------------
-- Signing out
------------------------------------------------------------------------------------------
select ok(kiln_api.session_end(test.sha('s1')), 'sign-out ends a live session');
select is((select count(*)::int from kiln_api.session_authenticate(test.sha('s1'), '2030-01-01 01:00+00')), 0,
  'which then finds nothing');

select * from finish();
rollback;
