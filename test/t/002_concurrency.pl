# 002_concurrency.pl - lstm_score_trigger under concurrent inserts (pgbench).
#
# Four clients insert into the same three series at once: transactions of two single-row
# INSERTs, of a multi-row INSERT ... SELECT and of a COPY (rows of several series in one
# statement), some of them rolled back. Afterwards every series' saved step count must equal its
# committed rows: no update lost, none applied twice, none kept from a rolled-back
# transaction, and no saved state for a series without committed rows.
#
# Then six clients insert into five time-ordered series (times from a sequence, taken before
# the series is locked, so some rows lose the race and are late) while other sessions hold
# REPEATABLE READ snapshots open, so that many updates of the saved states cannot be HOT and
# move the rows (the path where a session's remembered place of a row no longer leads to it):
# every series' steps plus late rows must equal its rows, its state must equal
# lstm_state_agg over the rows it applied, and the primary key must check out (amcheck).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients      = 4;
my $transactions = 150;    # per client

my $node = PostgreSQL::Test::Cluster->new('concurrency');
$node->init;
$node->append_conf('postgresql.conf', 'max_prepared_transactions = 2');
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION lstm;
INSERT INTO lstm_models (name, model)
SELECT 'cc_m', jsonb_build_object(
    'input_size', 1, 'hidden_size', 8, 'num_layers', 1, 'output_size', 1,
    'weights', jsonb_build_object(
        'weight_ih_l0', (SELECT jsonb_agg(jsonb_build_array(0.3 * sin(r))) FROM generate_series(1, 32) r),
        'weight_hh_l0', (SELECT jsonb_agg((SELECT jsonb_agg(0.2 * cos(r * 8 + c)) FROM generate_series(1, 8) c))
                         FROM generate_series(1, 32) r),
        'bias_ih_l0', (SELECT jsonb_agg(0.01 * r) FROM generate_series(1, 32) r),
        'bias_hh_l0', (SELECT jsonb_agg(0.0) FROM generate_series(1, 32) r),
        'head.weight', jsonb_build_array((SELECT jsonb_agg(0.1 * c) FROM generate_series(1, 8) c)),
        'head.bias', jsonb_build_array(0.0)))::lstm_model;
CREATE TABLE cc_readings (s int, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON cc_readings FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('cc_m', 'v', 's', 'forecast', 'score');
});

$node->pgbench(
	"-n -c $clients -j 2 -t $transactions",
	0,
	[qr{number of transactions actually processed: @{[$clients * $transactions]}/}],
	[qr{^$}],
	'pgbench: concurrent scored inserts, committed and rolled back',
	{
		'commit.sql@3' => q{
\set s random(1, 3)
BEGIN;
INSERT INTO cc_readings (s, v) VALUES (:s, random());
INSERT INTO cc_readings (s, v) VALUES (:s, random());
COMMIT;
},
		'multi.sql@2' => q{
\set s random(1, 3)
INSERT INTO cc_readings (s, v) SELECT s, random() FROM generate_series(:s, 3) s, generate_series(1, 2) ORDER BY s;
},
		'copy.sql@1' => q{
\set s random(1, 3)
BEGIN;
COPY cc_readings (s, v) FROM PROGRAM 'printf "1,0.25\n%s,0.5\n%s,0.75\n" :s :s' (FORMAT csv);
ROLLBACK;
},
		'copycommit.sql@2' => q{
\set s random(1, 3)
COPY cc_readings (s, v) FROM PROGRAM 'printf "1,0.25\n%s,0.5\n%s,0.75\n" :s :s' (FORMAT csv);
},
		'rollback.sql@1' => q{
\set s random(1, 3)
BEGIN;
INSERT INTO cc_readings (s, v) VALUES (:s, random());
INSERT INTO cc_readings (s, v) VALUES (:s, random());
ROLLBACK;
}
	});

# PREPARE TRANSACTION: the states a prepared transaction wrote stay locked until it is
# committed or rolled back, and then count exactly as its rows do (series 4 to 6 only in the
# rolled-back one: no state may remain). Statements lock series in ascending order, as
# applications should, so that transactions touching several series never deadlock.
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO cc_readings (s, v) SELECT 1 + i % 3, 0.5 FROM generate_series(1, 9) i ORDER BY 1;
PREPARE TRANSACTION 'cc_committed';
BEGIN;
INSERT INTO cc_readings (s, v) SELECT 4 + i % 3, 0.5 FROM generate_series(1, 9) i ORDER BY 1;
PREPARE TRANSACTION 'cc_rolled_back';
});
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT series FROM lstm_stream_states WHERE model_name = 'cc_m' FOR UPDATE NOWAIT});
like($err, qr/could not obtain lock/, 'a prepared transaction keeps its series locked');
$node->safe_psql('postgres', q{COMMIT PREPARED 'cc_committed'; ROLLBACK PREPARED 'cc_rolled_back';});

