-- Alert webhooks: configuring them (400s naming the field; the secret unreadable by the
-- API role), collecting alerts once per occurrence (build failures; node offline,
-- provider unhealthy and queue wait episodes, shared infrastructure alerting every
-- tenant), and the delivery cycle: claims, backoff, giving up, stale claims, the log.
begin;
select plan(53);

select test.make_tenant('acme') as acme \gset
select test.make_tenant('bravo') as bravo \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_user(:'bravo', 'bob', 'admin') as bob \gset
select test.make_project(:'acme', 'web') as web \gset
select test.make_project(:'bravo', 'web') as bweb \gset

create function test.hook(p_body jsonb) returns jsonb language sql as $$
  select kiln_api.create_webhook(jsonb_build_object('name', 'ops', 'url', 'https://hooks.example/kiln',
                                                    'events', '["build.failed"]'::jsonb) || p_body,
                                 'whsec_0123456789abcdefghij')
$$;
create function test.deliveries(p_webhook uuid) returns setof kiln.webhook_deliveries
  language sql security definer as $$ select * from kiln.webhook_deliveries where webhook_id = p_webhook order by id $$;

------------------------------------------------------------------------------------------
-- Configuring
------------------------------------------------------------------------------------------
set local role kiln_web;
select test.act_as(:'ann');
select is(test.error_detail($$select kiln_api.create_webhook('{"url":"https://x.example","events":["build.failed"]}', 'whsec_0123456789abcdef')$$),
  '{"code": "missing_field", "field": "name"}', 'name is required');
select is(test.error_detail($$select test.hook('{"url": "ftp://hooks.example"}')$$),
  '{"code": "invalid_value", "field": "url"}', 'the url must be http or https');
select is(test.error_detail($$select test.hook('{"url": "https://user:pw@hooks.example/"}')$$),
  '{"code": "invalid_value", "field": "url"}', 'and carry no credentials');
select is(test.error_detail($$select test.hook('{"events": []}')$$),
  '{"code": "invalid_value", "field": "events"}', 'at least one event');
select is(test.error_detail($$select test.hook('{"events": ["build.failed", "build.exploded"]}')$$),
  '{"code": "invalid_value", "field": "events"}', 'known events only');
select is(test.error_detail($$select test.hook('{"events": "build.failed"}')$$),
  '{"code": "invalid_type", "field": "events"}', 'events is an array');
select is(test.error_detail($$select test.hook('{"queue_wait_threshold_seconds": 0}')$$),
  '{"code": "invalid_value", "field": "queue_wait_threshold_seconds"}', 'the threshold is positive');
select is(test.error_detail($$select test.hook('{"secret": "mine"}')$$),
  '{"code": "unknown_field", "field": "secret"}', 'the secret is never chosen by the caller');

select test.hook('{"events": ["build.failed", "node.offline", "provider.unhealthy", "queue.wait_exceeded"]}') as hook \gset
select is((:'hook'::jsonb) ? 'secret', false, 'the stored webhook is returned without its secret');
select :'hook'::jsonb ->> 'id' as w1 \gset
select is(test.error_of($$select test.hook('{}')$$) ->> 'sqlstate', 'QC409', 'names are unique per tenant');
select test.hook('{"name": "deploys", "events": ["node.offline"], "queue_wait_threshold_seconds": 3600}') ->> 'id' as w2 \gset
select test.hook('{"name": "waits", "events": ["queue.wait_exceeded"], "queue_wait_threshold_seconds": 3600}') ->> 'id' as w3 \gset
select test.hook('{"name": "off", "enabled": false}') ->> 'id' as w_off \gset
select throws_ok('select secret from kiln.webhooks', '42501', null, 'the API role cannot read secrets back');
select throws_ok('select * from kiln.webhooks', '42501', null, 'not even with select *');
select is(jsonb_array_length(kiln_api.list_webhooks() -> 'items'), 4, 'the tenant lists its four webhooks');
select test.act_as(:'bob');
select test.hook('{"events": ["build.failed", "node.offline", "provider.unhealthy"]}') ->> 'id' as wb \gset
select is((select array_agg(i ->> 'name') from jsonb_array_elements(kiln_api.list_webhooks() -> 'items') i),
  array['ops'], 'another tenant lists only its own');
select is(test.error_of(format('select kiln_api.delete_webhook(%L)', :'w1')) ->> 'sqlstate', 'QC404',
  'nor deletes another tenant''s');
reset role;
select test.act_as_tenant(null);
select is((select secret from kiln.webhooks where id = :'w1'), 'whsec_0123456789abcdefghij', 'the secret is stored');

