"""dsconv: fast depthwise-separable convolution kernels for CPUs.

Ops take NumPy arrays (float32) in NCHW (default) or NHWC layout and PyTorch-layout weights.
"""

from . import _core
from ._core import PackedWeights, SizeOverflowError
from ._ops import (conv2d, cpu_info, depthwise_conv2d, get_num_threads, kernel_name, pack_weights,
                   pointwise_conv2d, separable_conv2d, set_num_threads)
from . import cost

__version__ = _core.__version__

# The dispatch is chosen here, so a bad DSCONV_ISA fails the import with a clear message.
_core.cpu_info()

__all__ = ["depthwise_conv2d", "pointwise_conv2d", "conv2d", "separable_conv2d", "pack_weights", "PackedWeights",
           "cpu_info", "kernel_name", "set_num_threads", "get_num_threads", "cost", "SizeOverflowError",
           "__version__"]
