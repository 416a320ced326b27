"""The sdxs preset without its weights: the planned files, the licence, the missing-model path;
and with tiny SD 1.5 weights served in SDXS's own repository layout, the whole path from
download to a frame and an export."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from fake_hub import SDXS, SDXS_SKETCH, sdxs_files
from model_factory import save_tiny_pipeline
from PIL import Image

from desktop_app import cli
from desktop_app.core.errors import InvalidRequestError, ModelLoadError
from desktop_app.models.hub_files import plan_download
from desktop_app.models.presets import PRESETS


@pytest.fixture
def hub_repos():
    return sdxs_files()


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_takes_only_the_files_the_loader_reads_in_one_precision(hub):
    plan = plan_download("sdxs", "fp16")
    by_role = {part.role: sorted(f.path for f in part.files) for part in plan.parts}
    assert by_role["base"] == [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors",
        "tokenizer/merges.txt",
        "tokenizer/special_tokens_map.json",
        "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
    ]
    assert by_role["preview decoder"] == [
        "vae/config.json",
        "vae/diffusion_pytorch_model.fp16.safetensors",
    ]
    assert by_role["full-quality VAE"] == [
        "vae_large/config.json",
        "vae_large/diffusion_pytorch_model.fp16.safetensors",
    ]
    assert by_role["controlnet"] == ["config.json", "diffusion_pytorch_model.fp16.safetensors"]
    assert {p.repo for p in plan.parts} == {SDXS, SDXS_SKETCH}
    assert len(plan.files) == len({(f.repo, f.path) for f in plan.files})  # nothing twice
    # The base repo is listed once, however many of the preset's parts live in it.
    listings = [r for r in hub.requests if r[0] == "GET" and r[1].startswith("/api/models/")]
    assert len(listings) == 2


def test_full_precision_plan_takes_no_fp16_file(hub):
    paths = [f.path for f in plan_download("sdxs", "full").files]
    assert paths and not any(".fp16." in p for p in paths)


def test_models_list_shows_sdxs_parts_and_its_commercial_licence(cache, capsys, sockets):
    code, out, err = run(capsys, "models", "list", "--variant", "fp16")
    assert code == 0, err
    section = out.split("\nsdxs:")[1].split("\n\n")[0]
    assert "CreativeML OpenRAIL++-M: commercial use allowed" in section
    assert "non-commercial" not in section
    for spec in (SDXS, f"{SDXS}/vae", f"{SDXS}/vae_large", SDXS_SKETCH):
        assert f" {spec} " in section
    assert "live-canvas models download sdxs" in section
    assert sockets == []


def test_sdxs_not_downloaded_says_how_to_get_it(cache):
    from desktop_app.engine.loading import load_engine

    with pytest.raises(ModelLoadError) as err:
        load_engine("sdxs", device="cpu")
    assert f"{SDXS} is not downloaded" in str(err.value)
    assert "live-canvas models download sdxs" in str(err.value)


def test_render_with_sdxs_not_downloaded_is_one_line(cache, capsys, tmp_path):
    sketch = tmp_path / "s.png"
    Image.new("RGB", (64, 64), "white").save(sketch)
    code, out, err = run(
        capsys,
        "render",
        str(sketch),
        "--prompt",
        "a cat",
        "--out",
        str(tmp_path / "o.png"),
        "--model",
        "sdxs",
    )
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "live-canvas models download sdxs" in lines[0]
    assert "Traceback" not in err and not (tmp_path / "o.png").exists()


@pytest.fixture
def tiny_sdxs_repos(tmp_path_factory):
    """Tiny SD 1.5 weights laid out as SDXS's repositories are (tiny ``vae``, ``vae_large``)."""
    folder = save_tiny_pipeline(tmp_path_factory.mktemp("sdxs") / "sdxs", "sd15", tiny_vae=True)

    def files(root):
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }

    base = {k: v for k, v in files(folder).items() if not k.startswith("controlnet/")}
    return {SDXS: base, SDXS_SKETCH: files(folder / "controlnet")}


