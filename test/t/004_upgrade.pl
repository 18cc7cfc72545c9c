# 004_upgrade.pl - ALTER EXTENSION lstm UPDATE from the released 0.1 keeps everything.
#
# A database is made with the released 0.1 install script (lstm--0.1.sql, as it shipped) and
# filled the way 0.1 users filled it: models in lstm_models, lstm_state values in a user
# table, and two tables scored by lstm_score_trigger with one model and the same series
# values (in 0.1 they share one saved state), one of them keyed by a timestamptz column
# written in a non-UTC session. After ALTER EXTENSION lstm UPDATE:
# - every model reads back bit for bit (send form), with the same fingerprints and forecasts;
# - every stored lstm_state reads back bit for bit and predicts the same;
# - each scored table has its own copy of the state it used, keyed canonically, and the next
#   insert continues from it; the models belong to the role that ran the update;
# - the extension's objects are exactly those of a fresh 0.2 install (test/upgrade/describe.sql);
# - the upgraded database survives pg_dump and restore with its row-level security.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE up_old');
$node->safe_psql('up_old', q{
CREATE EXTENSION lstm VERSION '0.1';
CREATE FUNCTION pg_temp.model(i int, h int, l int, seed float8, diff bool) RETURNS lstm_model
LANGUAGE sql AS $$
    SELECT jsonb_build_object('input_size', i, 'hidden_size', h, 'num_layers', l, 'output_size', i,
        'difference', diff, 'input_mean', (SELECT jsonb_agg(0.5) FROM generate_series(1, i)),
        'input_std', (SELECT jsonb_agg(2) FROM generate_series(1, i)),
        'weights', (SELECT jsonb_object_agg(k, v) FROM (
            SELECT kind || '_l' || n AS k,
                   (SELECT jsonb_agg((SELECT jsonb_agg(round(sin(seed * 100 + n * 7 + r * 3.1 + c * 1.3)::numeric, 5))
                                      FROM generate_series(1, CASE WHEN kind = 'weight_ih' AND n = 0 THEN i ELSE h END) c))
                    FROM generate_series(1, 4 * h) r) AS v
            FROM generate_series(0, l - 1) n, unnest(ARRAY['weight_ih', 'weight_hh']) kind
            UNION ALL
            SELECT kind || '_l' || n, (SELECT jsonb_agg(round(cos(seed + n + r)::numeric, 5) / 4)
                                       FROM generate_series(1, 4 * h) r)
            FROM generate_series(0, l - 1) n, unnest(ARRAY['bias_ih', 'bias_hh']) kind
            UNION ALL
            SELECT 'head.weight', (SELECT jsonb_agg((SELECT jsonb_agg(round(sin(seed + r * c)::numeric, 5))
                                                     FROM generate_series(1, h) c)) FROM generate_series(1, i) r)
            UNION ALL
            SELECT 'head.bias', (SELECT jsonb_agg(0.1) FROM generate_series(1, i))) w))::lstm_model
$$;
INSERT INTO lstm_models (name, model, info) VALUES
    ('one', pg_temp.model(1, 8, 1, 1, false), '{"note": "kept"}'),
    ('two layers', pg_temp.model(1, 16, 2, 2, true), '{}'),
    ('features', pg_temp.model(3, 4, 1, 3, false), '{}');
CREATE TABLE series AS
    SELECT s, t, 5 + sin(t / 5.0 + s) AS v FROM generate_series(1, 3) s, generate_series(1, 40) t;
CREATE TABLE saved AS
    SELECT s, lstm_state_agg('two layers', v ORDER BY t) AS state FROM series GROUP BY s;

-- Scored tables as 0.1 left them. This library is 0.2's, so 0.1's trigger cannot run here:
-- the rows are loaded first and the states written as 0.1's trigger wrote them (one per
-- model and series, the key from the column's output in the session's settings, last_time
-- in binary form); feed_a and feed_b share model 'one' and series values, so they share
-- states; feed_tz's timestamptz keys were written in Asia/Tokyo.
CREATE TABLE feed_a (sensor int, ts int, v float8, forecast float8, score float8);
CREATE TABLE feed_b (LIKE feed_a);
INSERT INTO feed_a (sensor, ts, v) SELECT 1 + t % 2, t, 5 + sin(t) FROM generate_series(1, 20) t;
INSERT INTO feed_b (sensor, ts, v) SELECT 1, t, 5 + cos(t) FROM generate_series(21, 25) t;
CREATE TABLE feed_tz (at timestamptz, ts int, v float8);
INSERT INTO feed_tz SELECT '2024-01-01 00:00+00', t, 5 + sin(t) FROM generate_series(1, 6) t;
SET TimeZone = 'Asia/Tokyo';
INSERT INTO lstm_stream_states (model_name, series, state, last_time, last_time_type)
SELECT 'one', format('%s', sensor), lstm_state_agg('one', v ORDER BY ts), int4send(max(ts)),
       'integer'::regtype
FROM (SELECT * FROM feed_a UNION ALL SELECT * FROM feed_b) AS fed GROUP BY sensor
UNION ALL
SELECT 'two layers', format('%s', at), lstm_state_agg('two layers', v ORDER BY ts),
       int4send(max(ts)), 'integer'::regtype
FROM feed_tz GROUP BY at;
RESET TimeZone;
CREATE TRIGGER score BEFORE INSERT ON feed_a FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('one', 'v', 'sensor', 'forecast', 'score', 'ts');
CREATE TRIGGER score BEFORE INSERT ON feed_b FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('one', 'v', 'sensor', 'forecast', 'score', 'ts');
CREATE TRIGGER score BEFORE INSERT ON feed_tz FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('two layers', 'v', 'at', NULL, NULL, 'ts');
});

