"""timelens-eval: evaluation harness for video temporal grounding.

The public vocabulary is small: spans and IoU, one answer parser, metrics, benchmarks,
the adapter interface and the result schema. Importing this package imports no heavy
stack (torch, vllm, openai, google-genai).
"""

from timelens_eval.errors import InputError, TimelensError
from timelens_eval.parsing import ParsedAnswer, ParseStatus, parse_spans
from timelens_eval.protocol import TIMELENS_PROTOCOL, ParseOptions, Protocol
from timelens_eval.spans import Span, best_window_iou, iou_arrays, temporal_iou

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "ParseOptions",
    "ParseStatus",
    "ParsedAnswer",
    "Protocol",
    "Span",
    "TIMELENS_PROTOCOL",
    "TimelensError",
    "__version__",
    "best_window_iou",
    "iou_arrays",
    "parse_spans",
    "temporal_iou",
]
