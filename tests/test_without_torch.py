"""The agent in a job that never imports torch (and, in tox's notorch environment, where torch is absent)."""

from __future__ import annotations

import json

from helpers import attr, records_of_type, run_script


def test_dormant_integrations_and_a_valid_document(tmp_path):
    plain = run_script("no_torch.py", "--rows", "5", root=str(tmp_path / "plain"), how="plain")
    run = run_script("no_torch.py", "--rows", "5", root=str(tmp_path / "runs"))
    assert run.returncode == plain.returncode == 0 and run.stdout == plain.stdout
    assert json.loads(run.stdout) == {"rows": 5, "torch_imported": False}
    document = run.document()
    assert attr(document["activity"]["run:run"], "agentErrors") == 0
    assert attr(document["entity"]["run:param/argparse/rows"], "prov:value") == 5
    assert not records_of_type(document, "entity", "prov4ml:Optimizer")
    assert "prov4ml:torch" not in document["entity"]["run:environment"]
