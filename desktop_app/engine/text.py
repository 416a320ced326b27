"""Prompt → text conditioning, encoded once per prompt: typing is rare next to drawing, and
the text encoders (two for SDXL) cost as much as a small UNet. A few prompts are kept, not
one: a server's replica renders the frames of several artists in turn, each with their own
prompt, and with one kept every turn would run the encoders again."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

_PROMPTS_KEPT = 16  # a third of a megabyte each for SDXL in fp16


@dataclass(frozen=True)
class TextConditioning:
    embeds: torch.Tensor  # (1, 77, cross_attention_dim)
    pooled: torch.Tensor | None  # SDXL's pooled projection, else None
    warnings: tuple[str, ...] = ()


class PromptEncoder:
    def __init__(self, tokenizers, encoders, device: torch.device, is_sdxl: bool):
        self._tokenizers, self._encoders = tokenizers, encoders
        self._device, self._is_sdxl = device, is_sdxl
        self._cached: OrderedDict[str, TextConditioning] = OrderedDict()
        self.encode_count = 0  # how often the encoders actually ran (tests check the cache)

    def encode(self, prompt: str) -> TextConditioning:
        if prompt in self._cached:
            self._cached.move_to_end(prompt)
            return self._cached[prompt]
        result = self._encode(prompt)
        self._cached[prompt] = result
        while len(self._cached) > _PROMPTS_KEPT:
            self._cached.popitem(last=False)
        self.encode_count += 1
        return result

    def forget(self) -> None:
        """Drop the cached prompts: the next ``encode`` runs the encoders again."""
        self._cached.clear()

    def _ids(self, tokenizer, prompt: str) -> tuple[torch.Tensor, bool]:
        limit = tokenizer.model_max_length
        ids = tokenizer(
            prompt, padding="max_length", max_length=limit, truncation=True, return_tensors="pt"
        ).input_ids
        full_length = len(tokenizer(prompt, truncation=False, verbose=False).input_ids)
        return ids.to(self._device), full_length > limit

    def _encode(self, prompt: str) -> TextConditioning:
        warnings: list[str] = []
        hidden, pooled, truncated = [], None, False
        for tokenizer, encoder in zip(self._tokenizers, self._encoders, strict=True):
            ids, cut = self._ids(tokenizer, prompt)
            truncated |= cut
            if self._is_sdxl:
                # SDXL conditions on the penultimate layer of both encoders, and on the pooled
                # projection of the second.
                out = encoder(ids, output_hidden_states=True)
                hidden.append(out.hidden_states[-2])
                pooled = getattr(out, "text_embeds", pooled)
            else:
                hidden.append(encoder(ids)[0])
        if truncated:
            limit = self._tokenizers[0].model_max_length
            warnings.append(
                f"the prompt is longer than the text encoder's {limit} tokens; the end was cut off"
            )
        if not prompt.strip():
            warnings.append("the prompt is empty: the picture follows the sketch only")
        return TextConditioning(torch.cat(hidden, dim=-1), pooled, tuple(warnings))
