"""DistributedDataParallel on CPU (gloo, 2 processes): gathered ledger and log, a rank that keeps nothing.

Rank 1 keeps nothing during epoch 0 (it must join every step with a zero-weighted loss, or rank 0
would hang in DDP's gradient all-reduce); in epoch 1 both ranks keep the even dataset indices.
"""
from __future__ import annotations

import datetime
import json
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))
from test_train import LambdaPolicy, TinyNet, tiny_data  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    from erts_kit.training import TrainConfig, train
    seen, kept = {0: 0, 1: 0}, {0: 0, 1: 0}

    def rule(epoch, batch):
        keep = (batch.indices % 2 == 0) if epoch > 0 else torch.full_like(batch.indices, rank == 0, dtype=torch.bool)
        seen[epoch] += len(keep)
        kept[epoch] += int(keep.sum())
        return keep

    torch.manual_seed(0)
    res = train(TinyNet(), tiny_data(), LambdaPolicy(rule, score=True),
                TrainConfig(epochs=2, batch_size=8, lr=1e-2), run_dir=Path(out_dir) / "run", progress=False)
    out = {"seen": seen, "kept": kept, "weight_sum": float(sum(p.double().sum() for p in res.model.parameters()))}
    if rank == 0:
        df = res.selection_log.to_dataframe()
        out.update(ledger=res.ledger.totals(), ledger_epochs=res.ledger.epoch_table().to_dict("list"),
                   log_index={e: sorted(set(df[df.epoch == e]["index"].tolist())) for e in (0, 1)},
                   log_rows={e: int((df.epoch == e).sum()) for e in (0, 1)},
                   log_kept={e: int(df[df.epoch == e]["kept"].sum()) for e in (0, 1)},
                   history_kept=res.history["kept"].tolist(), train_loss=res.history["train_loss"].tolist())
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(out))
    dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_ranks_gather_ledger_and_log(tmp_path):
    if not dist.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    # fork: the children reuse the imported torch (spawn re-imports it: ~20 s more on a small box)
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True, start_method="fork")
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    seen = {e: r0["seen"][e] + r1["seen"][e] for e in ("0", "1")}
    kept = {e: r0["kept"][e] + r1["kept"][e] for e in ("0", "1")}
    assert r1["kept"]["0"] == 0 and r0["kept"]["0"] > 0  # rank 1 kept nothing in epoch 0, and nobody hung
    # the ledger on rank 0 is the sum over ranks
    assert r0["ledger"]["trained"] == kept["0"] + kept["1"]
    assert r0["ledger"]["scored"] == seen["0"] + seen["1"]
    assert r0["ledger_epochs"]["trained"] == [kept["0"], kept["1"]]
    assert r0["history_kept"] == [kept["0"], kept["1"]]
    # the gathered log covers every training index, every epoch (40 samples, 20 per rank, no padding)
    train_idx = sorted(tiny_data().splits["train"].tolist())
    assert seen["0"] == seen["1"] == len(train_idx) == 40
    for e in ("0", "1"):
        assert r0["log_index"][e] == train_idx
        assert r0["log_rows"][e] == seen[e] and r0["log_kept"][e] == kept[e]
    assert r0["weight_sum"] == r1["weight_sum"]  # replicas stay identical
    assert all(v == v for v in r0["train_loss"])  # finite means, no NaN from the empty rank
    assert (tmp_path / "run" / "last.pt").exists() and (tmp_path / "run" / "best.pt").exists()