# One line per series (on either side): rows, saved steps.
my $result = $node->safe_psql('postgres', q{
SELECT coalesce(r.s::text, st.series), coalesce(r.n, 0), (lstm_state_info(st.state) ->> 'steps')::bigint
FROM (SELECT s, count(*) AS n FROM cc_readings GROUP BY s) r
FULL JOIN (SELECT * FROM lstm_stream_states WHERE model_name = 'cc_m') st ON st.series = r.s::text
ORDER BY 1});
note "series|committed rows|saved steps\n$result";
my @series = split /\n/, $result;
ok(@series >= 1 && @series <= 3, 'between one and three series');
for my $line (@series)
{
	my ($s, $rows, $steps) = split /\|/, $line;
	is($steps, $rows, "series $s: saved steps = committed rows");
}
my $committed = $node->safe_psql('postgres', 'SELECT count(*) FROM cc_readings');
cmp_ok($committed, '>', 0, 'some transactions committed');

$node->safe_psql('postgres', q{
CREATE SEQUENCE cc_clock;
CREATE TABLE cc_timed (s int, ts bigint, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON cc_timed FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('cc_m', 'v', 's', 'forecast', 'score', 'ts');
});
my $non_hot_before = $node->safe_psql('postgres',
	q{SELECT n_tup_upd - n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'lstm_stream_states'});
# Snapshot holders: each keeps a REPEATABLE READ snapshot for a while, one after the other.
my @holders;
for my $i (1 .. 2)
{
	push @holders,
	  $node->background_psql('postgres', on_error_stop => 1);
	$holders[-1]->query_safe(
		'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM lstm_stream_states;');
}
$node->pgbench(
	"-n -c 6 -j 2 -t 400",
	0,
	[qr{number of transactions actually processed: 2400/}],
	[qr{^$}],
	'pgbench: time-ordered scored inserts while snapshots are held',
	{
		'single.sql@5' => q{
\set s random(1, 5)
INSERT INTO cc_timed (s, ts, v) VALUES (:s, nextval('cc_clock'), random());
},
		'ordered.sql@1' => q{
INSERT INTO cc_timed (s, ts, v) SELECT s, nextval('cc_clock'), random() FROM generate_series(1, 5) s ORDER BY s;
}
	});
$_->query_safe('COMMIT;') for @holders;
$_->quit for @holders;
$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');
my $non_hot = $node->safe_psql('postgres',
	q{SELECT n_tup_upd - n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'lstm_stream_states'});
cmp_ok($non_hot - $non_hot_before, '>', 0, 'some saved-state updates were not HOT');
# The row a series applied first has no forecast, as late rows do: the state must equal the
# aggregate over the rows with a forecast plus one of those.
$result = $node->safe_psql('postgres', q{
SELECT st.series,
       (lstm_state_info(st.state) ->> 'steps')::bigint + st.late_rows
           = (SELECT count(*) FROM cc_timed r WHERE r.s::text = st.series),
       EXISTS (SELECT FROM cc_timed c WHERE c.s::text = st.series AND c.forecast IS NULL
               AND st.state::text = (SELECT lstm_state_agg('cc_m', v ORDER BY ts)::text
                                     FROM cc_timed r WHERE r.s::text = st.series
                                       AND (r.forecast IS NOT NULL OR r.ctid = c.ctid)))
FROM lstm_stream_states st WHERE st.source = 'cc_timed'::regclass ORDER BY 1});
note "series|steps + late = rows|state = lstm_state_agg over the applied rows\n$result";
@series = split /\n/, $result;
is(scalar(@series), 5, 'five time-ordered series');
for my $line (@series)
{
	my ($s, $once, $same) = split /\|/, $line;
	is($once, 't', "series $s: saved steps + late rows = rows");
	is($same, 't', "series $s: state = lstm_state_agg over the rows it applied");
}
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');
$node->safe_psql('postgres',
	q{SELECT bt_index_check('lstm_stream_states_pkey', heapallindexed => true)});
pass('the primary key of lstm_stream_states checks out (amcheck, heapallindexed)');

$node->stop;
done_testing();
