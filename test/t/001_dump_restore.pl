# 001_dump_restore.pl - models and saved stream states survive pg_dump and restore bit for bit.
#
# A database holding four models with random weights (1 to 3 layers, hidden 4 to 128, with
# info) and a table of series is dumped in the custom format (restored with pg_restore) and
# in plain SQL (restored with psql). Each restored database must hold the same models:
# same names, same text form (md5), same fingerprints, same info, same forecasts. One model
# has a -0.0 weight (its text form prints -0): a plain dump goes through that text, so the
# fingerprint and with it the scored table's saved state must survive (0.1 restored +0 and
# then refused the state). Owners, sharing and the saved states' tables come back too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump_restore');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE dr_source');
$node->safe_psql('dr_source', q{
CREATE EXTENSION lstm;
-- random_matrix(rows, cols): a JSON matrix of uniform(-0.5, 0.5) weights.
CREATE FUNCTION pg_temp.random_matrix(r int, c int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg((SELECT jsonb_agg(random() - 0.5) FROM generate_series(1, c) WHERE i > 0))
    FROM generate_series(1, r) i $$;
CREATE FUNCTION pg_temp.random_vector(n int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(random() - 0.5) FROM generate_series(1, n) $$;
-- random_model(I, H, L): an nn.LSTM + head with random weights and scaling.
CREATE FUNCTION pg_temp.random_model(i int, h int, l int) RETURNS lstm_model LANGUAGE sql AS $$
    SELECT jsonb_build_object('input_size', i, 'hidden_size', h, 'num_layers', l, 'output_size', 1,
        'weights', (SELECT jsonb_object_agg(k, v) FROM (
            SELECT 'weight_ih_l' || n AS k,
                   pg_temp.random_matrix(4 * h, CASE WHEN n = 0 THEN i ELSE h END) AS v
            FROM generate_series(0, l - 1) n
            UNION ALL SELECT 'weight_hh_l' || n, pg_temp.random_matrix(4 * h, h) FROM generate_series(0, l - 1) n
            UNION ALL SELECT 'bias_ih_l' || n, pg_temp.random_vector(4 * h) FROM generate_series(0, l - 1) n
            UNION ALL SELECT 'bias_hh_l' || n, pg_temp.random_vector(4 * h) FROM generate_series(0, l - 1) n
            UNION ALL SELECT 'head.weight', pg_temp.random_matrix(1, h)
            UNION ALL SELECT 'head.bias', pg_temp.random_vector(1)) w),
        'input_mean', pg_temp.random_vector(i),
        'input_std', (SELECT jsonb_agg(1 + random()) FROM generate_series(1, i)),
        'output_mean', pg_temp.random_vector(1), 'output_std', '[3.5]'::jsonb)::lstm_model $$;
INSERT INTO lstm_models (name, model, notes) VALUES
    ('small', pg_temp.random_model(1, 4, 1), '{"note": "small"}'),
    ('two layers', pg_temp.random_model(3, 16, 2), '{}'),
    ('Mixed "Case"', pg_temp.random_model(1, 64, 1), '{}'),
    ('large', pg_temp.random_model(2, 128, 3), '{}');
CREATE TABLE series AS
    SELECT s, t, sin(t / 5.0 + s) AS v FROM generate_series(1, 3) s, generate_series(1, 50) t;
-- A model with a -0.0 weight (and 0.1's 'shared' owner columns), scoring a table.
CREATE ROLE dr_owner;
INSERT INTO lstm_models (name, model, owner, shared_with)
SELECT 'negative zero',
       regexp_replace(model::text, '"bias_ih_l0": \[[^,]+,', '"bias_ih_l0": [-0,')::lstm_model,
       'dr_owner', '{-}'
FROM lstm_models WHERE name = 'small';
CREATE TABLE feed (sensor int, ts int, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON feed FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('negative zero', 'v', 'sensor', 'forecast', 'score', 'ts');
INSERT INTO feed (sensor, ts, v) SELECT 1, t, sin(t) FROM generate_series(1, 10) t;
});
is( $node->safe_psql('dr_source', q{
        SELECT model::text LIKE '%"bias_ih_l0": [-0,%' FROM lstm_models WHERE name = 'negative zero'}),
	't', 'the -0.0 weight prints as -0');

# snapshot(db): one line per model: name, md5 of the text form, fingerprint, info, and the
# forecast of the small model over the series.
sub snapshot
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
        SELECT name, md5(model::text), lstm_model_info(model) ->> 'fingerprint', info - 'fingerprint',
               (SELECT lstm_forecast(m.model, s.v ORDER BY s.t) FROM series s WHERE m.name = 'small')
        FROM lstm_models m ORDER BY name});
}

my $before = snapshot('dr_source');
is(scalar(split /\n/, $before), 5, 'five models before the dump');

# states(db): the scored table's saved states, owners and sharing, and whether the next row
# is scored from the saved state (a state of another fingerprint would restart with a WARNING).
sub states
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
        SELECT source, series, md5(lstm_state_send(state)),
               (SELECT owner || ' ' || shared_with::text FROM lstm_models WHERE name = s.model_name)
        FROM lstm_stream_states s ORDER BY source::text, series});
}
my $states_before = states('dr_source');

my $dir = PostgreSQL::Test::Utils::tempdir;

$node->command_ok(
	[ 'pg_dump', '-Fc', '-f', "$dir/dump.custom", '-d', $node->connstr('dr_source') ],
	'pg_dump, custom format');
$node->safe_psql('postgres', 'CREATE DATABASE dr_custom');
$node->command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dr_custom'), "$dir/dump.custom" ],
	'pg_restore');
is(snapshot('dr_custom'), $before, 'custom format: models identical after restore');

$node->command_ok(
	[ 'pg_dump', '-f', "$dir/dump.sql", '-d', $node->connstr('dr_source') ],
	'pg_dump, plain format');
$node->safe_psql('postgres', 'CREATE DATABASE dr_plain');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('dr_plain'), '-f', "$dir/dump.sql" ],
	'psql restores the plain dump');
is(snapshot('dr_plain'), $before, 'plain format: models identical after restore');

for my $db ('dr_custom', 'dr_plain')
{
	is(states($db), $states_before, "$db: saved states, owners and sharing restored");
	my ($ret, $out, $err) = $node->psql($db,
		q{INSERT INTO feed (sensor, ts, v) VALUES (1, 11, 0.5) RETURNING forecast IS NOT NULL});
	is($out, 't', "$db: the next row is scored from the restored state");
	unlike($err, qr/restarting series/, "$db: the restored state still matches its model");
}

$node->stop;
done_testing();
