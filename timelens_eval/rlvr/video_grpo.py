"""GRPO with video inputs for Qwen-VL models: video tensors reach generation *and* training.

TRL's ``GRPOTrainer`` forwards images only. :func:`video_grpo_trainer_class` returns a
subclass that, for each row of the batch,

1. builds the row's prompt exactly as evaluation builds a request
   (:func:`timelens_eval.rlvr.inputs.prompt_message`: the row's ``video`` sampled with
   the config's frames, the ``query`` rendered with its template and timestamp
   encoding) and, with ``snap_gt``, moves the row's ``gt`` onto the frame times the
   model is shown before the reward reads it (TimeLens-7B's recipe);
2. encodes it with :func:`timelens_eval.rlvr.inputs.encode_message`, the
   ``transformers`` adapter's own processor call: ``input_ids`` with every video
   placeholder expanded, ``pixel_values_videos``, ``video_grid_thw`` and, for
   Qwen2.5-VL, ``second_per_grid_ts`` (one video, or one per frame pair between
   TimeLens-7B's timestamp texts);
3. passes those tensors and the matching ``mm_token_type_ids`` (3D RoPE positions) to
   ``generate``, and keeps them per sample through TRL's shuffling and splitting so that
   every log-prob computation (old policy, reference, training forward) sees the video.

:func:`qwen_video_patches` is the built-in Qwen2-VL patch layout, what the Qwen2.5-VL
video processor produces for frames that are already sampled; it encodes when
``torchvision`` (which the Hugging Face video processors need) is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from timelens_eval.errors import ConfigError, InputError
from timelens_eval.rlvr.trainer import grpo_trainer_class, require_trl
from timelens_eval.video.budget import smart_resize

__all__ = [
    "PatchLayout",
    "qwen_video_patches",
    "video_grpo_trainer_class",
    "video_prompt",
]

_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class PatchLayout:
    """The vision patch geometry and pixel normalisation of a Qwen-VL family."""

    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2
    mean: tuple[float, float, float] = _CLIP_MEAN
    std: tuple[float, float, float] = _CLIP_STD
    min_pixels: int = 4 * 28 * 28
    max_pixels: int = 64 * 28 * 28

    @classmethod
    def from_processor(cls, processor: Any) -> PatchLayout:
        """Read the layout from a processor's image processor (its video settings match)."""
        ip = getattr(processor, "image_processor", processor)
        size = getattr(ip, "size", None) or {}
        unit = (ip.patch_size * ip.merge_size) ** 2
        return cls(
            patch_size=int(ip.patch_size),
            temporal_patch_size=int(ip.temporal_patch_size),
            merge_size=int(ip.merge_size),
            mean=tuple(ip.image_mean),
            std=tuple(ip.image_std),
            min_pixels=int(size.get("shortest_edge", 4 * unit)),
            max_pixels=int(size.get("longest_edge", 64 * unit)),
        )


