-- Job tokens (agent.sql): minted at claim for one execution, stored hashed on it, the only
-- credential its renew, logs and finish calls take. A job token of execution A cannot
-- renew, log to or finish execution B (404, nothing changes); it dies when its execution
-- finishes, is cancelled or is reaped (401 job_token_expired); the node token is not a
-- job token.
begin;
select plan(23);

select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web');
select test.make_node('n1', p_tenant => :'acme') as n1 \gset
update kiln.build_nodes set token_sha256 = test.sha('node-1'), token_expires_at = now() + interval '1 day',
                            concurrency = 3 where id = :'n1';

-- Three executions offered to build nodes (a, b, c), all claimed by n1.
select (e).id as ea, (e).epoch as ea_epoch, (e).build_id as ba from (select test.make_claimed_build(:'acme', 'web') e) x \gset
select kiln_api.offer_execution(:'ea', :'ea_epoch', '{"infrastructure_type": "build_nodes", "size": {"cpu": 1, "memory_gb": 1}}', '{"script": "echo a"}');
select (e).id as eb, (e).epoch as eb_epoch, (e).build_id as bb from (select test.make_claimed_build(:'acme', 'web') e) x \gset
select kiln_api.offer_execution(:'eb', :'eb_epoch', '{"infrastructure_type": "build_nodes", "size": {"cpu": 1, "memory_gb": 1}}', '{"script": "echo b"}');
select (e).id as ec, (e).epoch as ec_epoch, (e).build_id as bc from (select test.make_claimed_build(:'acme', 'web') e) x \gset
select kiln_api.offer_execution(:'ec', :'ec_epoch', '{"infrastructure_type": "build_nodes", "size": {"cpu": 1, "memory_gb": 1}}', '{"script": "echo c"}');

select is(jsonb_array_length(kiln_api.agent_claim(test.sha('node-1'), '{}') -> 'executions'), 3, 'the node claims all three');
select epoch as ea_epoch from kiln.build_executions where id = :'ea' \gset
select epoch as eb_epoch from kiln.build_executions where id = :'eb' \gset
select epoch as ec_epoch from kiln.build_executions where id = :'ec' \gset

------------------------------------------------------------------------------------------
-- minting
------------------------------------------------------------------------------------------
select kiln_api.agent_issue_job_token(test.sha('node-1'), :'ea', test.sha('job-a'));
select kiln_api.agent_issue_job_token(test.sha('node-1'), :'eb', test.sha('job-b'));
select kiln_api.agent_issue_job_token(test.sha('node-1'), :'ec', test.sha('job-c'));
select is((select job_token_sha256 from kiln.build_executions where id = :'ea'), test.sha('job-a'),
  'the execution stores only its job token''s hash');
select is(test.error_detail(format($$select kiln_api.agent_issue_job_token(test.sha('node-1'), %L, test.sha('job-a2'))$$, :'ea')),
  '{"code": "not_found", "field": "id"}', 'an execution gets one job token, once');
select is(test.error_detail(format($$select kiln_api.agent_issue_job_token(test.sha('other'), %L, test.sha('job-x'))$$, :'ea')),
  '{"code": "unauthorized", "field": null}', 'only with the node''s token');

------------------------------------------------------------------------------------------
-- scope: A's token works on A only
------------------------------------------------------------------------------------------
set local role kiln_web;
select ok(kiln_api.agent_renew(test.sha('job-a'), :'ea', :'ea_epoch') ? 'lease_expires_at', 'A''s token renews A');
select is(kiln_api.agent_append_log(test.sha('job-a'), :'ea', :'ea_epoch', 0, E'a1\n'), '{"next_offset": 3}',
  'and logs to A');
reset role;
select test.build_state(:'bb') as b_before \gset
set local role kiln_web;
select is(test.error_detail(format($$select kiln_api.agent_renew(test.sha('job-a'), %L, %s)$$, :'eb', :'eb_epoch')),
  '{"code": "not_found", "field": "id"}', 'A''s token cannot renew B (404)');
