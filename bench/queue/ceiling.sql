-- The textbook SKIP LOCKED queue (pgbench script): claim :batch jobs, mark them done; two
-- transactions. The ceiling of any PostgreSQL queue on this machine.
with j as (select id from bench_jobs where status = 'queued' order by id limit :batch for update skip locked),
u as (update bench_jobs b set status = 'running', locked_by = 'w' || :client_id, locked_at = now()
        from j where b.id = j.id returning b.id)
select coalesce(array_agg(id), '{}') ids from u \gset
update bench_jobs set status = 'done', finished_at = now() where id = any(:ids::bigint[]);
