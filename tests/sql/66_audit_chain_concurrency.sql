-- Concurrent inserts into one audit chain queue on the chain's head row, so the chain
-- never forks: while one session holds an uncommitted insert, a second session's insert
-- into the same chain waits, and after both commit the chain is 1..n with each row
-- pointing at the one before. Another tenant's chain does not wait. The fixtures are
-- committed so the second session (dblink) sees them; the database is a throwaway clone.
create extension if not exists dblink;
select plan(9);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('globex') as globex \gset
select test.self_connstr() as connstr \gset
select is(dblink_connect('s2', :'connstr'), 'OK', 'a second session is open');
select dblink_exec('s2', 'set statement_timeout = ''20s''');

-- Session 2 inserts into acme's chain and keeps its transaction open.
select dblink_exec('s2', 'begin');
select dblink_exec('s2', format($$insert into kiln.audit_log (tenant_id, action, object_type, object_id)
                                  values (%L, 'test.s2', 'thing', 'first')$$, :'acme'));

-- Session 1 inserts into globex's chain at once: tenants do not serialize on each other.
set lock_timeout = '2s';
select lives_ok(format($$insert into kiln.audit_log (tenant_id, action, object_type) values (%L, 'test.s1', 'thing')$$,
                       :'globex'), 'another tenant''s insert does not wait');
-- An insert into acme's chain must wait for session 2: it times out here.
select throws_ok(format($$insert into kiln.audit_log (tenant_id, action, object_type) values (%L, 'test.s1', 'thing')$$,
                        :'acme'), '55P03', null, 'an insert into the same chain waits for the open one');
reset lock_timeout;

-- Session 2 commits (sent asynchronously) while session 1 inserts into the same chain.
select dblink_send_query('s2', 'commit');
select lives_ok(format($$insert into kiln.audit_log (tenant_id, action, object_type, object_id)
                         values (%L, 'test.s1', 'thing', 'second')$$, :'acme'),
  'once session 2 commits, the waiting insert goes through');
select * from dblink_get_result('s2') as t (r text);
select * from dblink_get_result('s2') as t (r text);  -- the empty result that frees the connection

-- A burst of inserts from both sessions, interleaved.
select dblink_exec('s2', format($$insert into kiln.audit_log (tenant_id, action, object_type, object_id)
                                  select %L, 'test.burst', 'thing', 's2-' || n from generate_series(1, 50) n$$,
                                :'acme'));
insert into kiln.audit_log (tenant_id, action, object_type, object_id)
  select :'acme', 'test.burst', 'thing', 's1-' || n from generate_series(1, 50) n;
select dblink_send_query('s2', format($$insert into kiln.audit_log (tenant_id, action, object_type, object_id)
                                        select %L, 'test.burst2', 'thing', 's2-' || n from generate_series(1, 200) n$$,
                                      :'acme'));
insert into kiln.audit_log (tenant_id, action, object_type, object_id)
  select :'acme', 'test.burst2', 'thing', 's1-' || n from generate_series(1, 200) n;
select * from dblink_get_result('s2') as t (r text);
select * from dblink_get_result('s2') as t (r text);

select is((select object_id from kiln.audit_log where tenant_id = :'acme' and chain_seq = 1), 'first',
  'session 2''s committed row is first in the chain');
select is((select object_id from kiln.audit_log where tenant_id = :'acme' and chain_seq = 2), 'second',
  'the waiting row follows it');
select results_eq(format($$select count(*), count(distinct chain_seq), min(chain_seq), max(chain_seq)
                             from kiln.audit_log where tenant_id = %L$$, :'acme'),
  $$values (502::bigint, 502::bigint, 1::bigint, 502::bigint)$$,
  'the chain is 1..n without gaps or duplicates');
select is((select count(*)::int from kiln.audit_log a
             join kiln.audit_log b on b.chain_id = a.chain_id and b.chain_seq = a.chain_seq - 1
            where a.tenant_id = :'acme' and a.prev_hash <> b.row_hash), 0, 'and without a fork');
select is(kiln_api.verify_audit_chain(:'acme') ->> 'valid', 'true', 'the chain verifies');
select dblink_disconnect('s2');

select * from finish();
