# 003_crash.pl - crashes lose nothing committed and leave nothing partial.
#
# 1. The backend running lstm_train is killed with SIGKILL in the middle of training (after
#    its third epoch began); the postmaster reinitialises and recovers. No row of the killed
#    training may exist; a model committed before is unchanged and every model is readable.
# 2. The server is stopped with "immediate" (every process quits at once, no checkpoint)
#    while pgbench clients insert rows scored by lstm_score_trigger, some transactions rolled
#    back. After recovery no committed row is lost (at least the rows seen committed before
#    the stop are there), and every series' saved state accounts for exactly its committed
#    rows: steps applied plus late rows counted (rows whose clock_timestamp() lost the race
#    for the series' lock to a newer one are late, stored unscored) equal the rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# Reinitialise after a backend crash (the test clusters default to stopping).
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION lstm;
CREATE TABLE cr_series AS
    SELECT s, t, 10 + 3 * sin(t / 5.0 + s) AS v FROM generate_series(1, 8) s, generate_series(1, 100) t;
SET client_min_messages = warning;
SELECT lstm_train('cr_kept', 'cr_series', value => 'v', time_column => 't', series => 's',
                  hidden => 8, epochs => 2) IS NOT NULL;
});
my $kept_before = $node->safe_psql('postgres',
	q{SELECT md5(model::text) || ' ' || (info - 'created_at')::text FROM lstm_models WHERE name = 'cr_kept'});

# ---- 1. SIGKILL of the backend running lstm_train ----
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->{stdin} .= q{SELECT lstm_train('cr_killed', 'cr_series', value => 'v', time_column => 't',
                  series => 's', hidden => 16, epochs => 1000000, patience => 0);
};
# One NOTICE per epoch arrives on psql's stderr: wait until the third epoch has begun.
pump_until($bg->{run}, $bg->{timeout}, \$bg->{stderr}, qr/"cr_killed": epoch 3 of/);
like($bg->{stderr}, qr/"cr_killed": epoch 3 of 1000000/, 'lstm_train is training');
is(kill('KILL', $pid), 1, 'SIGKILL sent to the training backend');
eval { $bg->quit };    # psql has lost its connection

# The postmaster notices the death asynchronously: wait for its log lines (a connection made
# before it noticed could otherwise succeed first), then for the server to accept queries.
ok($node->wait_for_log(qr/server process \(PID $pid\) was terminated by signal 9/),
	'the postmaster saw the backend die');
ok($node->wait_for_log(qr/all server processes terminated; reinitializing/),
	'the postmaster reinitialised');
$node->poll_query_until('postgres', 'SELECT true')
  or die 'the server did not come back after the crash';

is($node->safe_psql('postgres', q{SELECT count(*) FROM lstm_models WHERE name = 'cr_killed'}),
	'0', 'no model row from the killed training');
is($node->safe_psql('postgres',
		q{SELECT md5(model::text) || ' ' || (info - 'created_at')::text FROM lstm_models WHERE name = 'cr_kept'}),
	$kept_before, 'the model committed before the crash is unchanged');
is($node->safe_psql('postgres',
		q{SELECT count(*) = count(lstm_model_info(model)) FROM lstm_models}),
	't', 'every stored model is readable');
is($node->safe_psql('postgres',
		q{SELECT count(f) FROM (SELECT lstm_forecast('cr_kept', v ORDER BY t) AS f FROM cr_series GROUP BY s) x}),
	'8', 'the kept model forecasts every series');

# ---- 2. Immediate stop during a stream of scored inserts ----
$node->safe_psql('postgres', q{
CREATE TABLE cr_readings (s int, ts timestamptz, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON cr_readings FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('cr_kept', 'v', 's', 'forecast', 'score', 'ts');
});
my $dir = PostgreSQL::Test::Utils::tempdir;
PostgreSQL::Test::Utils::append_to_file("$dir/commit.sql", q{
\set s random(1, 5)
BEGIN;
INSERT INTO cr_readings (s, ts, v) VALUES (:s, clock_timestamp(), 10 + random());
INSERT INTO cr_readings (s, ts, v) VALUES (:s, clock_timestamp(), 10 + random());
COMMIT;
});
PostgreSQL::Test::Utils::append_to_file("$dir/rollback.sql", q{
\set s random(1, 5)
BEGIN;
INSERT INTO cr_readings (s, ts, v) VALUES (:s, clock_timestamp(), 10 + random());
ROLLBACK;
});
my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '4', '-j', '2', '-T', '60',
		'-f', "$dir/commit.sql\@3", '-f', "$dir/rollback.sql\@1",
		$node->connstr('postgres')
	],
	'>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$node->poll_query_until('postgres', 'SELECT count(*) >= 300 FROM cr_readings')
  or die 'pgbench inserted nothing';
my $seen = $node->safe_psql('postgres', 'SELECT count(*) FROM cr_readings');
$node->stop('immediate');
eval { $pgbench->finish };    # every client has lost its connection
note "pgbench: $err";
$node->start;
ok($node->log_contains(qr/database system was interrupted|not properly shut down/),
	'the restart recovered from the crash');

my $committed = $node->safe_psql('postgres', 'SELECT count(*) FROM cr_readings');
cmp_ok($committed, '>=', $seen, "no committed row lost ($seen seen before the stop, $committed after)");
my $result = $node->safe_psql('postgres', q{
SELECT coalesce(r.s::text, st.series), coalesce(r.n, 0),
       (lstm_state_info(st.state) ->> 'steps')::bigint + st.late_rows
FROM (SELECT s, count(*) AS n FROM cr_readings GROUP BY s) r
FULL JOIN (SELECT * FROM lstm_stream_states WHERE model_name = 'cr_kept') st ON st.series = r.s::text
ORDER BY 1});
note "series|committed rows|saved steps + late rows\n$result";
my @series = split /\n/, $result;
ok(@series >= 1 && @series <= 5, 'between one and five series');
for my $line (@series)
{
	my ($s, $rows, $steps) = split /\|/, $line;
	is($steps, $rows, "series $s: saved steps + late rows = committed rows after the crash");
}
is($node->safe_psql('postgres',
		q{SELECT count(*) = count(lstm_model_info(model)) FROM lstm_models}),
	't', 'every stored model is readable after the second crash');

$node->stop;
done_testing();
