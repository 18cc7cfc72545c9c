#!/usr/bin/python3
"""nab_results.py - write NAB results files from per-row scores and run NAB's scorer on them.

    nab_results.py NAB_DIR DETECTOR SCORES_CSV CATEGORY...

SCORES_CSV has the columns file (NAB's relative path, category/name.csv), rn (1-based row
of the data file), value, forecast and score (empty for rows without a score: they count as
0). For every data file of the categories it writes NAB's results file
(timestamp, value, anomaly_score, label) and then runs NAB's own run.py --optimize --score
--normalize for DETECTOR and NAB's null detector in a scoring folder restricted to the
categories: their data files, their label windows (so the perfect score counts only their
windows), NAB's null results for them (the baseline) and a fresh thresholds file. NAB's
checkout is not changed except NAB_DIR/results/DETECTOR, which receives the results and
score files (a folder of that name that this script did not make is never touched).
Prints the three normalized profile scores.

Used by nab_evaluate.sh; score_study.py uses its helpers to score candidate scores the same
way.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
MARKER = ".written-by-lstm-nab_results"


def category_files(nab, categories):
    """NAB relative paths (category/name.csv) of the data files of the categories, sorted."""
    files = []
    for category in categories:
        folder = os.path.join(nab, "data", category)
        files += [category + "/" + name for name in sorted(os.listdir(folder)) if name.endswith(".csv")]
    return files


def read_scores(path):
    """{file: [score per row, row order]} from a scores CSV; a missing score is 0."""
    scores = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows = scores.setdefault(row["file"], [])
            if int(row["rn"]) != len(rows) + 1:
                sys.exit("scores of %s are not rows 1, 2, ... in order" % row["file"])
            rows.append(float(row["score"]) if row["score"] != "" else 0.0)
    return scores


def read_data(nab, file):
    """The data file's rows as (timestamp text, value text), in file order."""
    with open(os.path.join(nab, "data", file), newline="") as f:
        reader = csv.reader(f)
        next(reader)
        return [(r[0], r[1]) for r in reader]


def windows_for(nab, files):
    """NAB's label windows (combined_windows.json) of the files."""
    with open(os.path.join(nab, "labels", "combined_windows.json")) as f:
        windows = json.load(f)
    return {file: windows[file] for file in files}


def write_results(folder, detector, file, rows, scores, windows):
    """One NAB results file: timestamp, value, anomaly_score, label (1 inside a window)."""
    category, name = file.split("/")
    os.makedirs(os.path.join(folder, category), exist_ok=True)
    # Window bounds are "YYYY-MM-DD HH:MM:SS.ffffff"; the data's timestamps sort the same way.
    bounds = [(a[:19], b[:19]) for a, b in windows]
    with open(os.path.join(folder, category, detector + "_" + name), "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["timestamp", "value", "anomaly_score", "label"])
        for (ts, value), score in zip(rows, scores):
            label = int(any(a <= ts[:19] <= b for a, b in bounds))
            out.writerow([ts, value, repr(float(score)), label])


def make_scoring_folder(nab, files, windows, root):
    """NAB's layout restricted to files: data (links), labels, config, null results."""
    for file in files:
        category, name = file.split("/")
        os.makedirs(os.path.join(root, "data", category), exist_ok=True)
        os.symlink(os.path.join(nab, "data", file), os.path.join(root, "data", file))
        os.makedirs(os.path.join(root, "results", "null", category), exist_ok=True)
        shutil.copy(os.path.join(nab, "results", "null", category, "null_" + name),
                    os.path.join(root, "results", "null", category))
    os.makedirs(os.path.join(root, "labels"))
    with open(os.path.join(root, "labels", "combined_windows.json"), "w") as f:
        json.dump(windows, f, indent=2)
    os.makedirs(os.path.join(root, "config"))
    shutil.copy(os.path.join(nab, "config", "profiles.json"), os.path.join(root, "config"))
    with open(os.path.join(root, "config", "thresholds.json"), "w") as f:
        json.dump({}, f)


def run_nab(nab, root, detector):
    """NAB's run.py --optimize --score --normalize for detector and null in the scoring folder;
    returns {profile: normalized score}."""
    command = [sys.executable, os.path.join(nab, "run.py"), "-d", "null," + detector,
               "--optimize", "--score", "--normalize", "--skipConfirmation", "-n", "1",
               "--dataDir", os.path.join(root, "data"),
               "--windowsFile", os.path.join(root, "labels", "combined_windows.json"),
               "--resultsDir", os.path.join(root, "results"),
               "-p", os.path.join(root, "config", "profiles.json"),
               "-t", os.path.join(root, "config", "thresholds.json")]
    log = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if log.returncode != 0:
        sys.exit("NAB's run.py failed:\n" + log.stdout + log.stderr)
    with open(os.path.join(root, "results", "final_results.json")) as f:
        final = json.load(f)
    return final[detector]


def replace_results(nab, detector, source):
    """Copy the scoring folder's results of detector to NAB_DIR/results/detector."""
    target = os.path.join(nab, "results", detector)
    if os.path.exists(target):
        if not os.path.exists(os.path.join(target, MARKER)):
            sys.exit("%s exists and was not written by this script; pick another detector name"
                     % target)
        shutil.rmtree(target)
    shutil.copytree(source, target)
    open(os.path.join(target, MARKER), "w").close()


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    nab, detector, scores_csv, categories = (os.path.abspath(sys.argv[1]), sys.argv[2],
                                             sys.argv[3], sys.argv[4:])
    if detector == "null" or not detector.isalnum():
        sys.exit("the detector name must be letters and digits, and not null")
    target = os.path.join(nab, "results", detector)
    if os.path.exists(target) and not os.path.exists(os.path.join(target, MARKER)):
        sys.exit("%s exists and was not written by this script; pick another detector name"
                 % target)
    files = category_files(nab, categories)
    scores = read_scores(scores_csv)
    windows = windows_for(nab, files)
    with tempfile.TemporaryDirectory(prefix="lstm-nab-score.") as root:
        make_scoring_folder(nab, files, windows, root)
        for file in files:
            rows = read_data(nab, file)
            if len(scores.get(file, [])) != len(rows):
                sys.exit("%s: %d rows but %d scores" % (file, len(rows), len(scores.get(file, []))))
            write_results(os.path.join(root, "results", detector), detector, file, rows,
                          scores[file], windows[file])
        final = run_nab(nab, root, detector)
        replace_results(nab, detector, os.path.join(root, "results", detector))
    print("NAB scores of %s on %s (%d files):" % (detector, ", ".join(categories), len(files)))
    for profile in PROFILES:
        print("  %-20s %6.2f" % (profile, final[profile]))


if __name__ == "__main__":
    main()
