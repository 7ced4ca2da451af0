"""Tiny, randomly initialised Qwen-VL checkpoints built fully offline, for tests and smoke runs.

:func:`build_tiny_model` writes a directory that ``AutoModelForImageTextToText`` and
``AutoProcessor`` load like a real checkpoint: a model of the real Qwen2.5-VL or Qwen3-VL
architecture with a few thousand parameters, a byte-level tokenizer made with the
``tokenizers`` library (every text round-trips; by default no merges, so nothing is
learned from data; optionally BPE merges learned from a given corpus), the family's
image processor (and video processor when ``torchvision`` is installed, which the
Hugging Face video processors need), and a Qwen-style chat template.

Nothing is downloaded: the function works with ``HF_HUB_OFFLINE=1``. The same ``seed``
gives the same weights, so answers are reproducible across runs.

The model's answers are random bytes. They exercise the whole processor, model and
decoding path; they are not meant to be right.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from timelens_eval.errors import ConfigError, MissingDependencyError

__all__ = [
    "TinyFamily",
    "TinyModelSpec",
    "SPECIAL_TOKENS",
    "CHAT_TEMPLATE",
    "build_tiny_tokenizer",
    "build_tiny_model",
    "build_tiny_processor",
    "FAMILY_CHAT_TEMPLATES",
    "has_video_processor",
    "load_processor",
]

TinyFamily = Literal["qwen2_5_vl", "qwen3_vl"]

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
"""Qwen's control tokens; their ids follow the 256 byte tokens, in this order."""

# A Qwen-style chat template: ChatML turns, images and videos as one pad token between
# vision markers (the processor expands the pad to the right number of tokens).
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'video' -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'text' -%}"
    "{{- part['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- endif -%}"
)


# The chat templates of the real families, as far as a grounding request uses them: one
# user turn of text and vision parts, as above. Qwen2.5-VL adds its default system turn;
# Qwen3-VL has none.
FAMILY_CHAT_TEMPLATES: dict[str, str] = {
    "qwen2_5_vl": (
        "{%- if messages[0]['role'] != 'system' -%}"
        "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' -}}"
        "{%- endif -%}" + CHAT_TEMPLATE
    ),
    "qwen3_vl": CHAT_TEMPLATE,
}
"""Chat templates that render a grounding turn as the real Qwen2.5-VL / Qwen3-VL ones do."""


@dataclass(frozen=True)
class TinyModelSpec:
    """Sizes of a tiny model. The defaults keep a CPU forward pass in milliseconds."""

    family: TinyFamily = "qwen2_5_vl"
    seed: int = 0
    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 2
    vision_hidden_size: int = 32
    vision_depth: int = 2
    chat_template: Literal["plain", "family"] = "plain"
    """``plain``: :data:`CHAT_TEMPLATE`; ``family``: the family's real turn layout
    (:data:`FAMILY_CHAT_TEMPLATES`, with Qwen2.5-VL's default system turn)."""
    min_pixels: int | None = None
    """Pixels-per-frame floor of the saved processors; default: 4 tokens' worth."""
    max_pixels: int | None = None
    """Pixels-per-frame cap of the saved processors; default: 64 tokens' worth."""

    @property
    def patch_size(self) -> int:
        """Vision patch side: 14 for Qwen2.5-VL, 16 for Qwen3-VL."""
        return 14 if self.family == "qwen2_5_vl" else 16

    @property
    def pixels_per_token(self) -> int:
        """Pixels one visual token covers after the 2x2 merge (28^2 or 32^2)."""
        return (2 * self.patch_size) ** 2


def _require(module: str, feature: str, extra: str = "transformers") -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(feature, extra, module)


def has_video_processor() -> bool:
    """Whether the Hugging Face video processors can run (they need ``torchvision``)."""
    return importlib.util.find_spec("torchvision") is not None


