"""The compiled OpenVINO models of one frame size, called as the torch forwards are.

The ControlNet's residual outputs are handed to the UNet's inputs as the same OpenVINO
tensors (no copy); at control scale 0 the ControlNet is skipped and the UNet gets zeros,
which leave its sums as they are (the PyTorch engine leaves the residuals out instead).
"""

from __future__ import annotations

import numpy as np
import torch


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().float().cpu().numpy())


class Forwards:
    """``compiled``: part name → ``openvino.CompiledModel`` (controlnet, unet, decoder and,
    with a tiny encoder, encoder). ``recording``: part → list of input tuples, when the
    calls are to be kept (int8 calibration)."""

    def __init__(self, ov, compiled: dict):
        self._ov = ov
        self.requests = {part: model.create_infer_request() for part, model in compiled.items()}
        unet = compiled["unet"]
        n_residuals = len(compiled["controlnet"].outputs)
        self._first_residual = len(unet.inputs) - n_residuals
        self._zeros = [
            ov.Tensor(np.zeros(list(unet.inputs[i].shape), np.float32))
            for i in range(self._first_residual, len(unet.inputs))
        ]
        self.recording: dict[str, list] | None = None

    def _record(self, part: str, inputs) -> None:
        if self.recording is not None:
            self.recording.setdefault(part, []).append([np.array(a) for a in inputs])

    def predict(self, model_in, t, text, control, added, control_scale: float) -> torch.Tensor:
        ov = self._ov
        front = [_array(model_in), np.asarray(float(t), np.float32), _array(text.embeds)]
        if added is not None:
            front += [_array(added["text_embeds"]), _array(added["time_ids"])]
        if control_scale > 0:
            net = self.requests["controlnet"]
            scale = np.asarray(control_scale, np.float32)
            cn_inputs = [*front[:3], _array(control), scale, *front[3:]]
            self._record("controlnet", cn_inputs)
            net.infer(cn_inputs)
            residuals = [net.get_output_tensor(i) for i in range(len(self._zeros))]
        else:
            residuals = self._zeros
        unet = self.requests["unet"]
        for i, array in enumerate(front):
            unet.set_input_tensor(i, ov.Tensor(array))
        for i, tensor in enumerate(residuals):
            unet.set_input_tensor(self._first_residual + i, tensor)
        if self.recording is not None:
            self._record("unet", [*front, *(np.array(r.data) for r in residuals)])
        unet.infer()
        return torch.from_numpy(unet.get_output_tensor(0).data.copy())

    def _run(self, part: str, tensor: torch.Tensor) -> torch.Tensor:
        request = self.requests[part]
        array = _array(tensor)
        self._record(part, [array])
        request.infer([array])
        return torch.from_numpy(request.get_output_tensor(0).data.copy())

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self._run("decoder", latents)

    def encode(self, image11: torch.Tensor) -> torch.Tensor:
        return self._run("encoder", image11)
