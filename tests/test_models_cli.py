"""``live-canvas models ...`` end to end, against the fake Hub in tests/fake_hub.py."""

from __future__ import annotations

from collections import namedtuple

import pytest

from desktop_app import cli
from desktop_app.models import downloads
from desktop_app.models.presets import PRESETS

pytestmark = pytest.mark.usefixtures("sockets")


def run(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse usage errors, depending on how main wraps them
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_list_on_an_empty_cache_shows_every_part_missing(cache, capsys, sockets):
    code, out, err = run(capsys, "models", "list", "--variant", "fp16")
    assert code == 0, err
    assert str(cache) in out
    for preset in PRESETS.values():
        assert f"{preset.name}:" in out
        for _role, repo in preset.hub_parts:
            line = next(line for line in out.splitlines() if f" {repo} " in line)
            assert line.rstrip().endswith("missing")
    assert "live-canvas models download sdxl-turbo" in out
    assert "SDXL-Turbo is under Stability AI's non-commercial research licence" in out
    assert "SD-Turbo is under Stability AI's non-commercial research licence" in out
    assert out.count("built in code: nothing to download") == sum(
        1 for p in PRESETS.values() if p.builtin
    )
    assert sockets == []


def test_list_default_variant_needs_no_network(cache, capsys, sockets):
    code, out, _err = run(capsys, "models", "list")
    assert code == 0
    assert "(full weights)" in out or "(fp16 weights)" in out
    assert sockets == []


def test_list_says_what_each_openvino_precision_costs(cache, capsys, monkeypatch):
    from desktop_app.engine.openvino import target

    monkeypatch.setattr(target, "cpu_multiplies_int8_in_one_instruction", lambda: False)
    monkeypatch.delenv(target.INT8_SCOPE_VARIABLE, raising=False)
    code, out, _err = run(capsys, "models", "list")
    assert code == 0
    section = out[out.index("OpenVINO backend") :]
    for precision in target.PRECISIONS:
        assert f"\n  {precision} " in section
    assert "int8 quantizes its convolutions only" in section


def test_path_prints_the_cache_folder(cache, capsys):
    code, out, _err = run(capsys, "models", "path")
    assert code == 0
    assert out.strip() == str(cache)


def test_download_then_list_shows_parts_present(hub, cache, capsys):
    code, out, err = run(capsys, "models", "download", "sd-turbo", "--variant", "fp16")
    assert code == 0, err
    assert "downloaded" in out and "sd-turbo" in out and str(cache) in out
    assert "non-commercial" in out
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in err  # one progress line per file

    code, out, _err = run(capsys, "models", "list", "--variant", "fp16")
    for _role, repo in PRESETS["sd-turbo"].hub_parts:
        line = next(line for line in out.splitlines() if f" {repo} " in line)
        assert "present" in line and "B" in line

    code, out, _err = run(capsys, "models", "download", "sd-turbo", "--variant", "fp16")
    assert code == 0 and "already downloaded" in out


def test_download_unknown_preset_is_one_line(cache, capsys):
    code, out, err = run(capsys, "models", "download", "sdxl-turbbo")
    assert code == 1
    assert err.startswith("live-canvas: error: unknown preset 'sdxl-turbbo'")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("name", ["tiny", "random:sdxl"])
def test_download_builtin_says_nothing_to_download(name, cache, capsys, sockets):
    code, out, _err = run(capsys, "models", "download", name)
    assert code == 0
    assert "nothing to download" in out
    assert sockets == []


def test_download_offline_names_missing_files_and_the_command(cache, capsys, sockets):
    # conftest already sets HF_HUB_OFFLINE=1 for the session
    code, _out, err = run(capsys, "models", "download", "sd-turbo", "--variant", "fp16")
    assert code == 1
    assert "missing: stabilityai/sd-turbo/unet/diffusion_pytorch_model.fp16.safetensors" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("live-canvas: error: HF_HUB_OFFLINE is set")
    assert "live-canvas models download sd-turbo" in last
    assert sockets == []


def test_download_without_network_exits_1(hub, cache, capsys):
    hub.unreachable = True
    code, _out, err = run(capsys, "models", "download", "sd-turbo", "--variant", "fp16")
    assert code == 1
    assert "live-canvas: error: cannot reach the Hugging Face Hub" in err
    assert "Traceback" not in err


def test_download_with_a_full_disk_exits_1(hub, cache, capsys, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(downloads.shutil, "disk_usage", lambda _p: usage(10, 10, 0))
    code, _out, err = run(capsys, "models", "download", "sd-turbo", "--variant", "fp16")
    assert code == 1
    assert err.startswith("live-canvas: error: not enough disk space for sd-turbo")
    assert err.count("\n") == 1


def test_models_without_action_is_a_usage_error(capsys):
    code, _out, err = run(capsys, "models")
    assert code == 2
    assert "error:" in err and err.count("\n") == 1
