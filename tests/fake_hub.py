"""A local stand-in for the Hugging Face Hub, plugged in under huggingface_hub's HTTP client.

The download code runs unchanged: ``HfApi.model_info``, the HEAD metadata calls and ranged GETs
all go through huggingface_hub's shared httpx client, whose transport we swap for one that
answers from folders on disk. Nothing here opens a socket.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import httpx2
from huggingface_hub.utils import _http

CHUNK = 1024  # small body chunks, so tests can interrupt a download part-way

SD_TURBO = "stabilityai/sd-turbo"
UNET16 = "unet/diffusion_pytorch_model.fp16.safetensors"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(path: str) -> bool:
    return path.endswith((".safetensors", ".bin", ".ckpt", ".pth", ".png"))


class _Body(httpx2.SyncByteStream):
    def __init__(self, hub: FakeHub, key: str, data: bytes, fail_at: int | None):
        self.hub, self.key, self.data, self.fail_at = hub, key, data, fail_at

    def __iter__(self):
        sent = 0
        for start in range(0, len(self.data), CHUNK):
            chunk = self.data[start : start + CHUNK]
            if self.fail_at is not None and sent + len(chunk) > self.fail_at:
                raise httpx2.ReadError("connection reset by peer")
            sent += len(chunk)
            self.hub.bytes_served[self.key] += len(chunk)
            yield chunk


class FakeHub:
    """Repos are folders under ``root``; ``add_repo`` writes them.

    Knobs: ``break_after[repo/path] = n`` drops the connection after n body bytes (once);
    ``serve_instead[repo/path] = bytes`` serves other bytes than the metadata describes;
    ``unreachable = True`` fails every request as a network error.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[tuple[str, str, str | None]] = []
        self.bytes_served: Counter[str] = Counter()
        self.break_after: dict[str, int] = {}
        self.serve_instead: dict[str, bytes] = {}
        self.unreachable = False

    def add_repo(self, repo: str, files: dict[str, bytes]) -> None:
        for path, data in files.items():
            target = self.root / repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def commit(self, repo: str) -> str:
        return hashlib.sha1(repo.encode()).hexdigest()

    def files(self, repo: str) -> dict[str, bytes]:
        base = self.root / repo
        files = (p for p in base.rglob("*") if p.is_file())
        return {p.relative_to(base).as_posix(): p.read_bytes() for p in files}

    def install(self, monkeypatch) -> None:
        def client() -> httpx2.Client:
            return httpx2.Client(
                transport=httpx2.MockTransport(self.handle),
                event_hooks={"request": [_http.hf_request_event_hook]},
                follow_redirects=True,
            )

        monkeypatch.setattr(_http, "_GLOBAL_CLIENT", None)
        monkeypatch.setattr(_http, "_GLOBAL_CLIENT_FACTORY", client)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append((request.method, request.url.path, request.headers.get("Range")))
        if self.unreachable:
            raise httpx2.ConnectError("[Errno -3] Temporary failure in name resolution")
        path = request.url.path
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path):
            return self._model_info(m.group(1))
        if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(request, m.group(1), m.group(3))
        return httpx2.Response(404, text="not found")

    def _missing_repo(self, repo: str) -> httpx2.Response | None:
        if (self.root / repo).is_dir():
            return None
        return httpx2.Response(
            404, headers={"X-Error-Code": "RepoNotFound"}, text="Repository not found"
        )

    def _model_info(self, repo: str) -> httpx2.Response:
        if missing := self._missing_repo(repo):
            return missing
        siblings = []
        for path, data in sorted(self.files(repo).items()):
            entry = {"rfilename": path, "size": len(data), "blobId": git_blob_id(data)}
            if is_lfs(path):
                sha = hashlib.sha256(data).hexdigest()
                entry["lfs"] = {"size": len(data), "sha256": sha, "pointerSize": 134}
            siblings.append(entry)
        body = {"id": repo, "modelId": repo, "sha": self.commit(repo), "siblings": siblings}
        return httpx2.Response(200, json=body)

    def _resolve(self, request: httpx2.Request, repo: str, path: str) -> httpx2.Response:
        if missing := self._missing_repo(repo):
            return missing
        file = self.root / repo / path
        if not file.is_file():
            return httpx2.Response(
                404,
                headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": self.commit(repo)},
                text="Entry not found",
            )
        data = file.read_bytes()
        headers = {"X-Repo-Commit": self.commit(repo), "Accept-Ranges": "bytes"}
        if is_lfs(path):
            headers["X-Linked-Etag"] = f'"{hashlib.sha256(data).hexdigest()}"'
            headers["X-Linked-Size"] = str(len(data))
            headers["ETag"] = f'"{git_blob_id(data)}"'
        else:
            headers["ETag"] = f'"{git_blob_id(data)}"'
        key = f"{repo}/{path}"
        body = self.serve_instead.get(key, data)
        if request.method == "HEAD":
            return httpx2.Response(200, headers={**headers, "Content-Length": str(len(data))})
        start = 0
        if m := re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", "")):
            start = int(m.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        part = body[start:]
        headers["Content-Length"] = str(len(part))
        fail_at = self.break_after.pop(key, None)
        return httpx2.Response(
            206 if start else 200, headers=headers, stream=_Body(self, key, part, fail_at)
        )


def blob(n: int, seed: str) -> bytes:
    out = hashlib.sha256(seed.encode()).digest()
    return (out * (n // len(out) + 1))[:n]


def sd_turbo_files(scale: int = 1) -> dict[str, dict[str, bytes]]:
    """The sd-turbo preset's repos, shaped like the real ones, with extras the app never loads."""
    cfg = b'{"_class_name": "x"}'
    return {
        "stabilityai/sd-turbo": {
            "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}',
            "README.md": b"# sd-turbo",
            "sd_turbo.safetensors": blob(3000, "single-file"),
            "image.png": blob(500, "png"),
            "unet/config.json": cfg,
            "unet/diffusion_pytorch_model.safetensors": blob(8000 * scale, "unet32"),
            "unet/diffusion_pytorch_model.fp16.safetensors": blob(4000 * scale, "unet16"),
            "unet/diffusion_pytorch_model.bin": blob(8000, "unetbin"),
            "text_encoder/config.json": cfg,
            "text_encoder/model.safetensors": blob(2000, "te32"),
            "text_encoder/model.fp16.safetensors": blob(1000, "te16"),
            "tokenizer/merges.txt": b"#version: 0.2\n",
            "tokenizer/vocab.json": b'{"a": 0}',
            "tokenizer/special_tokens_map.json": b"{}",
            "tokenizer/tokenizer_config.json": b"{}",
            "vae/config.json": cfg,
            "vae/diffusion_pytorch_model.safetensors": blob(1500, "vae32"),
            "vae/diffusion_pytorch_model.fp16.safetensors": blob(750, "vae16"),
            "scheduler/scheduler_config.json": b'{"prediction_type": "epsilon"}',
        },
        "thibaud/controlnet-sd21-scribble-diffusers": {
            "config.json": cfg,
            "diffusion_pytorch_model.safetensors": blob(3000, "cn"),
            "diffusion_pytorch_model.bin": blob(3000, "cnbin"),
            "control_v11p_sd21_scribble.ckpt": blob(100, "ckpt"),
        },
        "madebyollin/taesd": {
            "config.json": cfg,
            "diffusion_pytorch_model.safetensors": blob(600, "taesd"),
            "taesd_decoder.pth": blob(300, "pth"),
            "taesd_decoder.safetensors": blob(300, "dec"),
        },
    }


def sdxl_turbo_files() -> dict[str, dict[str, bytes]]:
    """sdxl-turbo's repos: two text encoders, an fp16 UNet in shards, a VAE the app replaces."""
    cfg = b'{"_class_name": "x"}'
    shards = [f"diffusion_pytorch_model.fp16-0000{i}-of-00002.safetensors" for i in (1, 2)]
    index = {"weight_map": {"a": shards[0], "b": shards[1]}}
    base = {
        "model_index.json": b"{}",
        "sd_xl_turbo_1.0_fp16.safetensors": blob(900, "single16"),
        "sd_xl_turbo_1.0.safetensors": blob(1800, "single32"),
        "unet/config.json": cfg,
        "unet/diffusion_pytorch_model.safetensors": blob(4000, "u32"),
        "unet/diffusion_pytorch_model.safetensors.index.fp16.json": json.dumps(index).encode(),
        f"unet/{shards[0]}": blob(1000, "s1"),
        f"unet/{shards[1]}": blob(1000, "s2"),
        "vae/config.json": cfg,
        "vae/diffusion_pytorch_model.safetensors": blob(500, "v"),
        "scheduler/scheduler_config.json": b"{}",
    }
    for suffix in ("", "_2"):
        base[f"text_encoder{suffix}/config.json"] = cfg
        base[f"text_encoder{suffix}/model.safetensors"] = blob(400, f"te{suffix}")
        base[f"text_encoder{suffix}/model.fp16.safetensors"] = blob(200, f"te16{suffix}")
        base[f"tokenizer{suffix}/vocab.json"] = b"{}"
        base[f"tokenizer{suffix}/merges.txt"] = b"#"
    root = {"config.json": cfg, "diffusion_pytorch_model.safetensors": blob(300, "root")}
    return {
        "stabilityai/sdxl-turbo": base,
        "xinsir/controlnet-scribble-sdxl-1.0": {
            **root,
            "diffusion_pytorch_model_V2.safetensors": blob(300, "v2"),
            "masonry.webp": b"img",
        },
        "madebyollin/taesdxl": {**root, "taesdxl_decoder.safetensors": blob(50, "d")},
        "madebyollin/sdxl-vae-fp16-fix": {**root, "sdxl.vae.safetensors": blob(60, "s")},
    }


SDXS = "IDKiro/sdxs-512-dreamshaper"
SDXS_SKETCH = "IDKiro/sdxs-512-dreamshaper-sketch"


def sdxs_files() -> dict[str, dict[str, bytes]]:
    """The sdxs preset's two repos as published: a diffusers base whose ``vae`` is a tiny
    autoencoder and whose ``vae_large`` is the full one, with extras the app never loads
    (a demo image, the SD 1.5 safety checker, an ONNX export)."""
    cfg = b'{"_class_name": "x"}'
    base = {
        "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}',
        "README.md": b"# SDXS",
        "output.png": blob(400, "demo"),
        "unet/config.json": cfg,
        "unet/diffusion_pytorch_model.safetensors": blob(6000, "sdxs-unet32"),
        "unet/diffusion_pytorch_model.fp16.safetensors": blob(3000, "sdxs-unet16"),
        "unet/model.onnx": blob(700, "onnx"),
        "text_encoder/config.json": cfg,
        "text_encoder/model.safetensors": blob(1600, "sdxs-te32"),
        "text_encoder/model.fp16.safetensors": blob(800, "sdxs-te16"),
        "tokenizer/merges.txt": b"#version: 0.2\n",
        "tokenizer/vocab.json": b'{"a": 0}',
        "tokenizer/special_tokens_map.json": b"{}",
        "tokenizer/tokenizer_config.json": b"{}",
        "vae/config.json": b'{"_class_name": "AutoencoderTiny"}',
        "vae/diffusion_pytorch_model.safetensors": blob(250, "sdxs-tiny32"),
        "vae/diffusion_pytorch_model.fp16.safetensors": blob(125, "sdxs-tiny16"),
        "vae_large/config.json": b'{"_class_name": "AutoencoderKL"}',
        "vae_large/diffusion_pytorch_model.safetensors": blob(1400, "sdxs-vae32"),
        "vae_large/diffusion_pytorch_model.fp16.safetensors": blob(700, "sdxs-vae16"),
        "safety_checker/config.json": cfg,
        "safety_checker/model.safetensors": blob(900, "checker"),
        "feature_extractor/preprocessor_config.json": b"{}",
        "scheduler/scheduler_config.json": b'{"_class_name": "DEISMultistepScheduler"}',
    }
    sketch = {
        "config.json": cfg,
        "diffusion_pytorch_model.safetensors": blob(1200, "sketch32"),
        "diffusion_pytorch_model.fp16.safetensors": blob(600, "sketch16"),
        "README.md": b"# sketch",
        "sketch.png": blob(100, "sketchdemo"),
    }
    return {SDXS: base, SDXS_SKETCH: sketch}
