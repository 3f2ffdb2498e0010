-- A login for the read-only reporting role (docs/dba.md), run by psql with -v login=NAME
-- -v password=SECRET as the database owner. Safe to run again: creates the login once,
-- then only sets the password and the membership.
select format('create role %I login', :'login')
 where not exists (select from pg_roles where rolname = :'login') \gexec
alter role :"login" with login password :'password';
grant kiln_reporting to :"login";
