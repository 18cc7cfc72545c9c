#!/usr/bin/python3
"""make_figures.py - the README's figures, from a database where test/train/evaluate.sql ran
(docs/make_figures.sh sets it up): the models eval_co2_weekly and eval_sunspots_yearly trained
on the first 80 % of the bundled series, in schema lstm_eval.

  docs/co2_forecast.png   CO2, the last part: one-step forecasts (window lstm_forecast), and a
                          13-week forecast with 80 % and 95 % prediction intervals from a
                          series-scaled model (lstm_forecast_interval), against the actual values
  docs/anomaly_score.png  sunspots: the series, its one-step forecasts, and lstm_anomaly's
                          score and alerts per year
"""
import csv
import datetime
import io
import os
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def query(sql):
    """Rows of a query (psql --csv), as lists of strings."""
    out = subprocess.run(["psql", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-c",
                          "SET search_path = lstm_eval, public", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return rows[1:]


def day(text):
    """A timestamp column as a date."""
    return datetime.date.fromisoformat(text[:10])


def num(text):
    """A float column (None for NULL)."""
    return float(text) if text != "" else None


def co2_figure():
    """One-step forecasts over the last 4 years, and a 52-week horizon from a year before the
    end."""
    rows = query("""
        WITH f AS (SELECT ts, co2, lstm_forecast('eval_co2_weekly', co2) OVER (ORDER BY ts) AS next
                   FROM co2_weekly)
        SELECT ts, co2, lag(next) OVER (ORDER BY ts) FROM f ORDER BY ts""")
    rows = rows[-4 * 52:]
    origin = query("SELECT ts FROM co2_weekly ORDER BY ts DESC OFFSET 40 LIMIT 1")[0][0]
    # A series-scaled model (season 52, horizon 13) trained on the same first 80 %, and its
    # 13-week forecast from the origin with 80 % and 95 % intervals.
    query("""SET client_min_messages = warning;
             CREATE TEMP VIEW co2_train AS SELECT * FROM co2_weekly ORDER BY ts
                 LIMIT (SELECT floor(0.8 * count(*)) FROM co2_weekly);
             SELECT lstm_train('fig_co2_season', 'co2_train', value => 'co2', time_column => 'ts',
                               season => 52, horizon => 13) IS NOT NULL""")
    bands = {}
    for level in (0.8, 0.95):
        bands[level] = query(f"""
            SELECT (i).forecast, (i).lower, (i).upper
            FROM (SELECT unnest(lstm_forecast_interval('fig_co2_season', co2, 13, {level}
                                                       ORDER BY ts)) AS i
                  FROM co2_weekly WHERE ts <= '{origin}') x""")
    later = query(f"""SELECT ts FROM co2_weekly WHERE ts > '{origin}' AND co2 IS NOT NULL
                      ORDER BY ts LIMIT 13""")
    cutoff = query("""SELECT ts FROM co2_weekly ORDER BY ts
                      OFFSET (SELECT floor(0.8 * count(*)) FROM co2_weekly) LIMIT 1""")[0][0]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7.5))
    dates = [day(r[0]) for r in rows]
    top.plot(dates, [num(r[1]) for r in rows], color="black", lw=1.4, label="actual")
    top.plot(dates, [num(r[2]) for r in rows], color="tab:orange", lw=1.1,
             label="one-step forecast (made the week before)")
    top.set_title("Mauna Loa CO2, weekly: one-step-ahead lstm_forecast, last 4 years\n"
                  f"(model trained in the database on the weeks before {cutoff[:10]})")
    top.set_ylabel("CO2 (ppm)")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)

    span = [r for r in rows if day(r[0]) > day(origin) - datetime.timedelta(days=120)]
    bottom.plot([day(r[0]) for r in span], [num(r[1]) for r in span], color="black", lw=1.4,
                label="actual")
    steps = [day(t[0]) for t in later]
    for level, alpha in ((0.95, 0.18), (0.8, 0.32)):
        band = bands[level][:len(steps)]
        bottom.fill_between(steps, [num(b[1]) for b in band], [num(b[2]) for b in band],
                            color="tab:blue", alpha=alpha, lw=0,
                            label=f"{int(level * 100)} % prediction interval")
    bottom.plot(steps, [num(b[0]) for b in bands[0.95][:len(steps)]], color="tab:blue", lw=1.6,
                ls="--", label=f"13-week forecast from {origin[:10]}")
    bottom.axvline(day(origin), color="grey", lw=0.8)
    bottom.set_title("A series-scaled model (season 52, horizon 13): "
                     "lstm_forecast_interval(model, co2, 13, level ORDER BY ts)")
    bottom.set_ylabel("CO2 (ppm)")
    bottom.set_xlabel("week")
    bottom.legend(loc="upper left")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "co2_forecast.png"), dpi=100)


def anomaly_figure():
    """The sunspot series with its one-step forecasts, and the anomaly score per year."""
    rows = query("""
        WITH f AS (
            SELECT ts, sunspots,
                   lstm_forecast('eval_sunspots_yearly', sunspots) OVER w AS next,
                   lstm_anomaly('eval_sunspots_yearly', sunspots) OVER w AS a
            FROM sunspots_yearly WINDOW w AS (ORDER BY ts))
        SELECT extract(year FROM ts)::int, sunspots, lag(next) OVER (ORDER BY ts), (a).score,
               (a).alert
        FROM f ORDER BY ts""")
    years = [int(r[0]) for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    top.plot(years, [num(r[1]) for r in rows], color="black", lw=1.3, label="actual")
    top.plot(years, [num(r[2]) for r in rows], color="tab:orange", lw=1.0,
             label="one-step forecast (made the year before)")
    flagged = [(y, num(r[1])) for y, r in zip(years, rows) if r[4] == "t"]
    top.scatter([f[0] for f in flagged], [f[1] for f in flagged], color="tab:red", zorder=3,
                label="alert (score >= 0.5, repeat filter applied)")
    top.set_title("Yearly sunspot number, 1700-2008: one-step forecasts and anomaly scores\n"
                  "(model trained in the database on 1700-1946)")
    top.set_ylabel("sunspot number")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.bar(years, [num(r[3]) or 0 for r in rows], width=1.0, color="tab:purple")
    bottom.axhline(0.5, color="tab:red", lw=0.8, ls="--")
    bottom.set_ylim(0, 1.02)
    bottom.set_ylabel("anomaly score")
    bottom.set_xlabel("year")
    bottom.set_title("lstm_anomaly(model, sunspots) OVER (ORDER BY ts): the likelihood score "
                     "(alert at 0.5)")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "anomaly_score.png"), dpi=100)


if __name__ == "__main__":
    co2_figure()
    anomaly_figure()
    print("wrote docs/co2_forecast.png and docs/anomaly_score.png")