------------------------------------------------------------------------------------------
-- Collecting: build failures, once per webhook and failure
------------------------------------------------------------------------------------------
select id as fe, build_id as fb from test.make_running_build(:'acme', 'web') \gset
select kiln_api.finish_execution(:'fe', (select epoch from kiln.build_executions where id = :'fe'), 'failed', 2, 'tests failed');
select id as be, build_id as bb from test.make_running_build(:'bravo', 'web') \gset
select is(kiln_api.collect_alerts(), 1, 'one failed build of acme: one delivery, to the webhook subscribed to it');
select results_eq(format($$select event, status, payload -> 'data' ->> 'build_id', payload ->> 'tenant',
                                  payload -> 'data' ->> 'reason' from test.deliveries(%L)$$, :'w1'),
  format($$values ('build.failed', 'pending', %L, 'acme', 'tests failed')$$, :'fb'),
  'its payload names the build, the tenant and the reason');
select is(kiln_api.collect_alerts(), 0, 'collecting again queues nothing: one delivery per failure');
select is((select count(*)::int from test.deliveries(:'wb')), 0, 'bravo''s webhook hears nothing of acme''s build');
select is((select count(*)::int from test.deliveries(:'w_off')), 0, 'a disabled webhook gets nothing');

------------------------------------------------------------------------------------------
-- Episodes: node offline, provider unhealthy, queue wait
------------------------------------------------------------------------------------------
insert into kiln.build_nodes (name, tenant_id, last_heartbeat_at) values ('acme-node', :'acme', now() - interval '2 minutes');
select is(kiln_api.collect_alerts(), 2, 'acme''s node is offline: its two node.offline webhooks are told');
select is(kiln_api.collect_alerts(), 0, 'once per episode');
update kiln.build_nodes set last_heartbeat_at = now() where name = 'acme-node';
select is(kiln_api.collect_alerts(), 0, 'the node is back: the condition clears');
update kiln.build_nodes set last_heartbeat_at = now() - interval '5 minutes' where name = 'acme-node';
select is(kiln_api.collect_alerts(now() + interval '1 second'), 2, 'offline again: a new episode alerts again');
insert into kiln.build_nodes (name, tenant_id, last_heartbeat_at) values ('shared-node', null, now() - interval '10 minutes');
select is(kiln_api.collect_alerts(now() + interval '2 seconds'), 3,
  'a shared node offline alerts every tenant subscribed (acme twice, bravo once)');
insert into kiln.providers (name, display_name, provider_type, api_server, health)
  values ('gke', 'GKE', 'gke', 'https://gke.example', 'unhealthy');
select is(kiln_api.collect_alerts(now() + interval '3 seconds'), 2, 'an unhealthy shared provider alerts both tenants');
select is((select payload -> 'data' ->> 'provider' from kiln.webhook_deliveries where event = 'provider.unhealthy' and webhook_id = :'w1'),
  'gke', 'naming the provider');
select ok(not exists (select from kiln.webhook_deliveries d, jsonb_each_text(d.payload -> 'data') kv
                       where kv.value like '%gke.example%'), 'but never its API server');

select test.make_queued_build(:'acme', 'web', 0, now() - interval '20 minutes') as waiting \gset
update kiln.webhooks set queue_wait_threshold_seconds = 600 where id = :'w1';
select is(kiln_api.collect_alerts(now() + interval '4 seconds'), 1,
  'a build waiting 20 minutes alerts the webhook whose threshold is 10 minutes, not the one of an hour');
select results_eq($$select payload -> 'data' ->> 'waiting_builds', payload -> 'data' ->> 'threshold_seconds'
                      from kiln.webhook_deliveries where event = 'queue.wait_exceeded'$$,
  $$values ('1', '600')$$, 'with how many builds wait and the threshold');

------------------------------------------------------------------------------------------
-- Delivery: claim, backoff, success, giving up, stale claims, the log
------------------------------------------------------------------------------------------
update kiln.webhook_deliveries set status = 'delivered' where event <> 'build.failed';
select id as d1 from kiln.webhook_deliveries where event = 'build.failed' \gset
create temp table c1 as select * from kiln_api.claim_webhook_deliveries('w-1', 10, 60, now() + interval '5 seconds');
select results_eq($$select delivery_id, url, secret, event, attempt, body::jsonb = (select payload from kiln.webhook_deliveries where id = c1.delivery_id) from c1$$,
  format($$values (%s::bigint, 'https://hooks.example/kiln', 'whsec_0123456789abcdefghij', 'build.failed', 1, true)$$, :'d1'),
  'a sender claims the due delivery with what it needs to sign and send it');
select is_empty($$select * from kiln_api.claim_webhook_deliveries('w-2', 10, 60, now() + interval '6 seconds')$$,
  'a claimed delivery is not handed to another sender');
select is(kiln_api.record_webhook_delivery(:d1, 1, 'w-1', 500, null, 35, now() + interval '7 seconds'), 'pending',
  'a 500 leaves it pending');
