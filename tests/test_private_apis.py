"""The private APIs of our dependencies that we call, checked against what is installed.

torch is never pinned (pip takes whichever CUDA build the machine wants) and huggingface_hub
moves quickly, so an upper bound would either lie or hold users back. Instead, each call
below is checked here: when an upgrade renames or reshapes one, this test names it, rather
than a download or a CPU frame failing for a user. Each message says what breaks and where.
"""

from __future__ import annotations

import argparse
import inspect
import platform

import pytest


def test_huggingface_hubs_http_get_takes_what_our_resumable_download_passes():
    from huggingface_hub import file_download, utils

    http_get = getattr(file_download, "http_get", None)
    assert http_get is not None, (
        "huggingface_hub.file_download.http_get is gone: models/downloads.py _transfer needs "
        "another way to resume a blob"
    )
    wanted = {"resume_size", "headers", "expected_size", "displayed_filename", "tqdm_class"}
    taken = set(inspect.signature(http_get).parameters)
    assert wanted <= taken, f"http_get no longer takes {sorted(wanted - taken)} (downloads.py)"
    for name in ("WeakFileLock", "build_hf_headers"):
        assert hasattr(utils, name), f"huggingface_hub.utils.{name} is gone (downloads.py)"


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="oneDNN on x86")
def test_torchs_onednn_weight_packing_ops_are_there():
    import torch

    if not torch.backends.mkldnn.is_available():
        pytest.skip("this torch build has no oneDNN")
    missing = [
        name
        for name in (
            "_reorder_linear_weight",
            "_linear_pointwise",
            "_reorder_convolution_weight",
            "_convolution_pointwise",
            "_is_mkldnn_bf16_supported",
        )
        if not hasattr(torch.ops.mkldnn, name)
    ]
    # engine/cpu_weights.py falls back to dense weights without them (correct, but slower):
    # this says so out loud instead.
    assert not missing, f"torch {torch.__version__} lacks torch.ops.mkldnn.{missing}"


def test_argparse_keeps_its_index_of_option_strings():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    # cli.with_open_file reads it to tell an option's value from the file to open.
    assert parser._option_string_actions["--model"].nargs is None
