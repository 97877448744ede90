"""The Table 2 suite (benchmarks.table2): data, shared trunks, paired intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from benchmarks import table2
from benchmarks.datasets import has_data_dir
from benchmarks.tests._toy_data import table2_toy_data


def _toy():
    return table2_toy_data("reuters", 0)


def test_rows_share_their_trunk_and_differ_after_the_deferral_epoch():
    data = _toy()
    cfg = table2.Config(epochs=6, warmup=1, start_frac=0.5, batch_size=32, hidden=16, eta=0.1)
    hp = {k: v[0] for k, v in table2.GRIDS.items()}
    rows = ["erm", "drs", "m2m", "rs", "smote", "ldam", "ldam-drw"]
    out = table2.run_seed(cfg, data, hp, 0, rows, X_eval=data["X_test"],
                          y_eval=data["y_test"], log=lambda m: None)  # fmt: skip
    by = {r["row"]: r for r in out}
    assert [r["row"] for r in out] == rows
    loss = {k: by[k]["curve"]["train_loss"] for k in rows}
    assert all(len(v) == 6 for v in loss.values())
    # ERM, DRS and M2m continue one CE trunk: identical epochs 0-2, different from 3 on
    assert loss["erm"][:3] == loss["drs"][:3] == loss["m2m"][:3]
    assert loss["erm"][3] != loss["drs"][3]
    # DRS and M2m also see the same batches after it; only the generation differs
    assert by["m2m"]["m2m"]["m2m_accepted"] > 0
    assert loss["ldam"][:3] == loss["ldam-drw"][:3] and loss["ldam"][3] != loss["erm"][3]
    # the lr schedule goes on across the trunk: warm-up 1 epoch, x0.01 at 80% (5), 90% (5)
    np.testing.assert_allclose(by["drs"]["curve"]["lr"], [0.1] * 5 + [1e-5], rtol=1e-9)
    # SMOTE trains on the balanced set with the epoch length of the original set
    assert by["smote"]["smote_k"] == 5
    for r in out:
        assert 0.0 <= r["bacc"] <= 1.0 and r["cpu_s"] > 0


def test_summarise_paired_differences_and_t_interval():
    runs = []
    a = [0.70, 0.72, 0.69, 0.75, 0.71]
    b = [0.66, 0.70, 0.70, 0.71, 0.69]
    for s, (x, z) in enumerate(zip(a, b)):
        for row, v in (("m2m", x), ("drs", z)):
            runs.append({"row": row, "seed": s, "bacc": v, "gm": 0, "gm_c": 0, "minor": 0,
                         "major": 0, "train_bacc": 0, "cpu_s": 1.0})  # fmt: skip
    res = table2.summarise(runs, ["drs", "m2m"])
    pair = next(p for p in res["pairs"] if (p["a"], p["b"]) == ("m2m", "drs"))
    d = 100 * (np.array(a) - np.array(b))
    lo, hi = stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d))
    assert pair["mean"] == pytest.approx(2.2)
    assert pair["mean"] - pair["ci95"] == pytest.approx(lo)
    assert pair["mean"] + pair["ci95"] == pytest.approx(hi)
    assert pair["target"] == 2.0 and pair["n"] == 5
    assert res["rows"]["m2m"]["bacc"] == pytest.approx(np.mean(a))
    assert res["rows"]["m2m"]["bacc_std"] == pytest.approx(np.std(a, ddof=1))


@pytest.mark.shared_data
@pytest.mark.skipif(
    not has_data_dir(*(f"text/twitter_pos/oct27.{p}" for p in ("train", "test"))),
    reason="shared Twitter POS files not found",
)
def test_twitter_keeps_the_23_test_tags_and_the_papers_ratio():
    d = table2.load_table2_data("twitter-pos")
    counts = np.bincount(d["y"])
    assert len(d["class_names"]) == 23 and "M" not in d["class_names"]
    assert "Y" not in d["class_names"]
    assert counts.max() == 2219 and counts.min() == 15  # N_1 / N_K = 147.9, as the paper
    assert round(counts.max() / counts.min(), 1) == 147.9
    assert d["X"].shape == (14619 - 5, 3000) and d["X_test"].shape == (7152, 3000)
    assert set(np.unique(d["y_test"])) == set(range(23))


def test_merge_joins_seeds_of_one_protocol(tmp_path):
    import json

    data = _toy()
    cfg = table2.Config(epochs=4, warmup=1, start_frac=0.5, batch_size=32, hidden=8, eta=0.1)
    hp = {k: v[0] for k, v in table2.GRIDS.items()}
    base = {
        "dataset": "reuters", "config": cfg.__dict__, "milestones": [3, 4], "start_epoch": 2,
        "machine": "test", "torch": torch.__version__, "rows": ["erm", "drs"],
        "data": {"n_train": 178, "n_test": 80, "n_classes": 4, "imbalance_ratio": 20.0,
                 "features": "toy"},
        "tuning": {"n_fit": 1, "n_val": 1, "chosen": hp},
    }  # fmt: skip
    # the 2nd file searched CB-RW's beta (rows added later), the 1st only carries the default
    tuned = {"n_fit": 1, "n_val": 1, "chosen": {**hp, "cbrw": {"beta": 0.9999}},
             "candidates": {"cbrw": [{"beta": 0.999, "val_bacc": 0.5},
                                     {"beta": 0.9999, "val_bacc": 0.6}]}}  # fmt: skip
    paths = []
    for seeds, tuning in (([0], base["tuning"]), ([1, 0], tuned)):
        runs = []
        for s in seeds:
            runs += table2.run_seed(cfg, data, hp, s, ["erm", "drs"], X_eval=data["X_test"],
                                    y_eval=data["y_test"], log=lambda m: None)  # fmt: skip
        res = {**base, "runs": runs, "seeds": seeds, "command": f"run {seeds}", "cpu_s": 1.0,
               "wall_s": 2.0, "tuning": tuning}  # fmt: skip
        paths.append(tmp_path / f"r{len(paths)}.json")
        paths[-1].write_text(json.dumps(res, default=float))
    out = table2.merge(paths, tmp_path / "merged" / "table2_reuters")
    assert out["seeds"] == [0, 1] and len(out["runs"]) == 4  # seed 0 of the 2nd file dropped
    assert out["summary"]["rows"]["erm"]["n_seeds"] == 2
    assert out["command"] == "run [0] ; run [1, 0]" and out["cpu_s"] == 2.0
    by = {(r["row"], r["seed"]): r["bacc"] for r in out["runs"]}
    assert out["summary"]["rows"]["drs"]["bacc"] == pytest.approx((by["drs", 0] + by["drs", 1]) / 2)
    assert (tmp_path / "merged" / "table2_reuters.md").read_text().count("| ERM | 2 |") == 1
    assert hp["cbrw"] == {"beta": 0.999}  # the grid's first value: the 1st file's placeholder
    assert out["tuning"]["chosen"]["cbrw"] == {"beta": 0.9999}  # the searched choice wins
    assert out["tuning"]["chosen"]["m2m"] == hp["m2m"]
    assert out["tuning"]["candidates"]["cbrw"] == tuned["candidates"]["cbrw"]
    other = json.loads(paths[0].read_text())
    other["config"]["epochs"] = 5
    paths[1].write_text(json.dumps(other))
    with pytest.raises(ValueError, match="protocols"):
        table2.merge(paths, tmp_path / "bad")


def test_worker_processes_change_the_time_not_the_numbers(tmp_path):
    """--jobs 2 (spawned workers, both data sets in one pool) gives every number of
    --jobs 1, seed by seed; bf16 autocast changes them (a precision switch that works)."""
    import json

    cfg = table2.Config(epochs=4, warmup=1, start_frac=0.5, batch_size=32, hidden=8,
                        eta=None)  # fmt: skip
    kw = dict(rows=["erm", "drs", "m2m", "cbrw"], seeds=[0, 1], loader=table2_toy_data,
              fixed={"m2m": {"beta": 0.9, "gamma": 0.9}}, log=lambda m: None)  # fmt: skip
    names = ["twitter-pos", "reuters"]
    one = table2.run_suite(names, cfg, out=tmp_path / "one", jobs=1, **kw)
    two = table2.run_suite(names, cfg, out=tmp_path / "two", jobs=2, **kw)

    def numbers(res):  # JSON text: NaN (a class with no target) equals NaN
        return json.dumps([(r["row"], r["seed"], r["bacc"], r["curve"]["train_loss"],
                            r.get("m2m")) for r in res["runs"]])  # fmt: skip

    for n in names:
        assert numbers(one[n]) == numbers(two[n])
        assert one[n]["tuning"]["chosen"] == two[n]["tuning"]["chosen"]
        assert len(two[n]["runs"]) == 8 and two[n]["jobs"] == 2
        assert [r["seed"] for r in two[n]["runs"]] == [0] * 4 + [1] * 4
        saved = json.loads((tmp_path / "two" / f"table2_{n}.json").read_text())
        assert saved["suite"] == names and saved["suite_wall_s"] > 0
        assert "2 worker process(es)" in (tmp_path / "two" / f"table2_{n}.md").read_text()
    # each data set keeps its own step size and data (eta from the loader: None -> 0.1)
    assert one["reuters"]["config"]["eta"] == 0.1
    assert numbers(one["reuters"]) != numbers(one["twitter-pos"])
    bf16 = table2.run_suite("reuters", table2.Config(**{**cfg.__dict__, "precision": "bf16"}),
                            out=tmp_path / "bf16", jobs=1, **kw)  # fmt: skip
    assert numbers(bf16) != numbers(one["reuters"])
    with pytest.raises(ValueError, match="precision"):
        _ = table2.Config(precision="fp16").amp_dtype


def test_precision_comparison_pairs_rows_by_seed():
    from benchmarks.table2_precision import compare, markdown

    def result(baccs, cpu):
        runs = [{"row": row, "seed": s, "bacc": v, "cpu_s": cpu}
                for row, vs in baccs.items() for s, v in enumerate(vs)]  # fmt: skip
        return {"dataset": "reuters", "runs": runs, "cpu_s": 60.0, "wall_s": 30.0,
                "tuning": {"chosen": {}}, "command": "c", "machine": "m"}  # fmt: skip

    bf16 = result({"erm": [0.70, 0.72, 0.74], "rs": [0.80, 0.81, 0.79]}, 1.0)
    fp32 = result({"erm": [0.71, 0.70, 0.74], "rs": [0.80, 0.80]}, 4.0)
    out = compare(bf16, fp32)
    erm, rs = out["rows"]
    d = 100 * (np.array([0.70, 0.72, 0.74]) - np.array([0.71, 0.70, 0.74]))
    lo, hi = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    assert erm["row"] == "erm" and erm["n"] == 3
    assert erm["diff"] == pytest.approx(1 / 3) and erm["diff"] + erm["ci95"] == pytest.approx(hi)
    assert rs["n"] == 2 and rs["diff"] == pytest.approx(0.5)  # seed 2 has no fp32 pair
    assert erm["cpu_ratio"] == pytest.approx(0.25)
    assert out["all_pairs"]["n"] == 5 and out["all_pairs"]["abs_max"] == pytest.approx(2.0)
    assert "| ERM | 3 | 72.0 | 71.7 | +0.33 ±" in markdown([out])
    with pytest.raises(ValueError, match="different data sets"):
        compare(bf16, {**fp32, "dataset": "twitter-pos"})


def test_jobs_below_one_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        table2.main(["--dataset", "reuters", "--jobs", "0"])
    assert exc.value.code == 2
    assert "--jobs must be at least 1; got 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        table2.run_suite("reuters", table2.Config(), [0], ["erm"], Path("unused"), jobs=0)
