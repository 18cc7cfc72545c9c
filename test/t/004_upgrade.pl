# 004_upgrade.pl - ALTER EXTENSION lstm UPDATE from the released 0.1, 0.2, 0.3 keeps everything.
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
# - the extension's objects are exactly those of a fresh 0.4 install (test/upgrade/describe.sql);
# - the upgraded database survives pg_dump and restore with its row-level security.
# A database made with the released 0.2 script (lstm--0.2.sql) is brought to 0.4 the same way:
# its models read back with the same info (now generated from notes, which holds what the
# writers added), the states its trigger saved are kept and continue, lstm_train refuses to run
# before the update and works after it, and its objects are those of a fresh 0.4 install.
# A database made with the released 0.3 script (lstm--0.3.sql), whose lstm_stream_states has no
# storage parameters, is brought to 0.4: the states its trigger saved are kept and continue,
# lstm_stream_states now has fillfactor=50, and its objects are those of a fresh 0.4 install.
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
	'0.4', 'updated from 0.1 to 0.4');
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

# The updated extension is exactly a fresh 0.4.
my $describe = slurp_file('test/upgrade/describe.sql');
$node->safe_psql('postgres', 'CREATE DATABASE up_new');
$node->safe_psql('up_new', 'CREATE EXTENSION lstm');
is($node->safe_psql('up_new', q{SELECT extversion FROM pg_extension WHERE extname = 'lstm'}),
	'0.4', 'a fresh install is 0.4');
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