@pytest.fixture
def tiny_hub(hub, tiny_sdxs_repos):
    """The fake Hub serving the tiny weights in place of the shaped listing."""
    for repo, files in tiny_sdxs_repos.items():
        shutil.rmtree(hub.root / repo)
        hub.add_repo(repo, files)
    return hub


def test_sdxs_downloads_loads_and_renders_with_its_own_decoders(
    tiny_hub, cache, capsys, monkeypatch, tmp_path
):
    code, out, err = run(capsys, "models", "download", "sdxs")
    assert code == 0, err

    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out_png = tmp_path / "frame.png"
    sketch = tmp_path / "sketch.png"
    page = np.full((256, 256, 3), 255, np.uint8)
    page[100:110] = 0
    Image.fromarray(page).save(sketch)
    code, out, err = run(
        capsys,
        "render",
        str(sketch),
        "--prompt",
        "a boat",
        "--out",
        str(out_png),
        "--model",
        "sdxs",
        "--size",
        "256",
        "--full-quality",
    )
    assert code == 0, err
    with Image.open(out_png) as img:
        assert img.size == (256, 256)
        assert "OpenRAIL++" in img.info["licence"]
        assert "Sampler: DEIS" in img.info["parameters"]
    assert PRESETS["sdxs"].family == "sd15"


def test_loaded_sdxs_previews_with_its_tiny_vae_and_exports_with_vae_large(
    tiny_hub, cache, capsys, monkeypatch
):
    assert run(capsys, "models", "download", "sdxs", "--variant", "full")[0] == 0
    from huggingface_hub import constants

    from desktop_app.engine.loading import load_engine

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    engine = load_engine("sdxs", device="cpu", dtype="float32")
    assert type(engine.parts.tae).__name__ == "AutoencoderTiny"
    assert type(engine.parts.vae).__name__ == "AutoencoderKL"
    assert engine.info.family == "sd15" and "OpenRAIL++" in engine.info.licence


def _drop_encoder_weights(folder):
    from safetensors.torch import load_file, save_file

    weights = folder / "vae" / "diffusion_pytorch_model.safetensors"
    kept = {k: v for k, v in load_file(str(weights)).items() if not k.startswith("encoder.")}
    save_file(kept, str(weights))


def test_a_decoder_only_tiny_vae_never_encodes_with_random_weights(tmp_path):
    """diffusers loads a decoder-only AutoencoderTiny with a randomly initialised encoder;
    colour mode then encodes with the model's full VAE (``vae_large``) instead."""
    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.loading import load_engine

    folder = save_tiny_pipeline(tmp_path / "sdxs", "sd15", tiny_vae=True)
    _drop_encoder_weights(folder)
    shutil.rmtree(folder / "vae_large")
    engine = load_engine(str(folder), device="cpu")
    assert engine.parts.tae.encoder is None
    assert engine.parts.vae is engine.parts.tae  # no full VAE: the tiny one exports too
    sketch = np.full((256, 256, 3), 200, np.uint8)
    with pytest.raises(InvalidRequestError, match="colour mode needs an image encoder"):
        engine.render(RenderRequest(sketch=sketch, size=256, mode="colour"))
    assert engine.render(RenderRequest(sketch=sketch, size=256)).image.shape == (256, 256, 3)


def test_a_decoder_only_tiny_vae_leaves_colour_to_the_vae_large_beside_it(tmp_path):
    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.loading import load_engine

    folder = save_tiny_pipeline(tmp_path / "sdxs", "sd15", tiny_vae=True)
    _drop_encoder_weights(folder)
    engine = load_engine(str(folder), device="cpu")
    assert engine.parts.tae.encoder is None
    assert type(engine.parts.vae).__name__ == "AutoencoderKL"  # vae_large, for exports
    sketch = np.full((256, 256, 3), 200, np.uint8)
    colour = engine.render(RenderRequest(sketch=sketch, size=256, mode="colour"))
    assert colour.image.shape == (256, 256, 3)
