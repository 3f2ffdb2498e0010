-- The cron expressions of build schedules (sql/api/schedules_cron.sql), table-driven:
-- the next tick after a time for each kind of field, names, steps, macros, the day-of-month
-- / day-of-week OR rule, time zones and DST changes; and every malformed expression is a
-- 400 naming cron (or timezone).
begin;

create temp table cases (expr text, tz text, after timestamptz, want timestamptz, why text);
insert into cases values
  ('* * * * *', 'UTC', '2026-01-01 10:00:30Z', '2026-01-01 10:01Z', 'every minute: the next whole minute'),
  ('* * * * *', 'UTC', '2026-01-01 10:00:00Z', '2026-01-01 10:01Z', 'strictly after: a tick at the given time is not repeated'),
  ('*/15 * * * *', 'UTC', '2026-01-01 10:14Z', '2026-01-01 10:15Z', 'a step from *'),
  ('5/20 * * * *', 'UTC', '2026-01-01 10:06Z', '2026-01-01 10:25Z', 'a step from a start (5, 25, 45)'),
  ('10-20/5 * * * *', 'UTC', '2026-01-01 10:16Z', '2026-01-01 10:20Z', 'a stepped range'),
  ('1,2,58 * * * *', 'UTC', '2026-01-01 10:03Z', '2026-01-01 10:58Z', 'a list'),
  ('0 9 * * mon-fri', 'UTC', '2026-11-21 12:00Z', '2026-11-23 09:00Z', 'weekday names: Saturday to Monday'),
  ('0 9 * * MON-FRI', 'Europe/Berlin', '2026-11-21 12:00Z', '2026-11-23 08:00Z', 'in Berlin (UTC+1 in winter)'),
  ('0 9 * * 1-5', 'Europe/Berlin', '2026-07-03 12:00Z', '2026-07-06 07:00Z', 'and in summer (UTC+2)'),
  ('0 0 * * 7', 'UTC', '2026-03-01 00:00Z', '2026-03-08 00:00Z', 'weekday 7 is Sunday'),
  ('0 0 13 * *', 'UTC', '2026-03-01 00:00Z', '2026-03-13 00:00Z', 'day of month only'),
  ('0 0 13 * 5', 'UTC', '2026-03-01 00:00Z', '2026-03-06 00:00Z', 'both day fields restricted: either matches (Friday the 6th)'),
  ('0 0 * 2 1', 'UTC', '2026-03-01 00:00Z', '2027-02-01 00:00Z', 'a weekday within a month'),
  ('0 0 29 2 *', 'UTC', '2026-03-01 00:00Z', '2028-02-29 00:00Z', 'the 29th of February: the next leap year'),
  ('0 0 1 jan,Jul *', 'UTC', '2026-03-01 00:00Z', '2026-07-01 00:00Z', 'month names in any case'),
  ('0 12 * * *', 'Asia/Kolkata', '2026-01-01 00:00Z', '2026-01-01 06:30Z', 'a half-hour offset zone'),
  ('30 2 * * *', 'America/New_York', '2026-03-07 12:00Z', '2026-03-08 07:30Z',
   'a time the spring DST change skips fires once, shifted an hour'),
  ('30 2 * * *', 'America/New_York', '2026-03-08 12:00Z', '2026-03-09 06:30Z', 'and the day after is normal'),
  ('30 1 * * *', 'America/New_York', '2026-11-01 05:30Z', '2026-11-02 06:30Z',
   'a wall-clock time the autumn DST change repeats fires once'),
  ('@hourly', 'UTC', '2026-01-01 10:00Z', '2026-01-01 11:00Z', '@hourly'),
  ('@daily', 'UTC', '2026-01-01 10:00Z', '2026-01-02 00:00Z', '@daily'),
  ('@midnight', 'UTC', '2026-01-01 10:00Z', '2026-01-02 00:00Z', '@midnight'),
  ('@weekly', 'UTC', '2026-01-01 10:00Z', '2026-01-04 00:00Z', '@weekly (Sunday)'),
  ('@monthly', 'UTC', '2026-01-15 10:00Z', '2026-02-01 00:00Z', '@monthly'),
  ('@yearly', 'UTC', '2026-01-15 10:00Z', '2027-01-01 00:00Z', '@yearly'),
  ('@annually', 'UTC', '2026-01-15 10:00Z', '2027-01-01 00:00Z', '@annually'),
  ('  59   23  31 12  *  ', 'UTC', '2026-06-01 00:00Z', '2026-12-31 23:59Z', 'spaces around and between fields');

create temp table bad (expr text, tz text, field text, why text);
insert into bad values
  ('', 'UTC', 'cron', 'empty'),
  ('* * * *', 'UTC', 'cron', 'four fields'),
  ('* * * * * *', 'UTC', 'cron', 'six fields (no seconds)'),
  ('60 * * * *', 'UTC', 'cron', 'minute 60'),
  ('* 24 * * *', 'UTC', 'cron', 'hour 24'),
  ('* * 0 * *', 'UTC', 'cron', 'day 0'),
  ('* * * 13 *', 'UTC', 'cron', 'month 13'),
  ('* * * * 8', 'UTC', 'cron', 'weekday 8'),
  ('*/0 * * * *', 'UTC', 'cron', 'a zero step'),
  ('5-1 * * * *', 'UTC', 'cron', 'a backwards range'),
  ('1,2,x * * * *', 'UTC', 'cron', 'a bad list item'),
  ('* * * foo *', 'UTC', 'cron', 'an unknown month name'),
  ('@often', 'UTC', 'cron', 'an unknown macro'),
  ('0 0 30 2 *', 'UTC', 'cron', 'a day that never comes'),
  ('0 0 * * *', 'Mars/Olympus', 'timezone', 'an unknown time zone');

select plan((select count(*)::int from cases) + 2 * (select count(*)::int from bad) + 2);

select is(kiln_api.cron_next(kiln_api.cron_parse(expr), tz, after), want, format('%s: %s', expr, why))
  from cases order by why;
select is(test.error_of(format('select kiln_api.cron_validate(%L, %L)', expr, tz)) ->> 'sqlstate', 'QC400',
          format('%s is refused (%s)', coalesce(nullif(expr, ''), '(empty)'), why))
  from bad order by why;
select is(test.error_detail(format('select kiln_api.cron_validate(%L, %L)', expr, tz)) ->> 'field', field,
          format('and the error names %s (%s)', field, why))
  from bad order by why;
select is(test.error_of($$select kiln_api.cron_parse('61 * * * *')$$) ->> 'message',
  'cron minute field: 61 is not a value between 0 and 59', 'the message says which field and what is allowed');
select ok((select count(*) from generate_series(1, 500) g
            where kiln_api.cron_next(kiln_api.cron_parse('0 0 29 2 1'), 'UTC', '2026-01-01'::timestamptz + g * interval '1 day')
                  is null) = 0, 'a sparse expression is still found from any starting day');

select * from finish();
rollback;
