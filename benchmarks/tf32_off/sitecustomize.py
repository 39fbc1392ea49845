"""Imported at interpreter start by the sizing probes (on PYTHONPATH): fp32 convolutions and matrix
products without TF32, so that GPU probes learn as the CPU runs do."""

import torch

torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
