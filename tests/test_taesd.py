"""The tiny autoencoder from the raw files other tools keep, with the real trained weights
from ../shared (skipped cleanly when that folder is absent)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from model_factory import SHARED

from desktop_app.core.errors import ModelLoadError
from desktop_app.engine.taesd import load_tiny_autoencoder

TAESD = SHARED / "weights" / "taesd"
needs_weights = pytest.mark.skipif(
    not (TAESD / "taesd_decoder.safetensors").exists(), reason="../shared/weights/taesd absent"
)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def round_trip(model, image: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.inference_mode():
        y = model.decode(model.encode(x).latents).sample
    return ((y[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # 512x512 RGB, a natural photograph


@needs_weights
@pytest.mark.parametrize("name", ["taesd", "taesdxl"])
def test_raw_files_round_trip_a_photo(name, photo):
    model = load_tiny_autoencoder(TAESD / f"{name}_decoder.safetensors")
    assert model.encoder is not None
    assert psnr(photo, round_trip(model, photo)) >= 24.0


@needs_weights
def test_folder_of_raw_files_and_diffusers_folder_load_the_same_weights(tmp_path, photo):
    from_folder = load_tiny_autoencoder(TAESD)  # finds the first raw pair in the folder
    from_folder.save_pretrained(tmp_path / "diffusers")
    again = load_tiny_autoencoder(tmp_path / "diffusers")
    np.testing.assert_array_equal(round_trip(from_folder, photo), round_trip(again, photo))


@needs_weights
def test_decoder_alone_loads_without_encoder(tmp_path):
    shutil.copy(TAESD / "taesdxl_decoder.safetensors", tmp_path)
    model = load_tiny_autoencoder(tmp_path / "taesdxl_decoder.safetensors")
    assert model.encoder is None
    with torch.inference_mode():
        out = model.decode(torch.zeros(1, 4, 8, 8)).sample
    assert out.shape == (1, 3, 64, 64)


def test_truncated_file_names_the_file(tmp_path):
    bad = tmp_path / "taesd_decoder.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    with pytest.raises(ModelLoadError, match="taesd_decoder.safetensors.*truncated or corrupt"):
        load_tiny_autoencoder(bad)


def test_missing_and_unrelated_paths(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_tiny_autoencoder(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="holds no tiny autoencoder"):
        load_tiny_autoencoder(tmp_path)


def test_decoder_of_another_shape_is_refused_by_name(tmp_path):
    """Same key names, other shapes: a 16-channel (TAESD3-style) decoder."""
    from diffusers import AutoencoderTiny
    from safetensors.torch import save_file

    wide = AutoencoderTiny(latent_channels=16).state_dict()
    raw = {
        f"{int(key.split('.')[2]) + 1}.{key.split('.', 3)[3]}": value.contiguous()
        for key, value in wide.items()
        if key.startswith("decoder.layers.")
    }
    bad = tmp_path / "taesd3_decoder.safetensors"
    save_file(raw, str(bad))
    with pytest.raises(ModelLoadError, match="taesd3_decoder.safetensors does not fit"):
        load_tiny_autoencoder(bad)
