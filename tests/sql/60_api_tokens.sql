-- API tokens with a lifetime (sql/api/tokens.sql, authenticate in context.sql): created
-- with an expiry (default 90 days, 1..365), listed without hashes, revoked, rotated with a
-- grace during which both work; expiry is enforced at authentication, last_used_at is
-- written at most once a minute, refusals say why, and every change is audited.
begin;
select plan(35);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('zeta') as zeta \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_user(:'acme', 'bob', 'developer') as bob \gset
select test.make_user(:'zeta', 'zed', 'admin') as zed \gset
select test.make_token(:'zed', 'zed-token') as zed_token \gset

set local role kiln_web;
select test.act_as(:'ann');

------------------------------------------------------------------------------------------
-- create
------------------------------------------------------------------------------------------
select kiln_api.create_api_token('{"name": "ci"}', test.sha('t-ci'), '2030-01-01 00:00+00') as created \gset
select is(:'created'::jsonb ->> 'user', 'ann', 'a token is for the caller by default');
select is((:'created'::jsonb ->> 'expires_at')::timestamptz, '2030-04-01 00:00+00'::timestamptz,
  'and expires 90 days later by default');
select ok(not (:'created'::jsonb ? 'token') and not (:'created'::text ~* 'sha|hash'),
  'the answer carries neither the token nor its hash');
select is((select token_sha256 from kiln.api_tokens where id = (:'created'::jsonb ->> 'id')::uuid), test.sha('t-ci'),
  'only the SHA-256 is stored');
select is(kiln_api.create_api_token('{"name": "bob-cli", "user": "bob", "expires_in_days": 1}', test.sha('t-bob'),
                                    '2030-01-01 00:00+00') - array['id', 'created_at', 'last_used_at', 'revoked_at'],
  '{"user": "bob", "name": "bob-cli", "expires_at": "2030-01-02T00:00:00+00:00"}'::jsonb,
  'an admin may create one for another user of the tenant, for 1 day');
select is(test.error_detail($$select kiln_api.create_api_token('{"name": "x", "user": "zed"}', test.sha('t-x'))$$),
  '{"code": "not_found", "field": "user"}', 'a user of another tenant is not found');
select is(test.error_detail($$select kiln_api.create_api_token('{"name": "x", "expires_in_days": 366}', test.sha('t-x'))$$),
  '{"code": "invalid_value", "field": "expires_in_days"}', 'expires_in_days above 365 is refused');
select is(test.error_detail($$select kiln_api.create_api_token('{"name": "x", "expires_in_days": 0}', test.sha('t-x'))$$),
  '{"code": "invalid_value", "field": "expires_in_days"}', 'and 0');
select is(test.error_detail($$select kiln_api.create_api_token('{"name": "x", "expires_in_days": 1.5}', test.sha('t-x'))$$),
  '{"code": "invalid_type", "field": "expires_in_days"}', 'and a fraction');
select is(test.error_detail($$select kiln_api.create_api_token('{}', test.sha('t-x'))$$),
  '{"code": "missing_field", "field": "name"}', 'a name is required');
select is(test.error_detail($$select kiln_api.create_api_token('{"name": "x", "scope": "all"}', test.sha('t-x'))$$),
  '{"code": "unknown_field", "field": "scope"}', 'unknown fields are refused');
select is((select count(*)::int from kiln.api_tokens where token_sha256 = test.sha('t-x')), 0,
  'refused creations stored nothing');

------------------------------------------------------------------------------------------
-- list
------------------------------------------------------------------------------------------
select is((select array_agg(i ->> 'name' order by i ->> 'name')
             from jsonb_array_elements(kiln_api.list_api_tokens() -> 'items') i),
  array['bob-cli', 'ci'], 'the list holds the tenant''s tokens only');
select ok(not kiln_api.list_api_tokens()::text ~* 'sha256|hash|token"',
  'and no token or hash');

------------------------------------------------------------------------------------------
-- last_used_at: at most one write a minute
------------------------------------------------------------------------------------------
select test.act_as_tenant(null);
select count(*) from kiln_api.authenticate(test.sha('t-ci'), '2030-01-02 10:00:00+00');
reset role;
select ctid::text as ctid_before from kiln.api_tokens where token_sha256 = test.sha('t-ci') \gset
set local role kiln_web;
select count(*) from kiln_api.authenticate(test.sha('t-ci'), '2030-01-02 10:00:40+00');
reset role;
select is((select (last_used_at, ctid::text)::text from kiln.api_tokens where token_sha256 = test.sha('t-ci')),
  ('2030-01-02 10:00:00+00'::timestamptz, :'ctid_before')::text,
  'a second use within the minute writes nothing (same value, same row version)');
set local role kiln_web;
select count(*) from kiln_api.authenticate(test.sha('t-ci'), '2030-01-02 10:01:01+00');
select test.act_as(:'ann');
select is((select (i ->> 'last_used_at')::timestamptz from jsonb_array_elements(kiln_api.list_api_tokens() -> 'items') i
            where i ->> 'name' = 'ci'), '2030-01-02 10:01:01+00'::timestamptz,
  'a use over a minute later is recorded and listed');

