"""The result schema describes itself: every field, nested models included."""

from __future__ import annotations

from pydantic import BaseModel

from timelens_eval.store import RunResult, SampleRecord


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    """``model`` and every model its fields hold, into ``seen``."""
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for arg in _types(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _models(arg, seen)


def _types(annotation: object) -> list[object]:
    args = getattr(annotation, "__args__", ())
    return [annotation, *[t for a in args for t in _types(a)]]


def test_every_field_of_the_result_schema_has_a_description():
    seen: set[type[BaseModel]] = set()
    for root in (RunResult, SampleRecord):
        _models(root, seen)
    assert {m.__name__ for m in seen} >= {
        "RunResult",
        "RunSpec",
        "MetricsSummary",
        "MetricValue",
        "PromptSpec",
        "SampleRecord",
        "FrameSpec",
        "GenerationConfig",
        "Protocol",
        "ParseOptions",
    }
    bare = [
        f"{m.__name__}.{k}" for m in seen for k, f in m.model_fields.items() if not f.description
    ]
    assert bare == []
    schema = RunResult.model_json_schema()
    assert "description" in schema["$defs"]["RunSpec"]["properties"]["variant"]