# What must not change: models (send form, fingerprint, info note), stored states, forecasts.
my $models_query = q{
    SELECT name, md5(lstm_model_send(model)), lstm_model_info(model) ->> 'fingerprint',
           info ->> 'note',
           (SELECT lstm_forecast(m.model, array_fill(s.v, ARRAY[(lstm_model_info(m.model) ->> 'input_size')::int]) ORDER BY s.t)::text
            FROM series s WHERE s.s = 1)
    FROM lstm_models m ORDER BY name};
my $states_query = q{
    SELECT s, md5(lstm_state_send(state)), lstm_predict('two layers', state)::text
    FROM saved ORDER BY s};
my $models_before = $node->safe_psql('up_old', $models_query);
my $states_before = $node->safe_psql('up_old', $states_query);
my $stream_before = $node->safe_psql('up_old', q{
    SELECT model_name, series, md5(lstm_state_send(state)) FROM lstm_stream_states
    ORDER BY model_name, series});
like($stream_before, qr/^one\|1\|/m, '0.1 keeps one state per model and series');
like($stream_before, qr/^two layers\|2024-01-01 09:00:00\+09\|/m, 'a key in the writer\'s time zone');

# Until the update, the 0.2 library refuses to score against 0.1's tables, and says why.
my ($ret, $out, $err) = $node->psql('up_old', 'INSERT INTO feed_b (sensor, ts, v) VALUES (1, 30, 1)');
like($err, qr/needs the extension's version 0.2 objects.*\n.*\n.*ALTER EXTENSION lstm UPDATE/s,
	'scoring before ALTER EXTENSION UPDATE is a clear error');

$node->safe_psql('up_old', 'ALTER EXTENSION lstm UPDATE');
is($node->safe_psql('up_old', q{SELECT extversion FROM pg_extension WHERE extname = 'lstm'}),
	'0.2', 'updated to 0.2');
is($node->safe_psql('up_old', $models_query), $models_before,
	'models, fingerprints, info and forecasts unchanged');
is($node->safe_psql('up_old', $states_query), $states_before,
	'stored lstm_state values unchanged and predict the same');
is($node->safe_psql('up_old', q{SELECT DISTINCT owner FROM lstm_models}),
	$node->safe_psql('up_old', 'SELECT current_user'),
	'models stored before 0.2 belong to the role that ran the update');

# The shared 0.1 state now exists once per scored table, unchanged, under the canonical key.
my %state_of = map { my @f = split /\|/; ("$f[0]|$f[1]" => $f[2]) } split /\n/, $stream_before;
is( $node->safe_psql('up_old', q{
        SELECT source || '|' || series || '|' || md5(lstm_state_send(state))
        FROM lstm_stream_states WHERE model_name = 'one' ORDER BY source::text, series}),
	join("\n",
		"feed_a|1|$state_of{'one|1'}", "feed_a|2|$state_of{'one|2'}",
		"feed_b|1|$state_of{'one|1'}", "feed_b|2|$state_of{'one|2'}"),
	'each scored table has its own copy of the state it shared');
is( $node->safe_psql('up_old', q{
        SELECT source || '|' || series || '|' || (lstm_state_info(state) ->> 'steps')
        FROM lstm_stream_states WHERE model_name = 'two layers'}),
	'feed_tz|2024-01-01 00:00:00+00|6',
	'a timestamptz series key written in Asia/Tokyo is now the canonical UTC key');

# The next rows continue from the upgraded states, table by table.
$node->safe_psql('up_old', q{
    INSERT INTO feed_b (sensor, ts, v) VALUES (1, 26, 5.5);
    INSERT INTO feed_tz VALUES ('2024-01-01 09:00+09', 7, 5.5)});
is( $node->safe_psql('up_old', q{
        SELECT string_agg(source || ':' || (lstm_state_info(state) ->> 'steps'), ' '
                          ORDER BY source::text)
        FROM lstm_stream_states WHERE series IN ('1', '2024-01-01 00:00:00+00')}),
	'feed_a:15 feed_b:16 feed_tz:7',
	'inserts after the update step the table\'s own state');

# The updated extension is exactly a fresh 0.2.
my $describe = slurp_file('test/upgrade/describe.sql');
$node->safe_psql('postgres', 'CREATE DATABASE up_new');
$node->safe_psql('up_new', 'CREATE EXTENSION lstm');
is($node->safe_psql('up_old', $describe), $node->safe_psql('up_new', $describe),
	'the updated extension has exactly the objects of a fresh install');

# ... and survives pg_dump and restore, row-level security included.
my $dump = $node->basedir . '/up_old.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('up_old'), '-f', $dump ],
	'pg_dump of the updated database');
$node->safe_psql('postgres', 'CREATE DATABASE up_restored');
$node->command_ok([ 'pg_restore', '-e', '-d', $node->connstr('up_restored'), $dump ],
	'pg_restore without errors');
is($node->safe_psql('up_restored', $models_query), $models_before, 'models restored');
is( $node->safe_psql('up_restored', q{
        SELECT string_agg(relname || ':' || relrowsecurity, ' ' ORDER BY relname)
        FROM pg_class WHERE relname IN ('lstm_models', 'lstm_stream_states')}),
	'lstm_models:true lstm_stream_states:true', 'row-level security restored');
is( $node->safe_psql('up_restored', q{SELECT count(*) FROM pg_policy}),
	$node->safe_psql('up_new', q{SELECT count(*) FROM pg_policy}),
	'the policies are the extension\'s, none lost or doubled');
is($node->safe_psql('up_restored', $describe), $node->safe_psql('up_new', $describe),
	'the restored extension has exactly the objects of a fresh install');

$node->stop;
done_testing();
