"""LoRA styles on the engine: diffusers' own loader, fused into the weights (no per-frame
cost), base weights back bit for bit, and every bad file refused with the model unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lora_factory import lora_matrices, save_kohya_lora, save_peft_lora

from desktop_app.core.errors import InvalidRequestError, ModelLoadError
from desktop_app.core.metadata import parameters_text
from desktop_app.core.types import RenderRequest
from desktop_app.engine.builders import build_tiny
from desktop_app.engine.loading import load_engine
from desktop_app.models.styles import parse_lora_argument, resolve_style, short_hash


@pytest.fixture(scope="module")
def lora_engine(tiny_folder):
    """An engine of its own: these tests change its weights (and put them back)."""
    engine = load_engine(str(tiny_folder), device="cpu")
    yield engine
    engine.set_loras(())


@pytest.fixture(autouse=True)
def no_styles_after(lora_engine):
    yield
    lora_engine.set_loras(())


@pytest.fixture(scope="module")
def files(tmp_path_factory, lora_engine):
    folder = tmp_path_factory.mktemp("styles")
    parts = lora_engine.parts
    one, two = lora_matrices(parts, seed=1), lora_matrices(parts, seed=2, text=False)
    return {
        "ink": save_peft_lora(one, folder / "ink.safetensors"),
        "ink_kohya": save_kohya_lora(one, folder / "ink_kohya.safetensors"),
        "wash": save_peft_lora(two, folder / "wash.safetensors"),
        "sd21": save_peft_lora(lora_matrices(build_tiny(family="sd21")),
                               folder / "for-sd21.safetensors"),
        "folder": folder,
    }


def picture(engine, sketch, loras=()) -> np.ndarray:
    request = RenderRequest(sketch=sketch, prompt="a lighthouse", size=256, seed=3, loras=loras)
    return engine.render(request).image


def weights(engine) -> dict[str, torch.Tensor]:
    engine.packed_weights and engine.packed_weights.unpack()
    try:
        models = {"unet": engine.parts.unet, "te": engine.parts.text_encoders[0]}
        return {f"{n}.{k}": v.clone() for n, m in models.items() for k, v in
                m.state_dict().items()}
    finally:
        engine.packed_weights and engine.packed_weights.pack()


def test_a_lora_changes_the_picture_and_both_formats_give_the_same(lora_engine, files, sketch):
    base = picture(lora_engine, sketch)
    peft = picture(lora_engine, sketch, ((str(files["ink"]), 1.0),))
    kohya = picture(lora_engine, sketch, ((str(files["ink_kohya"]), 1.0),))
    assert np.abs(peft.astype(int) - base).mean() > 1.0
    np.testing.assert_array_equal(peft, kohya)


def test_weight_zero_and_removing_give_the_base_picture_and_weights_back(
    lora_engine, files, sketch
):
    base_weights = weights(lora_engine)
    base = picture(lora_engine, sketch)
    np.testing.assert_array_equal(picture(lora_engine, sketch, ((str(files["ink"]), 0.0),)), base)
    picture(lora_engine, sketch, ((str(files["ink"]), 1.5), (str(files["wash"]), -0.7)))
    np.testing.assert_array_equal(picture(lora_engine, sketch), base)
    for name, tensor in weights(lora_engine).items():
        assert torch.equal(tensor, base_weights[name]), name


def test_changing_a_weight_refuses_from_the_base_not_on_top(lora_engine, files, sketch):
    ink = str(files["ink"])
    picture(lora_engine, sketch, ((ink, 0.3),))
    after_change = picture(lora_engine, sketch, ((ink, 1.0),))
    lora_engine.set_loras(())
    fresh = picture(lora_engine, sketch, ((ink, 1.0),))
    np.testing.assert_array_equal(after_change, fresh)


def test_fused_styles_leave_the_same_modules_in_the_frame_path(lora_engine, files):
    before = [type(m) for m in lora_engine.parts.unet.modules()]
    lora_engine.set_loras(((str(files["ink"]), 1.0), (str(files["wash"]), 0.5)))
    assert [type(m) for m in lora_engine.parts.unet.modules()] == before
    assert lora_engine.packed_weights is None or lora_engine.packed_weights.packed
    lora_engine.set_loras(())


def test_exports_record_the_styles_in_a1111s_form(lora_engine, files, sketch):
    request = RenderRequest(sketch=sketch, prompt="a cat", size=256,
                            loras=((str(files["ink"]), 0.8),))
    params = lora_engine.render(request).params
    assert params.loras == (("ink", 0.8, short_hash(files["ink"])),)
    text = parameters_text(params)
    assert text.startswith("a cat <lora:ink:0.8>\n")
    assert f'Lora hashes: "ink: {short_hash(files["ink"])}"' in text
    lora_engine.set_loras(())


@pytest.mark.parametrize("make, words", [
    (lambda f: f["sd21"], "made for another base model"),
    (lambda f: _write(f["folder"] / "broken.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{no"),
     "not a readable .safetensors file"),
    (lambda f: _write(f["folder"] / "huge-header.safetensors", b"\xff" * 8 + b"x"),
     "not a readable .safetensors file"),
    (lambda f: _not_a_lora(f["folder"] / "weights.safetensors"), "holds no LoRA layers"),
    (lambda f: f["folder"] / "missing.safetensors", "LoRA file not found"),
    (lambda f: _write(f["folder"] / "picture.png", b"\x89PNG"), "only .safetensors"),
])
def test_a_bad_file_is_refused_and_the_model_stays_as_it_was(
    lora_engine, files, sketch, make, words
):
    kept = ((str(files["wash"]), 1.0),)
    with_wash = picture(lora_engine, sketch, kept)
    bad = make(files)
    with pytest.raises(ModelLoadError, match=words):
        lora_engine.set_loras(((str(files["ink"]), 1.0), (str(bad), 1.0)))
    assert lora_engine.loras.applied == kept
    np.testing.assert_array_equal(picture(lora_engine, sketch, kept), with_wash)
    lora_engine.set_loras(())


def test_a_lora_whose_layers_are_not_in_the_model_is_refused(lora_engine, files, sketch):
    from safetensors.torch import save_file
    path = files["folder"] / "elsewhere.safetensors"
    save_file({"unet.no_such_block.to_q.lora_A.weight": torch.ones(4, 32),
               "unet.no_such_block.to_q.lora_B.weight": torch.ones(32, 4)}, str(path))
    base = picture(lora_engine, sketch)
    with pytest.raises(ModelLoadError, match="another base model|not in"):
        lora_engine.set_loras(((str(path), 1.0),))
    np.testing.assert_array_equal(picture(lora_engine, sketch), base)


def test_names_are_looked_up_in_the_styles_folder(files, monkeypatch):
    monkeypatch.setenv("LIVE_CANVAS_STYLES_DIR", str(files["folder"]))
    assert resolve_style("ink") == files["ink"]
    assert resolve_style("ink.safetensors") == files["ink"]
    with pytest.raises(ModelLoadError, match="no LoRA style named 'nope'.*styles"):
        resolve_style("nope")


@pytest.mark.parametrize("text, expected", [
    ("ink", ("ink", 1.0)),
    ("ink:0.5", ("ink", 0.5)),
    ("/a/b/ink.safetensors:-1.25", ("/a/b/ink.safetensors", -1.25)),
    ("C:\\styles\\ink.safetensors", ("C:\\styles\\ink.safetensors", 1.0)),
])
def test_lora_arguments(text, expected):
    assert parse_lora_argument(text) == expected


@pytest.mark.parametrize("text, words", [
    ("ink:3", "between -2 and 2"), ("ink:lots", "must be a number"), ("ink:nan", "between"),
])
def test_bad_lora_arguments(text, words):
    with pytest.raises(InvalidRequestError, match=words):
        parse_lora_argument(text)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _not_a_lora(path):
    from safetensors.torch import save_file
    save_file({"conv.weight": torch.ones(2, 2)}, str(path))
    return path