# ---- From the released 0.2 ----
# A one-layer model of hidden size h for the 0.2 and 0.3 databases: pg_temp.model(h, seed).
my $small_model = q{
CREATE FUNCTION pg_temp.model(h int, seed float8) RETURNS lstm_model LANGUAGE sql AS $$
    SELECT jsonb_build_object('input_size', 1, 'hidden_size', h, 'num_layers', 1, 'output_size', 1,
        'weights', jsonb_build_object(
            'weight_ih_l0', (SELECT jsonb_agg(jsonb_build_array(round(sin(seed + r)::numeric, 5)))
                             FROM generate_series(1, 4 * h) r),
            'weight_hh_l0', (SELECT jsonb_agg((SELECT jsonb_agg(round(cos(seed * r + c)::numeric, 5) / 2)
                                               FROM generate_series(1, h) c)) FROM generate_series(1, 4 * h) r),
            'bias_ih_l0', (SELECT jsonb_agg(0.1) FROM generate_series(1, 4 * h)),
            'bias_hh_l0', (SELECT jsonb_agg(-0.05) FROM generate_series(1, 4 * h)),
            'head.weight', jsonb_build_array((SELECT jsonb_agg(round(sin(seed * c)::numeric, 5))
                                              FROM generate_series(1, h) c)),
            'head.bias', jsonb_build_array(0.2)))::lstm_model
$$;
};
$node->safe_psql('postgres', 'CREATE DATABASE up_02');
$node->safe_psql('up_02', "CREATE EXTENSION lstm VERSION '0.2';" . $small_model . q{
-- 0.2's trigger fills info with the model's keys; the writer's keys stay beside them.
INSERT INTO lstm_models (name, model, info) VALUES
    ('noted', pg_temp.model(4, 1), '{"note": "kept", "hidden_size": 1000}'),
    ('plain', pg_temp.model(6, 2), '{}');
CREATE TABLE feed (sensor int, ts int, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON feed FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('noted', 'v', 'sensor', 'forecast', 'score', 'ts');
INSERT INTO feed (sensor, ts, v) SELECT 1 + t % 3, t, 5 + sin(t) FROM generate_series(1, 30) t;
CREATE TABLE saved AS SELECT sensor, lstm_state_agg('plain', v ORDER BY ts) AS state FROM feed GROUP BY sensor;
});
my $models_02 = q{
    SELECT name, md5(lstm_model_send(model)), info::text,
           (SELECT lstm_forecast(m.model, f.v ORDER BY f.ts)::text FROM feed f WHERE f.sensor = 1)
    FROM lstm_models m ORDER BY name};
my $states_02 = q{
    SELECT 'saved', sensor::text, md5(lstm_state_send(state)), lstm_predict('plain', state)::text
    FROM saved
    UNION ALL
    SELECT model_name, source || ':' || series, md5(lstm_state_send(state)), late_rows::text
    FROM lstm_stream_states ORDER BY 1, 2};
my $models_02_before = $node->safe_psql('up_02', $models_02);
my $states_02_before = $node->safe_psql('up_02', $states_02);
like($models_02_before, qr/^noted\|[0-9a-f]+\|\{.*"note": "kept".*"hidden_size": 4,/m,
	'0.2 keeps a note and the model\'s keys in info');
($ret, $out, $err) = $node->psql('up_02',
	q{SELECT lstm_train('trained', 'feed', 'v', time_column => 'ts', series => 'sensor', epochs => 1)});
like($err, qr/needs the extension's version 0.3 objects.*\n.*\n.*ALTER EXTENSION lstm UPDATE/s,
	'lstm_train before ALTER EXTENSION UPDATE is a clear error');

$node->safe_psql('up_02', 'ALTER EXTENSION lstm UPDATE');
is($node->safe_psql('up_02', q{SELECT extversion FROM pg_extension WHERE extname = 'lstm'}),
	'0.4', 'updated from 0.2 to 0.4');
is($node->safe_psql('up_02', $models_02), $models_02_before,
	'models, info and forecasts read the same after the update');
is( $node->safe_psql('up_02', q{SELECT name || ' ' || notes::text FROM lstm_models ORDER BY name}),
	qq{noted {"note": "kept"}\nplain {}},
	'notes hold what the writers added to info, less the model\'s keys');
is($node->safe_psql('up_02', $states_02), $states_02_before,
	'stored lstm_state values and the trigger\'s saved states unchanged');
$node->safe_psql('up_02', q{INSERT INTO feed (sensor, ts, v) VALUES (1, 31, 5.5)});
is( $node->safe_psql('up_02', q{
        SELECT series || ':' || (lstm_state_info(state) ->> 'steps') FROM lstm_stream_states
        ORDER BY series}),
	"1:11\n2:10\n3:10", 'the trigger continues from the saved states');
is( $node->safe_psql('up_02', q{
        SET client_min_messages = warning;
        SELECT lstm_train('trained', 'feed', 'v', time_column => 'ts', series => 'sensor',
                          epochs => 1) ? 'best_loss';
        SELECT notes ? 'hyperparameters' AND info ? 'fingerprint' FROM lstm_models
        WHERE name = 'trained'}),
	"t\nt", 'lstm_train stores its report in notes after the update');
$node->safe_psql('up_02', q{DELETE FROM lstm_models WHERE name = 'trained'});
is($node->safe_psql('up_02', $describe), $node->safe_psql('up_new', $describe),
	'the extension updated from 0.2 has exactly the objects of a fresh install');

# ---- From the released 0.3 ----
$node->safe_psql('postgres', 'CREATE DATABASE up_03');
$node->safe_psql('up_03', "CREATE EXTENSION lstm VERSION '0.3';" . $small_model . q{
INSERT INTO lstm_models (name, model, notes)
    VALUES ('scorer', pg_temp.model(5, 3), '{"note": "kept"}');
CREATE TABLE feed (sensor int, ts int, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON feed FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('scorer', 'v', 'sensor', 'forecast', 'score', 'ts');
INSERT INTO feed (sensor, ts, v) SELECT 1 + t % 3, t, 5 + sin(t) FROM generate_series(1, 12) t;
});
my $states_03 = q{
    SELECT model_name, source || ':' || series, md5(lstm_state_send(state)),
           md5(last_time), last_time_type, late_rows, updated_at
    FROM lstm_stream_states ORDER BY 1, 2};
my $reloptions_03 = q{SELECT coalesce(reloptions::text, '-') FROM pg_class
                       WHERE oid = 'lstm_stream_states'::regclass};
my $states_03_before = $node->safe_psql('up_03', $states_03);
like($states_03_before, qr/\Ascorer\|feed:1\|.*\nscorer\|feed:2\|.*\nscorer\|feed:3\|[^\n]*\z/,
	'0.3\'s trigger saved a state for each of the three series');
is($node->safe_psql('up_03', $reloptions_03), '-',
	'0.3 creates lstm_stream_states without storage parameters');

$node->safe_psql('up_03', 'ALTER EXTENSION lstm UPDATE');
is($node->safe_psql('up_03', q{SELECT extversion FROM pg_extension WHERE extname = 'lstm'}),
	'0.4', 'updated from 0.3 to 0.4');
is($node->safe_psql('up_03', $states_03), $states_03_before,
	'the trigger\'s saved states unchanged by the update');
like($node->safe_psql('up_03', $reloptions_03), qr/\bfillfactor=50\b/,
	'lstm_stream_states has fillfactor=50 after the update');
$node->safe_psql('up_03', q{INSERT INTO feed (sensor, ts, v) VALUES (1, 13, 5.5)});
is( $node->safe_psql('up_03', q{
        SELECT series || ':' || (lstm_state_info(state) ->> 'steps') FROM lstm_stream_states
        ORDER BY series}),
	"1:5\n2:4\n3:4", 'the trigger continues from the saved states');
is( $node->safe_psql('up_03', q{
        SELECT bool_and(md5(lstm_state_send(st.state)) = md5(lstm_state_send(a.agg)))
               AND count(*) = 3
        FROM lstm_stream_states st
        JOIN (SELECT sensor, lstm_state_agg('scorer', v ORDER BY ts) AS agg FROM feed
              GROUP BY sensor) a ON st.series = a.sensor::text}),
	't', 'each continued state equals lstm_state_agg over the series\' rows');
is($node->safe_psql('up_03', $describe), $node->safe_psql('up_new', $describe),
	'the extension updated from 0.3 has exactly the objects of a fresh install');

$node->stop;
done_testing();