select is(test.error_detail(format($$select kiln_api.agent_append_log(test.sha('job-a'), %L, %s, 0, 'x')$$, :'eb', :'eb_epoch')),
  '{"code": "not_found", "field": "id"}', 'nor log to B');
select is(test.error_detail(format($$select kiln_api.agent_finish(test.sha('job-a'), %L, %s, '{"outcome": "succeeded", "exit_code": 0}')$$,
                                   :'eb', :'eb_epoch')),
  '{"code": "not_found", "field": "id"}', 'nor finish B');
select ok(test.error_of(format($$select kiln_api.agent_renew(test.sha('job-a'), %L, %s)$$, :'eb', :'eb_epoch')) ->> 'message'
            !~ :'bb', 'and the refusal names nothing of B''s build');
reset role;
select is(test.build_state(:'bb'), :'b_before'::jsonb, 'B is unchanged');
set local role kiln_web;
select is(test.error_detail(format($$select kiln_api.agent_renew(test.sha('node-1'), %L, %s)$$, :'ea', :'ea_epoch')),
  '{"code": "unauthorized", "field": null}', 'the node token is not a job token');
select is(test.error_detail(format($$select kiln_api.agent_renew(null, %L, %s)$$, :'ea', :'ea_epoch')),
  '{"code": "unauthorized", "field": null}', 'nor is no token');

------------------------------------------------------------------------------------------
-- dead after finish
------------------------------------------------------------------------------------------
select is(kiln_api.agent_finish(test.sha('job-a'), :'ea', :'ea_epoch', '{"outcome": "succeeded", "exit_code": 0}'),
  '{"build_status": "succeeded"}', 'A''s token finishes A');
select is(test.error_detail(format($$select kiln_api.agent_renew(test.sha('job-a'), %L, %s)$$, :'ea', :'ea_epoch')),
  '{"code": "job_token_expired", "field": null}', 'after the finish A''s token is dead: renew');
select is(test.error_detail(format($$select kiln_api.agent_append_log(test.sha('job-a'), %L, %s, 3, 'late')$$, :'ea', :'ea_epoch')),
  '{"code": "job_token_expired", "field": null}', 'logs');
select is(test.error_detail(format($$select kiln_api.agent_finish(test.sha('job-a'), %L, %s, '{"outcome": "failed", "exit_code": 1}')$$,
                                   :'ea', :'ea_epoch')),
  '{"code": "job_token_expired", "field": null}', 'and finish');
reset role;
select is((select data from kiln.build_log_chunks where execution_id = :'ea' order by build_offset desc limit 1), E'a1\n',
  'the late output was not stored');

------------------------------------------------------------------------------------------
-- dead after cancel and after reap
------------------------------------------------------------------------------------------
select test.act_as_tenant(:'acme');
select kiln_api.cancel_build(:'bb', 'no longer needed');
select test.act_as_tenant(null);
select is(test.error_detail(format($$select kiln_api.agent_renew(test.sha('job-b'), %L, %s)$$, :'eb', :'eb_epoch')),
  '{"code": "job_token_expired", "field": null}', 'a cancelled execution''s token is dead');
select ok(test.error_of(format($$select kiln_api.agent_renew(test.sha('job-b'), %L, %s)$$, :'eb', :'eb_epoch')) ->> 'message'
            ~ 'cancelled', 'and the message says the execution was cancelled');

select count(*) from kiln_api.reap_expired_leases(now() + interval '1 day');
select is((select status::text from kiln.build_executions where id = :'ec'), 'lost', 'C''s lease ran out: reaped');
select is(test.error_detail(format($$select kiln_api.agent_renew(test.sha('job-c'), %L, %s)$$, :'ec', :'ec_epoch')),
  '{"code": "job_token_expired", "field": null}', 'a reaped execution''s token is dead');
select is(test.error_detail(format($$select kiln_api.agent_finish(test.sha('job-c'), %L, %s, '{"outcome": "succeeded", "exit_code": 0}')$$,
                                   :'ec', :'ec_epoch')),
  '{"code": "job_token_expired", "field": null}', 'it cannot finish the execution either');

select * from finish();
rollback;
