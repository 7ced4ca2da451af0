"""Tiny offline Qwen-VL checkpoints: built without network, deterministic, loadable, runnable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from timelens_eval.errors import ConfigError  # noqa: E402
from timelens_eval.tiny_models import (  # noqa: E402
    SPECIAL_TOKENS,
    build_tiny_model,
    build_tiny_tokenizer,
    has_video_processor,
    load_processor,
)

FAMILIES = ["qwen2_5_vl", "qwen3_vl"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield {fam: build_tiny_model(tmp_path_factory.mktemp(fam), fam, seed=0) for fam in FAMILIES}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _state_digest(model) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def test_tokenizer_round_trips_any_text_and_keeps_control_tokens_whole() -> None:
    tok = build_tiny_tokenizer()
    text = "Please find 'a man opens the door' — 12.5 - 17.0 seconds ✓"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert len(ids) == len(text.encode("utf-8"))  # one token per byte
    for token in SPECIAL_TOKENS:
        ids = tok(token, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and ids[0] >= 256
    assert len(tok) == 256 + len(SPECIAL_TOKENS)


_CORPUS = [
    f"{t}.0s Please find the {c} {shape} {verb}, determining its starting and ending times."
    for t in range(12)
    for c in ("red", "blue", "green")
    for shape in ("circle", "square")
    for verb in ("appears", "moves to the left", "grows bigger")
]


def test_bpe_tokenizer_learns_the_corpus_words_and_still_round_trips_any_text() -> None:
    tok = build_tiny_tokenizer(_CORPUS, vocab_size=400)
    byte_tok = build_tiny_tokenizer()
    sentence = "Please find the blue square moves to the left"
    assert len(tok(sentence)["input_ids"]) <= len(byte_tok(sentence)["input_ids"]) // 3
    for word in (" blue", " square", " Please", " find"):
        assert len(tok(word, add_special_tokens=False)["input_ids"]) == 1, word
    # Text the corpus never had still encodes and decodes exactly, byte by byte if need be.
    text = "Unseen: ünïcödé ✓ 12.5 - 17.0 seconds\n\ttabs"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    for token in SPECIAL_TOKENS:
        assert len(tok(token, add_special_tokens=False)["input_ids"]) == 1
    assert len(tok) <= 400 + len(SPECIAL_TOKENS)
    # The same corpus gives the same tokenizer.
    again = build_tiny_tokenizer(list(_CORPUS), vocab_size=400)
    assert again.backend_tokenizer.to_str() == tok.backend_tokenizer.to_str()


def test_bpe_model_records_its_tokenizer_and_sizes_the_embedding(tmp_path: Path) -> None:
    from transformers import AutoConfig

    path = build_tiny_model(
        tmp_path / "bpe", "qwen2_5_vl", tokenizer_corpus=_CORPUS, vocab_size=400
    )
    meta = json.loads((path / "tiny_model.json").read_text())
    tok = load_processor(path).tokenizer
    assert meta["tokenizer"] == "bpe" and meta["vocab_size"] == len(tok)
    assert AutoConfig.from_pretrained(path).text_config.vocab_size == len(tok)
    assert len(tok(" circle", add_special_tokens=False)["input_ids"]) == 1
    with pytest.raises(ConfigError, match="vocab_size"):
        build_tiny_tokenizer(_CORPUS, vocab_size=100)


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_checkpoint_loads_with_matching_token_ids(
    tiny_dirs: dict[str, Path], family: str
) -> None:
    from transformers import AutoConfig

    path = tiny_dirs[family]
    config = AutoConfig.from_pretrained(path)
    assert config.model_type == family
    processor = load_processor(path)
    tok = processor.tokenizer
    assert config.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert config.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert config.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert config.text_config.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert config.text_config.vocab_size == len(tok)
    assert config.vision_config.patch_size == (14 if family == "qwen2_5_vl" else 16)
    assert type(processor).__name__ == (
        "Qwen2_5_VLProcessor" if family == "qwen2_5_vl" else "Qwen3VLProcessor"
    )
    meta = json.loads((path / "tiny_model.json").read_text())
    assert meta["family"] == family and meta["seed"] == 0
    video = json.loads((path / "video_preprocessor_config.json").read_text())
    assert video["patch_size"] == config.vision_config.patch_size


def test_same_seed_same_weights_other_seed_other_weights(tmp_path: Path) -> None:
    a = build_tiny_model(tmp_path / "a", "qwen2_5_vl", seed=3)
    b = build_tiny_model(tmp_path / "b", "qwen2_5_vl", seed=3)
    c = build_tiny_model(tmp_path / "c", "qwen2_5_vl", seed=4)
    from transformers import AutoModelForImageTextToText

    digests = [_state_digest(AutoModelForImageTextToText.from_pretrained(p)) for p in (a, b, c)]
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]
    for name in ("tokenizer.json", "chat_template.jinja", "preprocessor_config.json"):
        assert _sha(a / name) == _sha(c / name)


def test_building_does_not_disturb_the_callers_rng(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_model(tmp_path / "m", "qwen3_vl", seed=9)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("family", FAMILIES)
def test_chat_template_and_processor_expand_images_and_generate(
    tiny_dirs: dict[str, Path], family: str
) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    path = tiny_dirs[family]
    processor = load_processor(path)
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    side = 2 * (14 if family == "qwen2_5_vl" else 16) * 2  # 2x2 merged tokens per frame
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(3)]
    content: list[dict] = []
    for i in range(len(frames)):
        content += [{"type": "text", "text": f"{i * 0.5:.1f}s"}, {"type": "image"}]
    content.append({"type": "text", "text": "Where is the event?"})
    text = processor.apply_chat_template(
        [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
    )
    assert text.startswith("<|im_start|>user\n0.0s<|vision_start|><|image_pad|><|vision_end|>")
    assert text.endswith("Where is the event?<|im_end|>\n<|im_start|>assistant\n")
    inputs = processor(text=[text], images=frames, return_tensors="pt", padding=True)
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # each frame: a 4x4 patch grid merged 2x2 -> 4 tokens
    assert int((inputs["input_ids"] == image_id).sum()) == 3 * 4
    assert inputs["image_grid_thw"].tolist() == [[1, 4, 4]] * 3
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=6)
        again = model.generate(**inputs, do_sample=False, max_new_tokens=6)
    assert torch.equal(out, again)  # greedy decoding of a fixed model is deterministic
    new = out[0, inputs["input_ids"].shape[1] :]
    assert 1 <= new.numel() <= 6
    assert isinstance(processor.decode(new, skip_special_tokens=True), str)


@pytest.mark.skipif(
    not has_video_processor(), reason="Hugging Face video processors need torchvision"
)
@pytest.mark.parametrize("family", FAMILIES)
def test_video_input_through_the_video_processor(tiny_dirs: dict[str, Path], family: str) -> None:
    from transformers.video_utils import VideoMetadata

    processor = load_processor(tiny_dirs[family])
    side = 2 * (14 if family == "qwen2_5_vl" else 16) * 2
    video = np.zeros((4, side, side, 3), dtype=np.uint8)
    meta = VideoMetadata(total_num_frames=4, fps=2.0, frames_indices=[0, 1, 2, 3])
    text = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "q"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    inputs = processor(
        text=[text],
        videos=[video],
        video_metadata=[meta],
        do_sample_frames=False,
        return_tensors="pt",
    )
    assert inputs["video_grid_thw"].tolist() == [[2, 4, 4]]
