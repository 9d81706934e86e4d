"""`mst push` uploads the run folder (never checkpoints) through huggingface_hub; no network here."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from styletransfer import cli
from styletransfer.model.runs import SHIPPED


class FakeApi:
    calls: list = []

    def create_repo(self, repo, exist_ok=False, private=False):
        FakeApi.calls.append(("create", repo, private))

    def upload_folder(self, folder_path, repo_id, ignore_patterns):
        FakeApi.calls.append(("upload", folder_path, repo_id, tuple(ignore_patterns)))
        return type("Info", (), {"commit_url": f"https://hub/{repo_id}/commit/1"})()


@pytest.fixture
def run_folder(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SHIPPED, run)
    (run / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    return run


def test_push_uploads_the_run_without_checkpoints(monkeypatch, run_folder, capsys):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["push", str(run_folder), "--repo", "me/mst-base", "--private"])
    assert exit_info.value.code in (0, None)
    assert FakeApi.calls[0] == ("create", "me/mst-base", True)
    kind, folder, repo, ignored = FakeApi.calls[1]
    assert (kind, Path(folder), repo) == ("upload", run_folder, "me/mst-base")
    assert "checkpoints/*" in ignored
    assert "me/mst-base/commit/1" in capsys.readouterr().out


def test_push_of_a_folder_that_is_not_a_run_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["push", str(tmp_path), "--repo", "me/x"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an mst run" in err[0]


def test_the_shipped_model_is_a_complete_run():
    for name in ("config.json", "model.safetensors", "tokenizer.json", "recipe.yaml"):
        assert (SHIPPED / name).is_file(), name
    adapter = SHIPPED / "adapters" / "johann-sebastian-bach"
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "adapter_config.json").is_file()
    size = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    assert size < 20 * 2**20
