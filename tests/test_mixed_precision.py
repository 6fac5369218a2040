"""Mixed-precision training on the CPU and, where a CUDA GPU is present, on the GPU: the losses recorded are
the user's (not the GradScaler's scaled ones), device losses are read by the collector, and a GPU job's GPU is
described and metered through the real NVML."""

from __future__ import annotations

import json
import os

import pytest
import torch

from helpers import attr, relations, run_script
from test_torch_capture import read_series, sha256

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU"))]


@pytest.fixture(scope="module", params=DEVICES)
def amp(request, tmp_path_factory):
    work = tmp_path_factory.mktemp(request.param)
    run = run_script("amp_train.py", "--device", request.param, root=str(work / "runs"), cwd=str(work),
                     timeout=300)
    assert run.returncode == 0, run.stderr
    return request.param, work, run, run.document(), json.loads(run.stdout.splitlines()[-1])


def test_losses_are_the_users_not_the_scaled_ones(amp):
    _, _, run, document, expected = amp
    rows = read_series(run.folder, document, "loss")
    assert [[int(r["epoch"]), float(r["value"]), int(r["step"])] for r in rows] == expected["losses"]
    assert [float(r["value"]) for r in read_series(run.folder, document, "eval_loss")] == expected["eval_losses"]
    total = document["activity"]["run:run"]
    assert attr(total, "stepsTotal") == expected["losses"][-1][2] and attr(total, "agentErrors") == 0


def test_a_checkpoint_of_device_tensors_is_known_by_content_when_loaded_back(amp):
    _, work, _, document, expected = amp
    ident = "sha256:" + sha256(os.path.join(work, expected["checkpoint"]))
    assert attr(document["entity"][ident], "prov:type") == "prov4ml:Checkpoint"
    assert relations(document, "wasGeneratedBy", entity=ident) and relations(document, "used", entity=ident)


def test_a_gpu_job_describes_and_meters_its_gpu_through_nvml(amp):
    device, _, run, document, _ = amp
    if device != "cuda":
        pytest.skip("a GPU job only")
    environment = document["entity"]["run:environment"]
    assert attr(environment, "gpuMonitoring") == "nvml" and attr(environment, "gpuCount") >= 1
    assert attr(environment, "gpu0Name") in attr(environment, "gpus")  # NVML's name and torch's agree
    assert attr(environment, "gpu0MemoryTotalBytes") > 0 and attr(environment, "gpu0Uuid").startswith("GPU-")
    power = read_series(run.folder, document, "gpu0.power_watts")
    assert len(power) >= 2 and all(float(row["value"]) > 0 for row in power)
    assert attr(document["activity"]["run:run"], "gpuEnergyJoules") > 0
