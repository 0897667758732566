"""Imbalance tools: the class-balanced sampler, the cap on cb_ce weights, per-class kept fractions,
and their passage through the config, resume and the results row."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from erts_kit.selection.base import Decision
from erts_kit.selection.log import SelectionLog
from erts_kit.training import TrainConfig, train
from erts_kit.training.checkpoint import load_checkpoint, save_checkpoint
from erts_kit.training.config import comparable_config
from erts_kit.training.losses import class_balanced_weights, make_loss
from erts_kit.training.sampling import ClassBalancedSampler, class_balanced_sample_weights
from erts_kit.training.state import build_run_state

from test_train import LambdaPolicy, TinyNet, cfg, run, tiny_data


# ---- sampler -----------------------------------------------------------------------------------------
def test_sampler_draws_each_class_equally_often():
    labels = np.array([0] * 90 + [1] * 8 + [2] * 2)   # 90 / 8 / 2: a rare class of two samples
    s = ClassBalancedSampler(labels, seed=3)
    draws = []
    for epoch in range(40):
        s.set_epoch(epoch)
        draws += list(s)
    assert len(draws) == 40 * 100
    share = np.bincount(labels[draws], minlength=3) / len(draws)
    # expected 1/3 each; binomial sd with n = 4000 is 0.0075, so 0.03 is four sd
    assert share == pytest.approx([1 / 3] * 3, abs=0.03)
    # within a class, every sample equally often: the two rare ones about 1/6 of all draws each
    rare = np.bincount(np.array(draws)[labels[draws] == 2] - 98, minlength=2) / len(draws)
    assert rare == pytest.approx([1 / 6, 1 / 6], abs=0.03)


def test_sampler_is_seeded_by_epoch_and_splits_ranks_disjointly():
    labels = np.arange(50) % 5
    one = ClassBalancedSampler(labels, seed=1)
    one.set_epoch(4)
    again = ClassBalancedSampler(labels, seed=1)
    again.set_epoch(4)
    assert list(one) == list(again)
    again.set_epoch(5)
    assert list(one) != list(again)
    r0, r1 = (ClassBalancedSampler(labels, seed=1, rank=r, world=2) for r in (0, 1))
    for r in (r0, r1):
        r.set_epoch(4)
    # the two ranks take alternate positions of one and the same draw
    whole = ClassBalancedSampler(labels, seed=1)
    whole.set_epoch(4)
    merged = [v for pair in zip(r0, r1) for v in pair]
    assert len(r0) == len(r1) == 25 and merged == list(whole)


def test_sampler_weights_by_hand_and_bad_input():
    assert class_balanced_sample_weights([0, 0, 0, 2]).tolist() == pytest.approx([1 / 6] * 3 + [1 / 2])
    with pytest.raises(ValueError, match="single-label"):
        ClassBalancedSampler(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="rank < world"):
        ClassBalancedSampler([0, 1], rank=2, world=2)
    with pytest.raises(ValueError, match="sampler"):
        TrainConfig(sampler="weighted")


def test_training_with_the_sampler_sees_the_minority_class_as_often_as_the_majority():
    data = tiny_data(n=96, classes=2)
    data.labels[data.splits["train"][:50]] = 0   # train: mostly class 0
    y_train = data.labels[data.splits["train"]]
    assert (y_train == 1).mean() < 0.25
    res = run(data=data, epochs=4, sampler="class_balanced")
    log = res.selection_log.to_dataframe()
    seen = data.labels[log["index"].to_numpy()]
    assert len(log) == 4 * len(y_train)   # an epoch still shows len(train) samples
    assert (seen == 1).mean() == pytest.approx(0.5, abs=0.1)
    plain = run(data=data, epochs=1).selection_log.to_dataframe()
    assert (data.labels[plain["index"].to_numpy()] == 1).mean() == pytest.approx((y_train == 1).mean())


# ---- cap on the class-balanced loss ---------------------------------------------------------------------
DS1 = [45844, 944, 3788, 414, 8]   # N, S, V, F, Q beats of the 22 DS1 records (load_mitbih)


def test_cb_weight_cap_clips_only_the_heaviest_class():
    free = class_balanced_weights(DS1)
    capped = class_balanced_weights(DS1, max_ratio=50.0)
    ratio = lambda w: (w / w[0]).numpy()  # noqa: E731
    assert ratio(free)[4] > 1000                     # Q: ~1,240x an N beat uncapped
    assert ratio(capped)[4] == pytest.approx(50.0, rel=1e-5)
    assert ratio(capped)[:4] == pytest.approx(ratio(free)[:4], rel=1e-5)   # S, V, F untouched
    assert float(capped.sum()) == pytest.approx(5.0, rel=1e-5)            # still sums to C
    # a cap of 1 gives equal weights to the present classes; an absent class stays at 0
    w = class_balanced_weights([10, 0, 1000], beta=0.999, max_ratio=1.0)
    assert w.tolist() == pytest.approx([1.5, 0.0, 1.5])
    with pytest.raises(ValueError, match="max_ratio"):
        class_balanced_weights([1, 2], max_ratio=0.5)
    assert make_loss("cb_ce", np.repeat([0, 1], [1000, 2]), 2, max_weight_ratio=4.0).class_weights.tolist() \
        == pytest.approx([0.4, 1.6])


def test_train_config_cap_reaches_the_loss():
    data = tiny_data()
    data.labels[data.splits["train"][:20]] = 0
    state = build_run_state(TinyNet(), data, cfg(loss="cb_ce", cb_beta=0.999999, cb_max_weight_ratio=1.5),
                            torch.device("cpu"), False, 0, 1)
    w = state.criterion.class_weights
    assert float(w.max() / w.min()) == pytest.approx(1.5, rel=1e-5)
    with pytest.raises(ValueError, match="cb_max_weight_ratio"):
        TrainConfig(cb_max_weight_ratio=0.9)


# ---- per-class kept fractions -----------------------------------------------------------------------------
def test_history_kept_fraction_per_class_on_a_hand_built_selection():
    data = tiny_data(classes=2)
    keep_class_0 = LambdaPolicy(lambda epoch, b: b.y.cpu() == 0)
    h = run(data=data, policy=keep_class_0, epochs=2).history
    assert h["kept_frac_c0"].tolist() == [1.0, 1.0] and h["kept_frac_c1"].tolist() == [0.0, 0.0]
    n0 = int((data.labels[data.splits["train"]] == 0).sum())
    assert h["kept"].tolist() == [n0, n0]


def test_selection_log_summary_kept_fraction_per_class():
    log = SelectionLog()
    # epoch 3: class a (indices 0, 1) keeps one of two; class b (2, 3, 4) keeps all three
    log.add_arrays(3, [0, 1, 2, 3, 4], decision=[Decision.KEPT, Decision.DROPPED_CONFIDENT, Decision.KEPT,
                                                  Decision.FLOOR, Decision.RESCUED])
    s = log.summary(labels=[0, 0, 1, 1, 1], class_names=["a", "b"])
    assert s.loc[3, "kept_frac_a"] == 0.5 and s.loc[3, "kept_frac_b"] == 1.0
    assert s.loc[3, "n_floor"] == 1
    assert np.isnan(log.summary(labels=[0, 0, 1, 1, 1, 2], class_names=["a", "b", "c"]).loc[3, "kept_frac_c"])
    with pytest.raises(ValueError, match="whole dataset"):
        log.summary(labels=[0, 1])


# ---- config, resume, manifest -----------------------------------------------------------------------------
def test_new_fields_refuse_a_resume_with_other_values(tmp_path):
    run(epochs=1, run_dir=tmp_path)
    with pytest.raises(ValueError, match="sampler"):
        run(epochs=2, run_dir=tmp_path, resume=True, sampler="class_balanced")
    with pytest.raises(ValueError, match="select_after_warmup"):
        run(epochs=2, run_dir=tmp_path, resume=True, select_after_warmup=True)


def test_a_checkpoint_older_than_the_new_fields_still_resumes(tmp_path):
    run(epochs=1, run_dir=tmp_path)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    for k in ("sampler", "cb_max_weight_ratio", "select_after_warmup"):
        del ckpt["config"][k]
    save_checkpoint(tmp_path / "last.pt", {k: v for k, v in ckpt.items() if k not in ("format", "version")})
    res = run(epochs=2, run_dir=tmp_path, resume=True)
    assert res.history["epoch"].tolist() == [0, 1]
    # the cap counts only under cb_ce: an old cb_ce run compares as uncapped
    assert comparable_config({"loss": "cb_ce"})["cb_max_weight_ratio"] is None
    assert comparable_config({"loss": "cb_ce", "cb_max_weight_ratio": 50.0})["cb_max_weight_ratio"] == 50.0


def test_cli_flags_reach_the_experiment_config_and_the_train_config():
    from erts_kit.cli.commands import _experiment_config, _settings, build_parser
    from erts_kit.results.grid import plan_grid
    argv = ["compare", "--sampler", "class_balanced", "--cb-max-weight-ratio", "none", "--select-after-warmup",
            "--class-floor", "0.2", "--policies", "full", "dbpd", "--epochs", "7"]
    args = build_parser().parse_args(argv)
    cfg_ = _experiment_config(_settings(args, set()))
    assert (cfg_.sampler, cfg_.cb_max_weight_ratio, cfg_.select_after_warmup, cfg_.class_floor) == \
        ("class_balanced", None, True, 0.2)
    runs = plan_grid(["full", "dbpd"], [1], "small_cnn", 7, cfg_)
    assert runs[1].policy_obj.class_floor == 0.2 and "class_floor" not in runs[0].policy_obj.params()
    tc = runs[1].train_config
    assert (tc.sampler, tc.cb_max_weight_ratio, tc.select_after_warmup) == ("class_balanced", None, True)
    assert runs[1].settings["train"]["sampler"] == "class_balanced"          # in the run manifest
    assert runs[1].settings["policy"]["class_floor"] == 0.2
    with pytest.raises(ValueError, match="class_floor"):
        plan_grid(["dbpd"], [1], "small_cnn", 7, {"class_floor": 1.5})


def test_notebook_parameters_know_the_new_knobs():
    from erts_kit.course.params import check_value
    assert check_value("SAMPLER", "class_balanced") == "class_balanced"
    assert check_value("CB_MAX_WEIGHT_RATIO", None) is None
    with pytest.raises(ValueError, match="CLASS_FLOOR"):
        check_value("CLASS_FLOOR", 2.0)


def test_no_stray_warning_from_a_full_run():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(epochs=1)


def test_a_log_written_before_the_floor_decision_still_loads(tmp_path):
    from erts_kit.selection.log import _arrays_digest
    log = SelectionLog()
    log.add_arrays(0, [3, 1], decision=[Decision.KEPT, Decision.WARMUP])
    members = {"version": np.int64(1), "decision_names": np.array([d.name for d in sorted(Decision)][:7]),
               **log.arrays()}   # an older kit knew KEPT .. FULL only
    members["sha256"] = np.array(_arrays_digest({k: np.asarray(v) for k, v in members.items()}))
    np.savez_compressed(tmp_path / "old.npz", **members)
    assert SelectionLog.load(tmp_path / "old.npz").to_dataframe()["decision"].tolist() == ["KEPT", "WARMUP"]
    members["decision_names"] = np.array(["KEPT", "OTHER"])
    members["sha256"] = np.array(_arrays_digest({k: np.asarray(v) for k, v in members.items() if k != "sha256"}))
    np.savez_compressed(tmp_path / "bad.npz", **members)
    with pytest.raises(ValueError, match="incompatible"):
        SelectionLog.load(tmp_path / "bad.npz")


def _ddp_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import datetime
    import json
    from pathlib import Path

    import torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    data = tiny_data(n=96)
    data.labels[data.splits["train"][:50]] = 0
    drawn: list[int] = []

    def rule(epoch, b):
        drawn.extend(b.indices.tolist())
        return b.y.cpu() == 0

    keep_class_0 = LambdaPolicy(rule)
    torch.manual_seed(0)
    res = train(TinyNet(), data, keep_class_0, TrainConfig(epochs=1, batch_size=8, lr=1e-2, sampler="class_balanced"),
                progress=False)
    out = {"drawn": drawn}
    if rank == 0:
        out["kept_frac"] = [res.history["kept_frac_c0"].item(), res.history["kept_frac_c1"].item()]
        out["log_rows"] = len(res.selection_log)
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(out))
    dist.destroy_process_group()


@pytest.mark.slow
def test_class_balanced_sampler_under_ddp_splits_one_draw(tmp_path):
    import json
    import socket

    import torch.distributed as dist
    import torch.multiprocessing as mp
    if not dist.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True, start_method="fork")
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    data = tiny_data(n=96)
    data.labels[data.splits["train"][:50]] = 0
    whole = ClassBalancedSampler(data.labels[data.splits["train"]], seed=42)
    whole.set_epoch(0)
    positions = list(whole)
    train_idx = data.splits["train"]
    assert r0["drawn"] == [int(train_idx[p]) for p in positions[0::2]]
    assert r1["drawn"] == [int(train_idx[p]) for p in positions[1::2]]
    assert r0["log_rows"] == len(positions)                         # gathered from both ranks
    assert r0["kept_frac"] == [1.0, 0.0]                            # per-class sums reduced over ranks
