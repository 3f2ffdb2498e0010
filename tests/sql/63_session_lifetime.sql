-- Page sessions with a lifetime (sessions.sql): an idle timeout and an absolute timeout
-- from kiln.settings, and revocation by an admin of the tenant (list_web_sessions,
-- revoke_web_session), audited; the list never shows a session's hash or CSRF token.
begin;
select plan(16);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('zeta') as zeta \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_user(:'zeta', 'zed', 'admin') as zed \gset
select test.make_token(:'ann', 'ann-token');
select test.make_token(:'dev', 'dev-token');
select test.make_token(:'zed', 'zed-token');
update kiln.settings set value = 30 where key = 'web_session_idle_minutes';
update kiln.settings set value = 2 where key = 'web_session_hours';

set local role kiln_web;
select count(*) from kiln_api.session_start(test.sha('ann-token'), test.sha('s-idle'), repeat('a', 43), 'ua', now());
select count(*) from kiln_api.session_start(test.sha('ann-token'), test.sha('s-abs'), repeat('b', 43), 'ua', now());
select count(*) from kiln_api.session_start(test.sha('dev-token'), test.sha('s-dev'), repeat('c', 43), 'ua', now());
select count(*) from kiln_api.session_start(test.sha('zed-token'), test.sha('s-zed'), repeat('d', 43), 'ua', now());

------------------------------------------------------------------------------------------
-- idle timeout: set last_seen_at back
------------------------------------------------------------------------------------------
select isnt_empty($$select * from kiln_api.session_authenticate(test.sha('s-idle'))$$, 'a fresh session is live');
reset role;
update kiln.web_sessions set last_seen_at = now() - interval '29 minutes' where session_sha256 = test.sha('s-idle');
set local role kiln_web;
select isnt_empty($$select * from kiln_api.session_authenticate(test.sha('s-idle'))$$,
  'used 29 minutes ago: still live (idle timeout 30 minutes)');
reset role;
select ok((select last_seen_at > now() - interval '1 minute' from kiln.web_sessions where session_sha256 = test.sha('s-idle')),
  'and the use moved last_seen_at forward');
update kiln.web_sessions set last_seen_at = now() - interval '31 minutes' where session_sha256 = test.sha('s-idle');
set local role kiln_web;
select is_empty($$select * from kiln_api.session_authenticate(test.sha('s-idle'))$$,
  'unused for 31 minutes: ended');

------------------------------------------------------------------------------------------
-- absolute timeout: however busy, a session ends web_session_hours after sign-in
------------------------------------------------------------------------------------------
reset role;
select is((select expires_at - created_at from kiln.web_sessions where session_sha256 = test.sha('s-abs')),
  interval '2 hours', 'a session''s absolute end is web_session_hours after sign-in');
update kiln.web_sessions set created_at = now() - interval '2 hours', expires_at = now() - interval '1 second',
                             last_seen_at = now() where session_sha256 = test.sha('s-abs');
set local role kiln_web;
select is_empty($$select * from kiln_api.session_authenticate(test.sha('s-abs'))$$,
  'used a moment ago but past its absolute end: ended');

------------------------------------------------------------------------------------------
-- admins list and revoke the tenant's sessions
------------------------------------------------------------------------------------------
select test.act_as(:'ann');
select kiln_api.list_web_sessions() as listed \gset
select is((select array_agg(i ->> 'user' order by i ->> 'user', i ->> 'active')
             from jsonb_array_elements(:'listed'::jsonb -> 'items') i),
  array['ann', 'ann', 'dev'], 'the list holds the tenant''s sessions (not zeta''s)');
select is((select count(*)::int from jsonb_array_elements(:'listed'::jsonb -> 'items') i where (i ->> 'active')::boolean),
  1, 'and says which are live (the idle and the old one are not)');
select ok(:'listed' !~ (select encode(test.sha('s-dev'), 'hex')) and :'listed' !~ repeat('c', 43)
          and not :'listed' ~* 'sha256|csrf', 'no session hash or CSRF token is listed');
select (i ->> 'id') as dev_session from jsonb_array_elements(:'listed'::jsonb -> 'items') i where i ->> 'user' = 'dev' \gset
select kiln_api.revoke_web_session(:'dev_session') ->> 'revoked_at' as dev_revoked \gset
select ok(:'dev_revoked'::timestamptz = now(), 'an admin revokes dev''s session');
select test.act_as_tenant(null);
select is_empty($$select * from kiln_api.session_authenticate(test.sha('s-dev'))$$, 'which then no longer works');
select test.act_as(:'ann');
select is(kiln_api.revoke_web_session(:'dev_session', now() + interval '1 hour') ->> 'revoked_at', :'dev_revoked',
  'revoking again changes nothing');
select test.act_as(:'zed');
select is(test.error_detail(format('select kiln_api.revoke_web_session(%L)', :'dev_session')),
  '{"code": "not_found", "field": "id"}', 'another tenant''s admin cannot revoke it (404)');
select test.act_as_tenant(null);
select is(test.error_detail('select kiln_api.list_web_sessions()'), '{"code": "no_tenant", "field": null}',
  'listing needs a tenant');
select isnt_empty($$select * from kiln_api.session_authenticate(test.sha('s-zed'))$$, 'zeta''s session is untouched');
reset role;
select is((select count(*)::int from kiln.audit_log where action = 'session.revoke' and actor_user_id = :'ann'
             and object_id = :'dev_session'), 1, 'the revocation wrote one audit row naming the admin');

select * from finish();
rollback;
