"""The named feature taps every segmenter returns and a distillation term reads.

A neutral module of names only: :mod:`aicsd.models` exposes these keys and :mod:`aicsd.losses`
asks for them, so neither package imports the other.

``forward_features(images)`` of a network in :mod:`aicsd.models` returns a dict with these keys:
the four backbone stages (strides 4, 8, 16, 16 at output stride 16), the ASPP output, the decoder
feature (stride 4), the stride-4 classifier output and the logits upsampled to the input size.
"""

from __future__ import annotations

STAGES = ("stage1", "stage2", "stage3", "stage4")
ASPP = "aspp"
DECODER = "decoder"
DECODER_LOGITS = "decoder_logits"
LOGITS = "logits"
FEATURE_KEYS = (*STAGES, ASPP, DECODER, DECODER_LOGITS, LOGITS)
