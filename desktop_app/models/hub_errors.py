"""Hugging Face Hub failures, said in words a painter can act on."""

from __future__ import annotations

import os

from desktop_app.models.presets import PRESETS, split_hub_spec


def hub_is_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "") in (
        "1",
        "ON",
        "YES",
        "TRUE",
    )


def download_hint(repo: str) -> str:
    presets = [
        p.name
        for p in PRESETS.values()
        if repo in {split_hub_spec(spec)[0] for _role, spec in p.hub_parts}
    ]
    if presets:
        return f"live-canvas models download {presets[0]}"
    return f"hf download {repo}"


def describe_hub_error(repo: str, err: BaseException) -> str:
    """One line: what is missing and the command that fetches it."""
    kind = type(err).__name__
    text = str(err)
    if (
        kind in ("RepositoryNotFoundError", "HFValidationError")
        or "404" in text[:200]
        and ("Repository" in text)
    ):
        return f"no model {repo!r} on the Hugging Face Hub: check the name, or give a local path"
    if kind == "GatedRepoError":
        return (
            f"{repo} requires accepting its licence on huggingface.co and logging in "
            "(hf auth login) before it can be downloaded"
        )
    offline = hub_is_offline()
    cached_only = (
        offline
        or kind in ("LocalEntryNotFoundError", "OfflineModeIsEnabled")
        or any(word in text for word in ("offline", "Connection", "connect", "resolve", "Network"))
    )
    if cached_only:
        why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face Hub cannot be reached"
        return (
            f"{repo} is not downloaded and {why}; on a connected machine run: {download_hint(repo)}"
        )
    first_line = text.splitlines()[0] if text else kind
    return f"cannot load {repo}: {first_line}"


def is_transport_error(err: BaseException) -> bool:
    """A connection that failed or broke off. Which HTTP client huggingface_hub uses (and so
    which exception it raises) changes between its releases; the client's transport-error
    base class is recognised by name, so this module imports no HTTP client of its own."""
    return any(
        cls.__name__ in ("TransportError", "ConnectionError")
        and cls.__module__.split(".")[0] in ("httpx", "httpx2", "requests", "urllib3")
        for cls in type(err).__mro__
    )
