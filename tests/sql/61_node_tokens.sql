-- Node tokens with a lifetime (build_nodes.sql rotate_node_token, agent.sql
-- authenticate_node): a token expires node_token_days after it was issued; rotation issues
-- a new one while the old one keeps working for the grace, then fails; rotating is the
-- tenant admin's, audited, and stays inside the tenant.
begin;
select plan(17);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('zeta') as zeta \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_user(:'zeta', 'zed', 'admin') as zed \gset

set local role kiln_web;
select test.act_as(:'ann');
select kiln_api.register_build_node('{"name": "n1", "labels": {"arch": "amd64"}}', test.sha('node-old')) ->> 'id'
  as n1 \gset
reset role;
select is((select round(extract(epoch from token_expires_at - now()) / 86400) from kiln.build_nodes where id = :'n1'),
  90::numeric, 'a registered node''s token expires node_token_days (90) later');
select ok((select kiln_api.build_node_json(n) ->> 'credential_expires_at' is not null from kiln.build_nodes n
            where id = :'n1'), 'the node''s JSON says when (not the hash)');
update kiln.build_nodes set token_expires_at = '2030-06-01 00:00+00' where id = :'n1';

------------------------------------------------------------------------------------------
-- expiry
------------------------------------------------------------------------------------------
select is((kiln_api.authenticate_node(test.sha('node-old'), '2030-05-31 23:59+00')).id, :'n1'::uuid,
  'a node token works until its expiry');
select is(test.error_detail($$select kiln_api.authenticate_node(test.sha('node-old'), '2030-06-01 00:00+00')$$),
  '{"code": "node_token_expired", "field": null}', 'and is refused as expired from then on');
select is(test.error_detail($$select kiln_api.agent_claim(test.sha('node-old'), '{}', '2030-06-01 00:00+00')$$),
  '{"code": "node_token_expired", "field": null}', 'so is its claim');
select is(test.error_detail($$select kiln_api.authenticate_node(test.sha('never-issued'))$$),
  '{"code": "unauthorized", "field": null}', 'an unknown token is unauthorized');

------------------------------------------------------------------------------------------
-- rotation with a grace
------------------------------------------------------------------------------------------
set local role kiln_web;
select test.act_as(:'ann');
select kiln_api.rotate_node_token(:'n1', '{"grace_seconds": 120}', test.sha('node-new'), '2030-05-01 00:00+00')
  as rotated \gset
select is(:'rotated'::jsonb - 'id', '{"name": "n1", "expires_at": "2030-07-30T00:00:00+00:00",
  "previous_token_expires_at": "2030-05-01T00:02:00+00:00"}'::jsonb,
  'rotation: a new token for node_token_days, the old one until the grace ends');
reset role;
select is((kiln_api.authenticate_node(test.sha('node-old'), '2030-05-01 00:01:59+00')).id, :'n1'::uuid,
  'during the grace the old token works');
select is((kiln_api.authenticate_node(test.sha('node-new'), '2030-05-01 00:01:59+00')).id, :'n1'::uuid,
  'and so does the new one');
select is(test.error_detail($$select kiln_api.authenticate_node(test.sha('node-old'), '2030-05-01 00:02+00')$$),
  '{"code": "node_token_expired", "field": null}', 'after the grace the old token is refused');
select is((kiln_api.authenticate_node(test.sha('node-new'), '2030-05-01 00:02+00')).id, :'n1'::uuid,
  'the new one keeps working');

set local role kiln_web;
select test.act_as(:'ann');
select is(kiln_api.rotate_node_token(:'n1', '{"grace_seconds": 0}', test.sha('node-third'), '2030-05-02 00:00+00')
            -> 'previous_token_expires_at', 'null'::jsonb, 'a rotation without grace ends the old token at once');
reset role;
select is(test.error_detail($$select kiln_api.authenticate_node(test.sha('node-new'), '2030-05-02 00:00+00')$$),
  '{"code": "unauthorized", "field": null}', 'the replaced token is gone');
select is(test.error_detail($$select kiln_api.authenticate_node(test.sha('node-old'), '2030-05-02 00:00+00')$$),
  '{"code": "unauthorized", "field": null}', 'and so is the one before it');

------------------------------------------------------------------------------------------
-- validation, tenancy, audit
------------------------------------------------------------------------------------------
set local role kiln_web;
select test.act_as(:'ann');
select is(test.error_detail(format($$select kiln_api.rotate_node_token(%L, '{"grace_seconds": -1}', test.sha('x'))$$, :'n1')),
  '{"code": "invalid_value", "field": "grace_seconds"}', 'a negative grace is refused');
select test.act_as(:'zed');
select is(test.error_detail(format($$select kiln_api.rotate_node_token(%L, '{}', test.sha('x'))$$, :'n1')),
  '{"code": "not_found", "field": "id"}', 'another tenant cannot rotate the node''s token');
reset role;
select is((select count(*)::int from kiln.audit_log where object_id = :'n1' and action = 'build_node.rotate_token'
             and actor_user_id = :'ann'), 2, 'each rotation wrote an audit row naming the admin');

select * from finish();
rollback;
