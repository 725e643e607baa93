"""DDP on CPU: two gloo processes train a few steps and end with identical weights."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, config_json: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    from stn.train import TrainConfig, train

    torch.manual_seed(rank)  # different seeds per rank: DDP must still leave them identical
    model = train(TrainConfig.model_validate_json(config_json))
    save_file({k: v.detach().contiguous() for k, v in model.named_parameters()}, f"{out}/rank{rank}.safetensors")
    dist.destroy_process_group()


def test_two_cpu_processes_end_with_identical_weights(tiny_sets, make_config, tmp_path):
    cfg = make_config(tmp_path / "run", tiny_sets["full"], steps=3, lr=1e-2, model={"orientation_head": True})
    mp.spawn(_worker, args=(2, _free_port(), cfg.model_dump_json(), str(tmp_path)), nprocs=2, join=True)
    a, b = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    init = make_config(tmp_path / "x", tiny_sets["full"], model={"orientation_head": True}).model
    from stn.model import DocSTN

    torch.manual_seed(0)
    fresh = dict(DocSTN(init).named_parameters())
    assert any(not torch.equal(a[k], fresh[k]) for k in a)  # they trained
    assert (tmp_path / "run" / "model.safetensors").is_file()  # rank 0 wrote the checkpoint
