"""Callbacks that record activations from a training framework's own loop.

    render3d.integrations.lightning.Render3DCallback      PyTorch Lightning (pip install render3d[lightning])
    render3d.integrations.transformers.Render3DCallback   Hugging Face Trainer (pip install render3d[transformers])

Each is a :class:`~render3d.record.recorder.Recorder` driven by the trainer: a snapshot at the end of
every ``every_n_epochs``-th epoch (and every ``every_n_steps`` optimizer steps when asked), captioned
with the trainer's metrics, written by global rank 0 only. Importing ``render3d`` or this package
imports neither framework: only the submodule a user imports does.
"""
