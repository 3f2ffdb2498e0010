-- The audit log's hash chain (migration 0009, kiln_api.verify_audit_chain): every row is
-- chained in its tenant's chain, the log is append-only for every kiln role, and a row
-- edited or deleted by a superuser (bypassing the triggers) is caught and named.
begin;
select plan(22);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('globex') as globex \gset
select test.make_user(:'acme', 'alice') as alice \gset
select test.make_user(:'globex', 'gus') as gus \gset

insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
  select :'acme', :'alice', 'test.step', 'thing', n::text, jsonb_build_object('n', n)
    from generate_series(1, 5) n;
insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id)
  values (:'globex', :'gus', 'test.step', 'thing', 'g1');
insert into kiln.audit_log (action, object_type, object_id) values ('test.system', 'thing', 's1');

select results_eq($$select chain_seq from kiln.audit_log where tenant_id = '$$ || :'acme' || $$' order by id$$,
  $$values (1::bigint), (2), (3), (4), (5)$$, 'a tenant''s rows are numbered 1..n in their own chain');
select is((select chain_id from kiln.audit_log where action = 'test.system'),
  '00000000-0000-0000-0000-000000000000'::uuid, 'a row without a tenant goes to the system chain');
select is((select chain_seq from kiln.audit_log where tenant_id = :'globex'), 1::bigint,
  'another tenant''s chain starts at 1: tenants do not share a chain');
select ok((select bool_and(a.prev_hash = b.row_hash) from kiln.audit_log a
             join kiln.audit_log b on b.chain_id = a.chain_id and b.chain_seq = a.chain_seq - 1
            where a.tenant_id = :'acme'), 'each row''s prev_hash is the previous row''s hash');
select is((select prev_hash from kiln.audit_log where tenant_id = :'acme' and chain_seq = 1),
  kiln.audit_genesis(), 'a chain starts from the genesis hash');
select is((select length(row_hash) from kiln.audit_log where tenant_id = :'acme' and chain_seq = 1), 32,
  'hashes are SHA-256');
select is(kiln_api.verify_audit_chain() ->> 'valid', 'true', 'the untouched log verifies');

-- Caller-supplied chain fields are overwritten by the trigger.
insert into kiln.audit_log (tenant_id, action, object_type, chain_id, chain_seq, prev_hash, row_hash)
  values (:'acme', 'test.forged', 'thing', :'globex', 99, '\x01', '\x02');
select is((select chain_seq from kiln.audit_log where action = 'test.forged'), 6::bigint,
  'a forged sequence number is replaced');
select is(kiln_api.verify_audit_chain(:'acme') ->> 'valid', 'true', 'and the chain still verifies');

------------------------------------------------------------------------------------------
-- Append-only
------------------------------------------------------------------------------------------
select ok(not has_table_privilege('kiln_web', 'kiln.audit_log', 'update')
          and not has_table_privilege('kiln_web', 'kiln.audit_log', 'delete')
          and not has_table_privilege('kiln_web', 'kiln.audit_log', 'truncate'), 'kiln_web may not change rows');
select ok(not has_table_privilege('kiln_system', 'kiln.audit_log', 'update')
          and not has_table_privilege('kiln_system', 'kiln.audit_log', 'delete')
          and not has_table_privilege('kiln_system', 'kiln.audit_log', 'truncate'), 'nor may kiln_system');
select ok(not has_table_privilege('kiln_web', 'kiln.audit_chain_heads', 'update'),
  'kiln_web may not move a chain head');
select throws_ok($$update kiln.audit_log set detail = '{}' where action = 'test.step'$$, '42501', null,
  'even the owner''s update is refused by the trigger');
select throws_ok($$delete from kiln.audit_log where action = 'test.step'$$, '42501', null,
  'and a delete');
select throws_ok($$truncate kiln.audit_log$$, '42501', null, 'and a truncate');

------------------------------------------------------------------------------------------
-- Tampering as superuser, triggers bypassed
------------------------------------------------------------------------------------------
savepoint tamper;
set local session_replication_role = replica;
update kiln.audit_log set detail = '{"n": 42}' where tenant_id = :'acme' and chain_seq = 3;
reset session_replication_role;
select is(kiln_api.verify_audit_chain(:'acme') -> 'chains' -> 0 ->> 'first_broken_id',
  (select id::text from kiln.audit_log where tenant_id = :'acme' and chain_seq = 3),
  'an edited row is named as the first broken row');
select matches(kiln_api.verify_audit_chain(:'acme') -> 'chains' -> 0 ->> 'reason', 'changed',
  'with the reason');
select is(kiln_api.verify_audit_chain(:'globex') ->> 'valid', 'true', 'other tenants'' chains still verify');
rollback to savepoint tamper;

savepoint tamper;
set local session_replication_role = replica;
delete from kiln.audit_log where tenant_id = :'acme' and chain_seq = 2;
reset session_replication_role;
select is(kiln_api.verify_audit_chain(:'acme') -> 'chains' -> 0 ->> 'first_broken_id',
  (select id::text from kiln.audit_log where tenant_id = :'acme' and chain_seq = 3),
  'a deleted middle row: the row after the gap is named');
rollback to savepoint tamper;

savepoint tamper;
set local session_replication_role = replica;
delete from kiln.audit_log where tenant_id = :'acme' and chain_seq = 6;
reset session_replication_role;
select matches(kiln_api.verify_audit_chain(:'acme') -> 'chains' -> 0 ->> 'reason', 'missing at the end',
  'a deleted last row is caught by the chain head');
rollback to savepoint tamper;

------------------------------------------------------------------------------------------
-- The API role sees only its tenant's chain and needs admin
------------------------------------------------------------------------------------------
set local role kiln_web;
select test.act_as(:'alice');
select is(jsonb_array_length(kiln_api.verify_audit_chain() -> 'chains'), 1,
  'kiln_web verifies its own tenant''s chain only');
reset role;
select test.make_user(:'acme', 'vic', 'viewer') as vic \gset
set local role kiln_web;
select test.act_as(:'vic');
select throws_ok($$select kiln_api.verify_audit_chain()$$, 'QC403', null, 'a viewer may not verify');
reset role;

select * from finish();
rollback;
