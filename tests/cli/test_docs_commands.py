"""Every command README.md and docs/*.md show works as written.

The blocks are found by :mod:`docs_commands`, so a command added to the docs later is
checked without touching this file; how a block is checked (run, parsed, options only)
is said in the doc itself, see that module's docstring.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_checks import (
    SHARED_DATA,
    DocCommandError,
    check_command,
    check_options,
    cli_args,
    doc_env,
    install_example_adapter,
    needs_shared_data,
    prepare_workdir,
    run_block,
)
from docs_commands import DOCS, REPO, DocBlock, DocCommand, all_blocks, inline_commands

BLOCKS = all_blocks()
RUN_BLOCKS = [b for b in BLOCKS if any(c.mode == "run" and not c.is_setup for c in b.commands)]
CHECKED = [(b, c) for b in BLOCKS for c in b.commands if c.mode != "run" or c.is_setup]
INLINE = [(doc, c) for doc in DOCS for c in inline_commands(doc)]


def _id(block: DocBlock, command: DocCommand | None = None) -> str:
    where = f"{block.doc.relative_to(REPO)}:{command.line if command else block.line}"
    return where


def test_the_docs_show_commands_in_every_way():
    # The extraction itself: if it found nothing, every other test here would pass.
    assert len(BLOCKS) >= 20 and len(RUN_BLOCKS) >= 8 and len(INLINE) >= 20
    assert {b.doc.name for b in RUN_BLOCKS} >= {"README.md", "running.md", "submitting.md"}
    modes = {c.mode for b in BLOCKS for c in b.commands}
    assert modes == {"run", "parse", "options"}


@pytest.mark.parametrize(("block", "command"), CHECKED, ids=[_id(*bc) for bc in CHECKED])
def test_a_command_that_is_not_run_parses(block, command):
    check_command(command)


@pytest.mark.parametrize(("doc", "command"), INLINE, ids=[f"{d.name}:{c.line}" for d, c in INLINE])
def test_an_inline_command_names_real_options(doc, command):
    args = cli_args(command)
    assert args is not None
    check_options(args)


class DocSession:
    """One doc's working folder; its blocks run in order, as a reader would run them."""

    def __init__(self, folder: Path, site: Path) -> None:
        self.work = prepare_workdir(folder)
        self.env = doc_env(site)
        self.done: set[int] = set()

    def run_through(self, block: DocBlock) -> str:
        output = ""
        for earlier in RUN_BLOCKS:
            if earlier.doc != block.doc or earlier.line > block.line or id(earlier) in self.done:
                continue
            self.done.add(id(earlier))
            output = run_block(earlier, self.work, self.env, timeout=900)
        return output


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    return install_example_adapter(tmp_path_factory.mktemp("example-adapter"))


@pytest.fixture(scope="module")
def sessions(tmp_path_factory, example_site) -> dict[Path, DocSession]:
    folder = tmp_path_factory.mktemp("docs")
    return {
        doc: DocSession(
            folder / "-".join(doc.relative_to(REPO).with_suffix("").parts), example_site
        )
        for doc in DOCS
    }


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("block", RUN_BLOCKS, ids=[_id(b) for b in RUN_BLOCKS])
def test_a_command_block_runs_as_written(block, sessions):
    if needs_shared_data(block) and not SHARED_DATA.is_dir():
        pytest.skip("real benchmark files not found at ../shared/data")
    try:
        sessions[block.doc].run_through(block)
    except DocCommandError as exc:
        pytest.fail(f"{block.name}: a documented command fails: {exc}", pytrace=False)


SAMPLE_DOC = """# A page

Prose with `timelens-eval run --adapter mock --no-such-option 3` inline.

```bash
timelens-eval benchmarks list
timelens-eval merge runs/model/shard-*.json
```

<!-- docs-test: parse-only, needs a GPU -->
```bash
timelens-eval run --adapter vllm --fsp 2
```

```bash
timelens-eval run --adapter openai --benchmark charades-timelens   # needs a key
timelens-eval frames VIDEO [--fps 2] [--colour red]
pip install -e examples/no-such-package
```

<!-- docs-test: skip, another tool's transcript -->
```bash
timelens-eval this is not run
```
"""


def test_the_checks_fail_on_commands_that_do_not_work(tmp_path):
    from docs_commands import extract_blocks

    doc = tmp_path / "page.md"
    doc.write_text(SAMPLE_DOC)
    runs, parsed, tail, skipped = extract_blocks(doc)
    assert [c.mode for c in runs.commands] == ["run", "run"]
    assert parsed.mode == "parse" and parsed.reason == "needs a GPU"
    assert [c.mode for c in tail.commands] == ["parse", "options", "run"]
    assert tail.commands[0].reason == "needs a key" and tail.commands[2].is_setup
    assert skipped.mode == "skip" and not skipped.commands
    # A glob that matches nothing: merge fails, so the block fails.
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DocCommandError, match="page.md:7: timelens-eval merge"):
        run_block(runs, work, doc_env(None), timeout=120)
    with pytest.raises(DocCommandError, match="no such option --fsp"):
        check_command(parsed.commands[0])
    check_command(tail.commands[0])  # parses: options and values are real
    with pytest.raises(DocCommandError, match="no option --colour"):
        check_command(tail.commands[1])
    with pytest.raises(DocCommandError, match="examples/no-such-package does not exist"):
        check_command(tail.commands[2])
    (inline,) = inline_commands(doc)
    with pytest.raises(DocCommandError, match="no option --no-such-option"):
        check_options(cli_args(inline))