------------------------------------------------------------------------------------------
-- expiry at authentication, and the reason of a refusal
------------------------------------------------------------------------------------------
select test.act_as_tenant(null);
select isnt_empty($$select * from kiln_api.authenticate(test.sha('t-ci'), '2030-03-31 23:59+00')$$,
  'a token works until its expiry');
select is_empty($$select * from kiln_api.authenticate(test.sha('t-ci'), '2030-04-01 00:00+00')$$,
  'and not from then on');
select is(kiln_api.token_refusal(test.sha('t-ci'), '2030-04-01 00:00+00'), 'token_expired',
  'the refusal says it expired');
select is(kiln_api.token_refusal(test.sha('unknown'), '2030-04-01 00:00+00'), null, 'an unknown token has no reason');

select test.act_as(:'ann');

------------------------------------------------------------------------------------------
-- rotate with a grace
------------------------------------------------------------------------------------------
select (:'created'::jsonb ->> 'id') as ci_id \gset
select kiln_api.rotate_api_token(:'ci_id', '{"grace_seconds": 600}', test.sha('t-ci-2'), '2030-01-10 00:00+00')
  as rotated \gset
select isnt(:'rotated'::jsonb ->> 'id', :'ci_id', 'rotation issues a new token');
select is(:'rotated'::jsonb - array['id', 'created_at', 'last_used_at', 'revoked_at'],
  '{"user": "ann", "name": "ci", "expires_at": "2030-04-10T00:00:00+00:00"}'::jsonb,
  'for the same user and name, with the old one''s lifetime');
select is((select expires_at from kiln.api_tokens where id = :'ci_id'), '2030-01-10 00:10+00'::timestamptz,
  'the old token now expires after the grace');
select test.act_as_tenant(null);
select ok(exists (select from kiln_api.authenticate(test.sha('t-ci'), '2030-01-10 00:09+00'))
          and exists (select from kiln_api.authenticate(test.sha('t-ci-2'), '2030-01-10 00:09+00')),
  'during the grace both tokens work');
select ok(not exists (select from kiln_api.authenticate(test.sha('t-ci'), '2030-01-10 00:10+00'))
          and exists (select from kiln_api.authenticate(test.sha('t-ci-2'), '2030-01-10 00:10+00')),
  'after it only the new one does');
select test.act_as(:'ann');
select is(test.error_detail(format($$select kiln_api.rotate_api_token(%L, '{"grace_seconds": 86401}', test.sha('t-y'))$$,
                                   :'ci_id')),
  '{"code": "invalid_value", "field": "grace_seconds"}', 'a grace over a day is refused');
select is(test.error_detail(format($$select kiln_api.rotate_api_token(%L, '{}', test.sha('t-y'))$$, :'zed_token')),
  '{"code": "not_found", "field": "id"}', 'another tenant''s token is not found');

------------------------------------------------------------------------------------------
-- revoke
------------------------------------------------------------------------------------------
select ok(kiln_api.revoke_api_token((:'rotated'::jsonb ->> 'id')::uuid, '2030-01-11 00:00+00') ->> 'revoked_at' is not null,
  'revoking answers the token with its revoked_at');
select test.act_as_tenant(null);
select is_empty($$select * from kiln_api.authenticate(test.sha('t-ci-2'), '2030-01-11 00:01+00')$$,
  'a revoked token no longer authenticates');
select is(kiln_api.token_refusal(test.sha('t-ci-2'), '2030-01-11 00:01+00'), 'token_revoked', 'and is told so');
select test.act_as(:'ann');
select is(kiln_api.revoke_api_token((:'rotated'::jsonb ->> 'id')::uuid, '2030-02-01 00:00+00') ->> 'revoked_at',
  '2030-01-11T00:00:00+00:00', 'revoking again changes nothing');
select is(test.error_detail(format($$select kiln_api.rotate_api_token(%L, '{}', test.sha('t-z'))$$,
                                   :'rotated'::jsonb ->> 'id')),
  '{"code": "token_inactive", "field": "id"}', 'a revoked token cannot be rotated');
select is(test.error_detail(format($$select kiln_api.revoke_api_token(%L)$$, :'zed_token')),
  '{"code": "not_found", "field": "id"}', 'nor another tenant''s revoked');

------------------------------------------------------------------------------------------
-- audit
------------------------------------------------------------------------------------------
reset role;
select is((select array_agg(action order by id) from kiln.audit_log where tenant_id = :'acme'),
  array['token.create', 'token.create', 'token.rotate', 'token.revoke'],
  'each create, rotation and revocation wrote one audit row (the refused ones none)');
select is((select count(*)::int from kiln.audit_log where tenant_id = :'acme' and actor_user_id = :'ann'), 4,
  'naming the admin who did it');

select * from finish();
rollback;
