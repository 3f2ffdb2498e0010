-- The ceiling's job table: N queued jobs (psql -v n=N).
drop table if exists bench_jobs;
create table bench_jobs (
  id bigserial primary key,
  status text not null default 'queued',
  payload jsonb not null default '{}',
  locked_by text,
  locked_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default now());
create index bench_jobs_queued on bench_jobs (id) where status = 'queued';
insert into bench_jobs (payload) select '{}' from generate_series(1, :n);
vacuum analyze bench_jobs;