select results_eq(format($$select attempts, next_attempt_at, last_status_code, last_error, claimed_by
                             from kiln.webhook_deliveries where id = %s$$, :'d1'),
  $$values (1, now() + interval '17 seconds', 500, 'HTTP 500', null::text)$$,
  'to be retried after webhook_backoff_base_seconds (10 s)');
select is_empty($$select * from kiln_api.claim_webhook_deliveries('w-2', 10, 60, now() + interval '16 seconds')$$,
  'not before');
select is((select attempt from kiln_api.claim_webhook_deliveries('w-2', 10, 60, now() + interval '18 seconds')), 2,
  'after that, attempt 2 is claimed');
select is(kiln_api.record_webhook_delivery(:d1, 2, 'w-2', null, 'Timeout was reached', 5000, now() + interval '23 seconds'),
  'pending', 'a timeout leaves it pending too');
select is((select next_attempt_at from kiln.webhook_deliveries where id = :'d1'), now() + interval '43 seconds',
  'the delay doubles (20 s)');
select is(kiln_api.record_webhook_delivery(:d1, 2, 'w-1', 200, null, 10, now() + interval '24 seconds'), 'stale',
  'an attempt reported by a sender that does not hold the claim changes nothing');
select is((select attempt from kiln_api.claim_webhook_deliveries('w-3', 10, 1, now() + interval '44 seconds')), 3,
  'attempt 3 is claimed with a one-second claim');
select is((select attempt from kiln_api.claim_webhook_deliveries('w-4', 10, 60, now() + interval '46 seconds')), 4,
  'a sender that dies mid-attempt loses its claim: the delivery is claimed again (attempt 4)');
select is(kiln_api.record_webhook_delivery(:d1, 4, 'w-4', 204, null, 12, now() + interval '47 seconds'), 'delivered',
  'a 2xx delivers it');
select results_eq(format($$select attempt, status_code, error from kiln.webhook_delivery_attempts
                            where delivery_id = %s order by attempt$$, :'d1'),
  $$values (1, 500, 'HTTP 500'), (2, null, 'Timeout was reached'), (4, 204, null)$$,
  'every recorded attempt is in the delivery log (attempt 3 died unrecorded)');

update kiln.settings set value = 2 where key = 'webhook_max_attempts';
select kiln_api.test_webhook(:'w2') ->> 'id' as d2 \gset
select kiln_api.claim_webhook_deliveries('w-1', 10, 60, now() + interval '50 seconds');
select kiln_api.record_webhook_delivery(:d2, 1, 'w-1', 503, null, 5, now() + interval '51 seconds');
select kiln_api.claim_webhook_deliveries('w-1', 10, 60, now() + interval '70 seconds');
select is(kiln_api.record_webhook_delivery(:d2, 2, 'w-1', 503, null, 5, now() + interval '71 seconds'), 'failed',
  'after webhook_max_attempts it is given up');
select is_empty($$select * from kiln_api.claim_webhook_deliveries('w-1', 10, 60, now() + interval '1 day')$$,
  'and never claimed again');

set local role kiln_web;
select test.act_as(:'ann');
select results_eq(format($$select i ->> 'event', i ->> 'status', jsonb_array_length(i -> 'log')
                             from jsonb_array_elements(kiln_api.list_webhook_deliveries(%L) -> 'items') i
                            where i ->> 'event' = 'webhook.test'$$, :'w2'),
  $$values ('webhook.test', 'failed', 2)$$, 'the admin reads the delivery log of a webhook');
select is(test.error_of(format('select kiln_api.list_webhook_deliveries(%L)', :'wb')) ->> 'sqlstate', 'QC404',
  'but not another tenant''s');
select is(test.error_of($$select * from kiln_api.claim_webhook_deliveries('x', 1, 1)$$) ->> 'sqlstate', '42501',
  'the API role cannot claim deliveries (they hold secrets)');
reset role;
select test.act_as_tenant(null);

------------------------------------------------------------------------------------------
-- Purge and delete
------------------------------------------------------------------------------------------
select is(kiln_api.purge_webhook_deliveries(now() + interval '31 days'),
  (select count(*)::int from kiln.webhook_deliveries where status <> 'pending'),
  'finished deliveries older than webhook_delivery_retention_days are purged');
select is((select count(*)::int from kiln.webhook_deliveries where status = 'pending'),
  (select count(*)::int from kiln.webhook_deliveries), 'pending ones are kept');
set local role kiln_web;
select test.act_as(:'ann');
select is(kiln_api.delete_webhook(:'w1') ->> 'deleted', 'true', 'the admin deletes a webhook');
reset role;
select is((select count(*)::int from kiln.audit_log where action in ('webhook.create', 'webhook.delete')), 6,
  'creations and deletions are audited');

select * from finish();
rollback;