def qwen_video_patches(
    frames: np.ndarray, layout: PatchLayout, *, resize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Qwen2-VL video patches of ``frames``: ``(pixel_values_videos, video_grid_thw)``.

    Frames are resized (aspect kept, sides multiples of ``patch_size * merge_size``,
    pixels within the layout's range; ``resize=False``: as they are, like a processor
    called with ``do_resize=False``), rescaled to [0, 1], normalised, padded to a
    multiple of ``temporal_patch_size`` by repeating the last frame, and cut into
    ``grid_t * grid_h * grid_w`` rows of ``3 * temporal_patch_size * patch_size**2``
    values, merge-window by merge-window.
    """
    from PIL import Image

    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] < 1:
        raise InputError(f"video frames must be T x H x W x 3, got shape {arr.shape}")
    unit = layout.patch_size * layout.merge_size
    size = smart_resize(
        arr.shape[1],
        arr.shape[2],
        patch=unit,
        min_pixels=layout.min_pixels,
        max_pixels=layout.max_pixels,
    )
    if not resize and (arr.shape[1] % unit or arr.shape[2] % unit):
        raise InputError(
            f"frames of {arr.shape[2]} x {arr.shape[1]} are not multiples of {unit} pixels "
            "and may not be resized"
        )
    if resize and (size.height, size.width) != arr.shape[1:3]:
        arr = np.stack(
            [
                np.asarray(
                    Image.fromarray(f.astype(np.uint8)).resize(
                        (size.width, size.height), Image.Resampling.BICUBIC
                    )
                )
                for f in arr
            ]
        )
    x: np.ndarray = arr.astype(np.float32) / 255.0
    x = (x - np.asarray(layout.mean, np.float32)) / np.asarray(layout.std, np.float32)
    x = x.transpose(0, 3, 1, 2)  # T, C, H, W
    tp, ps, ms = layout.temporal_patch_size, layout.patch_size, layout.merge_size
    if x.shape[0] % tp:
        x = np.concatenate([x, np.repeat(x[-1:], tp - x.shape[0] % tp, axis=0)])
    t, c, h, w = x.shape
    gt, gh, gw = t // tp, h // ps, w // ps
    x = x.reshape(gt, tp, c, gh // ms, ms, ps, gw // ms, ms, ps)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    patches = x.reshape(gt * gh * gw, c * tp * ps * ps)
    return np.ascontiguousarray(patches), np.array([[gt, gh, gw]], dtype=np.int64)


@dataclass
class _VideoBatch:
    pixel_values: list[Any]
    grid_thw: list[Any]
    seconds: list[Any]


@lru_cache(maxsize=1)
def video_grpo_trainer_class() -> type:
    """The video-aware GRPO trainer class (TRL is imported on first use).

    Extra constructor arguments: ``inputs`` (the :class:`~timelens_eval.rlvr.inputs.InputSpec`
    prompts are built with), ``video_backend`` (see
    :func:`~timelens_eval.rlvr.inputs.encode_message`), ``snap_gt`` (move each row's GT
    windows onto the shown frame times before the reward reads them) and
    ``message_loader`` (row -> prompt message; default
    :func:`~timelens_eval.rlvr.inputs.prompt_message`).

    It overrides private methods of TRL's trainer, so a TRL outside the tested range
    (:data:`~timelens_eval.rlvr.trainer.TRL_SUPPORTED`) is refused here, with the
    versions named, before a subclass of a trainer it does not know is made.
    """
    require_trl()
    import torch

    from timelens_eval.rlvr.inputs import InputSpec, encode_message, prompt_message, snap_row_gt

    base = grpo_trainer_class()

    class VideoGRPOTrainer(base):  # type: ignore[misc, valid-type]
        """GRPO trainer whose prompts carry a video (Qwen2.5-VL / Qwen3-VL)."""

        def __init__(
            self,
            *args: Any,
            inputs: InputSpec | None = None,
            video_backend: str = "auto",
            snap_gt: bool = False,
            message_loader: Callable[[Mapping[str, Any]], Any] | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(*args, **kwargs)
            self.input_spec = inputs
            self.video_backend = video_backend
            self.snap_gt = snap_gt
            self.message_loader = message_loader
            self._row_messages: list[Any] | None = None
            self._active_video: _VideoBatch | None = None
            tok = self._tokenizer
            self._vision_token_ids = {
                1: tok.convert_tokens_to_ids("<|image_pad|>"),
                2: tok.convert_tokens_to_ids("<|video_pad|>"),
            }
            self._suppress_vision_tokens()

        def _suppress_vision_tokens(self) -> None:
            """Never sample a vision placeholder (TRL suppresses only the image token).

            A sampled ``<|video_pad|>`` in a completion would count as one more video
            token in the training forward pass than there are video features.
            """
            tok = self._tokenizer
            names = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
            ids = {tok.convert_tokens_to_ids(name) for name in names}
            ids.discard(tok.unk_token_id)
            ids = {i for i in ids if isinstance(i, int) and i >= 0}
            kwargs = getattr(self, "generation_kwargs", None)
            if kwargs is None:  # vLLM generation: nothing to configure here
                return
            merged = sorted(set(kwargs.get("suppress_tokens") or []) | ids)
            kwargs["suppress_tokens"] = merged
            self.generation_config.suppress_tokens = merged

        def _snapped(self, row: Mapping[str, Any], message: Any) -> Any:
            vision = self.input_spec.vision if self.input_spec is not None else "video"
            return snap_row_gt(row, message, vision)

        def _message(self, row: Mapping[str, Any]) -> Any:
            if self.message_loader is not None:
                return self.message_loader(row)
            if self.input_spec is None:
                raise ConfigError("the video trainer needs inputs=InputSpec(...) for video rows")
            return prompt_message(row, self.input_spec)

        # -- generation side ---------------------------------------------------------
        def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
            if not any("video" in row for row in inputs):
                return super()._generate_and_score_completions(inputs)
            # TRL repeats each prompt num_generations times: build each prompt once.
            built: dict[tuple[Any, ...], Any] = {}
            self._row_messages, rows = [], []
            for row in inputs:
                video = row.get("video")
                key = (video, row.get("query"), row.get("sample_id"))
                if not isinstance(video, str):
                    key = (id(row),)
                if key not in built:
                    built[key] = self._message(row)
                message = built[key]
                self._row_messages.append(message)
                rows.append(self._snapped(row, message) if self.snap_gt else row)
            try:
                output = super()._generate_and_score_completions(rows)
                if self._active_video is not None:
                    # Per-sample lists survive TRL's shuffle and split of the batch.
                    output["video_pixel_values"] = self._active_video.pixel_values
                    output["video_grid_thw_list"] = self._active_video.grid_thw
                    output["video_seconds"] = self._active_video.seconds
                return output
            finally:
                self._row_messages = None
                self._active_video = None

        def _tokenize_prompts(self, prompts):  # type: ignore[no-untyped-def]
            if self._row_messages is None:
                return super()._tokenize_prompts(prompts)
            if len(prompts) != len(self._row_messages):
                raise InputError("every prompt of a video batch needs its row's video")
            spec = self.input_spec
            if spec is None:
                raise ConfigError("the video trainer needs inputs=InputSpec(...) to encode")
            prompt_ids, pixel_values, grids, seconds = [], [], [], []
            encoded: dict[int, Any] = {}
            for message in self._row_messages:
                if id(message) not in encoded:  # repeated prompts share one encoding
                    encoded[id(message)] = encode_message(
                        self.processing_class, message, spec, backend=self.video_backend
                    )
                enc = encoded[id(message)]
                if "pixel_values_videos" not in enc.fields:
                    raise InputError("a video row's prompt encoded without a video")
                prompt_ids.append(enc.input_ids)
                pixel_values.append(enc.fields["pixel_values_videos"])
                grids.append(enc.fields["video_grid_thw"])
                seconds.append(enc.fields.get("second_per_grid_ts"))
            self._active_video = _VideoBatch(pixel_values, grids, seconds)
            fields = {
                "pixel_values_videos": torch.cat(pixel_values),
                "video_grid_thw": torch.cat(grids),
                # Per-token field: TRL left-pads it like the prompt ids.
                "mm_token_type_ids": [
                    self._token_types(torch.tensor(ids)).tolist() for ids in prompt_ids
                ],
            }
            if all(x is not None for x in seconds):
                fields["second_per_grid_ts"] = torch.cat(seconds)
            return prompt_ids, None, fields

        def _token_types(self, ids: Any) -> Any:
            types = torch.zeros_like(ids)
            for value, token_id in self._vision_token_ids.items():
                if token_id is not None and token_id >= 0:
                    types[ids == token_id] = value
            return types

        # -- training side -----------------------------------------------------------
        def _compute_loss(self, model, inputs):  # type: ignore[no-untyped-def]
            if "video_pixel_values" not in inputs:
                return super()._compute_loss(model, inputs)
            self._active_video = _VideoBatch(
                inputs["video_pixel_values"], inputs["video_grid_thw_list"], inputs["video_seconds"]
            )
            try:
                return super()._compute_loss(model, inputs)
            finally:
                self._active_video = None

        def _get_per_token_logps_and_entropies(  # type: ignore[no-untyped-def]
            self,
            model,
            input_ids,
            attention_mask,
            logits_to_keep,
            batch_size=None,
            compute_entropy=False,
            compute_aux_loss=False,
            **kwargs,
        ):
            video = self._active_video
            if video is None:
                return super()._get_per_token_logps_and_entropies(
                    model,
                    input_ids,
                    attention_mask,
                    logits_to_keep,
                    batch_size=batch_size,
                    compute_entropy=compute_entropy,
                    compute_aux_loss=compute_aux_loss,
                    **kwargs,
                )
            if len(video.pixel_values) != input_ids.size(0):
                raise RuntimeError("video tensors and sequences are out of step")
            device = input_ids.device
            batch_size = batch_size or input_ids.size(0)
            logps, entropies, aux = [], [], []
            for start in range(0, input_ids.size(0), batch_size):
                end = min(start + batch_size, input_ids.size(0))
                ids, mask = input_ids[start:end], attention_mask[start:end]
                model_inputs = {
                    "input_ids": ids,
                    "attention_mask": mask,
                    "pixel_values_videos": torch.cat(video.pixel_values[start:end]).to(device),
                    "video_grid_thw": torch.cat(video.grid_thw[start:end]).to(device),
                    "mm_token_type_ids": self._token_types(ids),
                }
                chunk_seconds = video.seconds[start:end]
                if all(x is not None for x in chunk_seconds):
                    model_inputs["second_per_grid_ts"] = torch.cat(chunk_seconds).to(device)
                if compute_aux_loss:
                    model_inputs["output_router_logits"] = True
                labels = ids.masked_fill(mask == 0, -100)
                labels[:, :-logits_to_keep] = -100
                with self.accelerator.autocast():
                    out = model(**model_inputs, labels=labels, fused_lm_head=True)
                logps.append(out.log_probs[:, -logits_to_keep:])
                if compute_entropy:
                    entropies.append(out.entropy[:, -logits_to_keep:])
                if compute_aux_loss:
                    aux.append(out.aux_loss)
            return (
                torch.cat(logps, dim=0),
                torch.cat(entropies, dim=0) if compute_entropy else None,
                torch.stack(aux).mean() if compute_aux_loss else None,
            )

    return VideoGRPOTrainer


def video_prompt(query_text: str, system: str | None = None) -> list[dict[str, Any]]:
    """A conversational prompt with the video first, then the text (TimeLens' layout)."""
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    messages.append(
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": query_text}]}
    )
    return messages