def _byte_alphabet() -> list[str]:
    """The 256 printable characters that stand for bytes 0..255 in byte-level BPE, in byte order.

    Printable Latin-1 bytes stand for themselves; the others are shifted past 255 so that
    every byte gets a visible, distinct character.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars: dict[int, str] = {b: chr(b) for b in keep}
    shift = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + shift)
            shift += 1
    return [chars[b] for b in range(256)]


def build_tiny_tokenizer(corpus: Iterable[str] | None = None, vocab_size: int = 1024) -> Any:
    """A byte-level tokenizer plus Qwen's control tokens, as a fast HF tokenizer.

    Without ``corpus`` the vocabulary is the 256 byte tokens (no merges). With ``corpus``
    (an iterable of texts) byte-level BPE merges are learned from it, up to
    ``vocab_size`` tokens before the control tokens; every text still round-trips, and
    the same corpus gives the same tokenizer. A tiny model trained from scratch on
    templated prompts reads them in a few words' worth of tokens instead of one per byte.
    """
    _require("tokenizers", "the tiny tokenizer")
    _require("transformers", "the tiny tokenizer")
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if corpus is None:
        vocab = {ch: i for i, ch in enumerate(_byte_alphabet())}
        core = Tokenizer(models.BPE(vocab=vocab, merges=[], fuse_unk=False))
    else:
        if vocab_size < 256:
            raise ConfigError(f"tiny tokenizer: vocab_size {vocab_size} is below the 256 bytes")
        core = Tokenizer(models.BPE(fuse_unk=False))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    if corpus is not None:
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=_byte_alphabet(),
            special_tokens=[],
            show_progress=False,
        )
        core.train_from_iterator(corpus, trainer)
    core.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        model_max_length=32768,
        extra_special_tokens={
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_start_token": "<|vision_start|>",
            "vision_end_token": "<|vision_end|>",
        },
    )


def _token_ids(tokenizer: Any) -> dict[str, int]:
    ids = {t: int(tokenizer.convert_tokens_to_ids(t)) for t in SPECIAL_TOKENS}
    return {
        "vocab_size": len(tokenizer),
        "pad": ids["<|endoftext|>"],
        "bos": ids["<|endoftext|>"],
        "eos": ids["<|im_end|>"],
        "image": ids["<|image_pad|>"],
        "video": ids["<|video_pad|>"],
        "vision_start": ids["<|vision_start|>"],
        "vision_end": ids["<|vision_end|>"],
    }


def transformers_major() -> int:
    """Major version of the installed transformers (4 or 5)."""
    import transformers

    return int(transformers.__version__.split(".", 1)[0])


def _rope(theta: float, mrope: dict[str, Any]) -> dict[str, Any]:
    """Rotary settings in the form the installed transformers reads.

    transformers 5 takes one ``rope_parameters`` dict; 4.x (4.57 is TimeLens' pin) takes
    ``rope_theta`` and a ``rope_scaling`` dict, and its Qwen-VL models fail without one.
    """
    if transformers_major() >= 5:
        return {"rope_parameters": {"rope_type": "default", "rope_theta": theta, **mrope}}
    return {
        "rope_theta": theta,
        "rope_scaling": {"rope_type": "default", "type": "default", **mrope},
    }


def _config(spec: TinyModelSpec, ids: dict[str, int]) -> Any:
    head_dim = spec.hidden_size // spec.num_heads
    if head_dim % 2 or head_dim < 8:
        raise ConfigError("tiny model: hidden_size / num_heads must be even and at least 8")
    half = head_dim // 2
    text: dict[str, Any] = {
        "vocab_size": ids["vocab_size"],
        "hidden_size": spec.hidden_size,
        "intermediate_size": 2 * spec.hidden_size,
        "num_hidden_layers": spec.num_layers,
        "num_attention_heads": spec.num_heads,
        "num_key_value_heads": spec.num_heads,
        "max_position_embeddings": 32768,
        "bos_token_id": ids["bos"],
        "eos_token_id": ids["eos"],
        "pad_token_id": ids["pad"],
    }
    vision: dict[str, Any] = {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_hidden_size,
        "intermediate_size": 2 * spec.vision_hidden_size,
        "num_heads": spec.num_heads,
        "patch_size": spec.patch_size,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": spec.hidden_size,
    }
    tokens: dict[str, Any] = {
        "image_token_id": ids["image"],
        "video_token_id": ids["video"],
        "vision_start_token_id": ids["vision_start"],
        "vision_end_token_id": ids["vision_end"],
    }
    # mrope splits the rotary half-dimension into temporal, height and width sections.
    section = [half - 2 * (half // 3), half // 3, half // 3]
    if spec.family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        text.update(_rope(1_000_000.0, {"mrope_section": section}))
        vision.update(window_size=112, fullatt_block_indexes=[spec.vision_depth - 1])
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **tokens)
    if spec.family == "qwen3_vl":
        from transformers import Qwen3VLConfig

        text["head_dim"] = head_dim
        text.update(_rope(5_000_000.0, {"mrope_section": section, "mrope_interleaved": True}))
        vision.update(
            hidden_act="gelu_pytorch_tanh",
            num_position_embeddings=64,
            deepstack_visual_indexes=[0],
        )
        return Qwen3VLConfig(text_config=text, vision_config=vision, **tokens)
    raise ConfigError(f"tiny model: unknown family {spec.family!r}; use qwen2_5_vl or qwen3_vl")


def _processing_config(spec: TinyModelSpec) -> dict[str, Any]:
    unit = spec.pixels_per_token
    if spec.family == "qwen2_5_vl":
        mean, std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
    else:
        mean, std = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
    return {
        "patch_size": spec.patch_size,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": mean,
        "image_std": std,
        "size": {
            "shortest_edge": spec.min_pixels or 4 * unit,
            "longest_edge": spec.max_pixels or 64 * unit,
        },
    }


def _image_processor_class() -> Any:
    """The Qwen2-VL image processor that needs no torchvision (PIL-based) in this version."""
    if transformers_major() >= 5:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
            Qwen2VLImageProcessorPil,
        )

        return Qwen2VLImageProcessorPil
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

    return Qwen2VLImageProcessor


def _save_processor(spec: TinyModelSpec, tokenizer: Any, out: Path) -> None:
    """Save tokenizer, image processor, video processor config, chat template and processor class.

    The files are written the same way with or without ``torchvision``: the video
    processor's config is plain JSON, so a directory built on a CPU-only machine loads
    the full processor (videos included) wherever ``torchvision`` is installed.
    """
    common = _processing_config(spec)
    tokenizer.save_pretrained(out)
    _image_processor_class()(**common).save_pretrained(out)
    if spec.family == "qwen2_5_vl":
        video = {"video_processor_type": "Qwen2VLVideoProcessor", **common}
        processor_class = "Qwen2_5_VLProcessor"
    else:
        video = {"video_processor_type": "Qwen3VLVideoProcessor", "fps": 2, **common}
        processor_class = "Qwen3VLProcessor"
    video["processor_class"] = processor_class
    (out / "video_preprocessor_config.json").write_text(json.dumps(video, indent=2) + "\n")
    (out / "processor_config.json").write_text(
        json.dumps({"processor_class": processor_class}, indent=2) + "\n"
    )
    template = (
        FAMILY_CHAT_TEMPLATES[spec.family] if spec.chat_template == "family" else CHAT_TEMPLATE
    )
    (out / "chat_template.jinja").write_text(template)


def build_tiny_processor(out_dir: str | Path, family: TinyFamily = "qwen2_5_vl") -> Path:
    """Write only the processor files of a tiny ``family`` checkpoint (no weights).

    The tokenizer is the byte-level one of :func:`build_tiny_tokenizer`; the image and
    video processors have the family's real settings (patch 14 or 16, 2x2 merge, 2-frame
    temporal patches, its normalisation) and the chat template renders the family's real
    turn layout. Enough to see what a request becomes, token for token, without weights.
    """
    _require("transformers", "a tiny processor")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _save_processor(
        TinyModelSpec(family=family, chat_template="family"), build_tiny_tokenizer(), out
    )
    return out


def load_processor(path: str | Path) -> Any:
    """Load a checkpoint's processor; without ``torchvision``, the same class for images only.

    ``AutoProcessor`` refuses Qwen-VL processors when ``torchvision`` (needed by the
    video processors) is missing. Then this builds the checkpoint's own processor class
    from its tokenizer, image processor and chat template, with no video processor: text
    and image processing run the library's real code; passing ``videos=`` fails.
    """
    _require("transformers", "loading a processor")
    import transformers
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    if has_video_processor():
        return AutoProcessor.from_pretrained(path)
    config_file = Path(path) / "processor_config.json"
    name = None
    if config_file.exists():
        name = json.loads(config_file.read_text()).get("processor_class")
    cls = getattr(transformers, name, None) if isinstance(name, str) else None
    if cls is None:
        return AutoProcessor.from_pretrained(path)

    class _ImagesOnly(cls):  # type: ignore[misc, valid-type]
        def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> Any:
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    _ImagesOnly.__name__ = _ImagesOnly.__qualname__ = cls.__name__
    template_file = Path(path) / "chat_template.jinja"
    chat_template = template_file.read_text() if template_file.exists() else None
    tokenizer = AutoTokenizer.from_pretrained(path)
    image_processor = AutoImageProcessor.from_pretrained(path)
    return _ImagesOnly(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=None,
        chat_template=chat_template or getattr(tokenizer, "chat_template", None),
    )


def build_tiny_model(
    out_dir: str | Path,
    family: TinyFamily = "qwen2_5_vl",
    seed: int = 0,
    spec: TinyModelSpec | None = None,
    tokenizer_corpus: Iterable[str] | None = None,
    vocab_size: int = 1024,
) -> Path:
    """Write a tiny random ``family`` checkpoint (model, processor, tokenizer) to ``out_dir``.

    Deterministic: the same ``seed`` and sizes give the same weights. No network access.
    Returns ``out_dir``. Load it with ``AutoModelForImageTextToText.from_pretrained`` and
    ``AutoProcessor.from_pretrained``. ``tokenizer_corpus`` and ``vocab_size`` give the
    tokenizer learned BPE merges (see :func:`build_tiny_tokenizer`); by default it is
    bytes only.
    """
    _require("torch", "building a tiny model")
    _require("transformers", "building a tiny model")
    import torch
    from transformers import AutoModelForImageTextToText

    spec = spec or TinyModelSpec(family=family, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(tokenizer_corpus, vocab_size)
    config = _config(spec, _token_ids(tokenizer))
    # fork_rng restores the caller's global RNG state afterwards; CPU generator only.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.bos_token_id = config.text_config.bos_token_id
    model.eval()
    model.save_pretrained(out)
    _save_processor(spec, tokenizer, out)
    (out / "tiny_model.json").write_text(
        json.dumps(
            {
                "family": spec.family,
                "seed": spec.seed,
                "hidden_size": spec.hidden_size,
                "num_layers": spec.num_layers,
                "tokenizer": "bytes" if tokenizer_corpus is None else "bpe",
                "vocab_size": len(tokenizer),
                "video_processor": has_video_processor(),
                "note": "randomly initialised; answers are noise",
            },
            indent=2,
        )
        + "\n"
    )
    return out
