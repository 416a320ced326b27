"""The OpenVINO backend (``--backend openvino``): the frame's model forwards run as OpenVINO
models converted from the engine's own loaded torch modules, everything else as in the
PyTorch engine (``engine.OpenVinoEngine``).

Pieces: ``target`` (which OpenVINO device and precision, and the one-line errors),
``convert`` (torch module → ``openvino.Model`` at a frame size, and the 8-bit passes),
``cache`` (converted models on disk), ``calibration`` (the frames int8 is calibrated on).
The extra ``live-canvas[openvino]`` installs ``openvino`` and ``nncf``; nothing here is
imported unless the backend is chosen.
"""
