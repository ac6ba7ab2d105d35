"""The one device rule: engine.training.resolve_device, shared by training, inference,
provenance and the GUI status bar."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from engine.config import ExecutionConfig  # noqa: E402
from engine.errors import RunError  # noqa: E402
from engine.training import DeviceInfo, resolve_device  # noqa: E402


def test_cpu_and_its_device_count():
    assert resolve_device(ExecutionConfig(accelerator="cpu")) == DeviceInfo("cpu", "cpu", 1)
    info = resolve_device(ExecutionConfig(accelerator="cpu", devices=2))
    assert info.to_dict() == {"accelerator": "cpu", "device": "cpu", "devices": 2}
    assert info.describe() == "cpu (2 devices)"
    assert info.torch_device() == torch.device("cpu")


def test_auto_follows_the_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device(ExecutionConfig(accelerator="auto")).accelerator == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    info = resolve_device(ExecutionConfig(accelerator="auto", devices="2,3"))
    assert info == DeviceInfo("gpu", "cuda:2", 2)
    assert info.describe() == "gpu cuda:2 (2 devices)"
    assert resolve_device(ExecutionConfig(accelerator="gpu")) == DeviceInfo("gpu", "cuda:0", 4)
    with pytest.raises(RunError, match="GPU 5 does not exist"):
        resolve_device(ExecutionConfig(accelerator="gpu", devices="1,5"))
    with pytest.raises(RunError, match="5 GPUs asked for, 4 available"):
        resolve_device(ExecutionConfig(accelerator="gpu", devices=5))


def test_a_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RunError, match="no CUDA GPU is available"):
        resolve_device(ExecutionConfig(accelerator="gpu"))


def test_the_trainer_gets_the_resolved_accelerator(tmp_path, monkeypatch):
    from lightning.pytorch.accelerators import CPUAccelerator

    from engine.training import build_trainer

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    trainer = build_trainer(ExecutionConfig(accelerator="auto", logger="none",
                                            checkpointing=False, progress_bar=False),
                            max_epochs=1, run_dir=tmp_path, max_time_min=0.0)
    assert isinstance(trainer.accelerator, CPUAccelerator)


def test_the_schema_has_one_spelling_for_gpus():
    from engine.config import field_specs

    choices = field_specs()["execution.accelerator"].meta.choices
    assert "gpu" in choices and "cuda" not in choices
