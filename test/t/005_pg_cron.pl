# 005_pg_cron.pl - scheduled retraining with pg_cron (the README recipe "Scheduled retraining").
#
# A cluster with shared_preload_libraries = 'pg_cron' trains a model, gets new rows, and
# schedules the retraining every minute with cron.schedule. pg_cron itself must then run the
# job and replace the model: cron.job_run_details says succeeded, and the row in lstm_models
# has a new created_at, a new fingerprint and the new row count in info.
#
# pg_cron 1.4 (Debian 12) has no schedule finer than a minute ('5 seconds' came with 1.5),
# and runs jobs only when a minute begins. So that the test takes seconds, the server is
# restarted under libfaketime with its clock shifted to a few seconds before a minute
# boundary (a constant offset; the clock runs at its real speed). Without libfaketime the test
# waits for the next real minute instead.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my ($pkglibdir) = `pg_config --pkglibdir`;
chomp $pkglibdir;
plan skip_all => "pg_cron is not installed in $pkglibdir (scripts/install-deps.sh installs "
  . 'postgresql-15-cron)'
  unless -f "$pkglibdir/pg_cron.so";
my ($faketime) = glob('/usr/lib/*/faketime/libfaketime.so.1');

my $node = PostgreSQL::Test::Cluster->new('pg_cron');
$node->init;
# Jobs run in background workers (no connection through TCP needed), in database postgres.
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION lstm;
CREATE EXTENSION pg_cron;
CREATE TABLE pc_readings (t int, v float8);
INSERT INTO pc_readings SELECT t, 10 + 3 * sin(t / 5.0) FROM generate_series(1, 200) t;
SET client_min_messages = warning;
SELECT lstm_train('pc_model', 'pc_readings', value => 'v', time_column => 't', hidden => 4,
                  epochs => 3) IS NOT NULL;
});
my $before = $node->safe_psql('postgres',
	q{SELECT created_at, info ->> 'fingerprint', info ->> 'rows' FROM lstm_models WHERE name = 'pc_model'});
my ($created_before, $fingerprint_before, $rows_before) = split /\|/, $before;
is($rows_before, '200', 'the first model is trained on 200 rows');

# New data arrives; the retraining is scheduled every minute (the recipe's command).
$node->safe_psql('postgres',
	q{INSERT INTO pc_readings SELECT t, 10 + 3 * sin(t / 5.0) + 0.5 FROM generate_series(201, 260) t});
my $jobid = $node->safe_psql('postgres', q{
SELECT cron.schedule('pc_retrain', '* * * * *',
    $$SELECT lstm_train('pc_model', 'pc_readings', value => 'v', time_column => 't', hidden => 4,
                        epochs => 3)$$)});
like($jobid, qr/^\d+$/, 'cron.schedule returns a job id');

# Restart a few seconds before a minute begins (on the server's clock).
if ($faketime)
{
	my $offset = (54 - time() % 60) % 60;
	local $ENV{LD_PRELOAD} = $faketime;
	local $ENV{FAKETIME} = "+$offset";
	local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = '1';
	note("restarting under libfaketime, clock +$offset s");
	$node->restart;
}
else
{
	note('libfaketime not found: waiting for the next real minute');
}

ok( $node->poll_query_until(
		'postgres',
		"SELECT EXISTS (SELECT FROM cron.job_run_details WHERE jobid = $jobid
                        AND status IN ('succeeded', 'failed'))"),
	'pg_cron ran the job');
is( $node->safe_psql(
		'postgres',
		"SELECT status || ' ' || return_message FROM cron.job_run_details WHERE jobid = $jobid
         ORDER BY runid LIMIT 1"),
	'succeeded SELECT 1',
	'the retraining succeeded');

my $after = $node->safe_psql('postgres',
	q{SELECT created_at, info ->> 'fingerprint', info ->> 'rows' FROM lstm_models WHERE name = 'pc_model'});
my ($created_after, $fingerprint_after, $rows_after) = split /\|/, $after;
isnt($created_after, $created_before, 'the model was replaced (created_at)');
isnt($fingerprint_after, $fingerprint_before, 'the model was replaced (fingerprint)');
is($rows_after, '260', 'the new model is trained on the new rows');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM lstm_models WHERE name = 'pc_model'
          AND (SELECT lstm_forecast('pc_model', v ORDER BY t) FROM pc_readings) IS NOT NULL}),
	'1',
	'the replaced model forecasts by name');

$node->safe_psql('postgres', q{SELECT cron.unschedule('pc_retrain')});
$node->stop;
done_testing();
