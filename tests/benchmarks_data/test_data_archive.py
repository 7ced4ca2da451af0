"""Safe extraction of video shards, and the manual steps of the original benchmarks."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from timelens_eval.cli import main
from timelens_eval.datafiles.archive import extract_archive
from timelens_eval.errors import InputError


def _archive(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if isinstance(member, tuple):
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(member)
    return path


def _link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def _special(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


BAD = [
    ([("/tmp/evil.mp4", b"x")], "absolute path"),
    ([("C:/evil.mp4", b"x")], "absolute path"),
    ([("charades/../../evil.mp4", b"x")], "'..' in its path"),
    ([("../evil.mp4", b"x")], "'..' in its path"),
    ([_link("charades/out", "/etc/passwd")], "link to an absolute path"),
    ([_link("charades/out", "../../outside")], "leads outside the target"),
    # a link inside the target to the folder above it, then a file written through it
    ([_link("charades/up", ".."), ("charades/up/evil.mp4", b"x")], "outside the target"),
    ([_link("charades/hard", "../secret", hard=True)], "'..' in its path"),
    ([_link("charades/hard", "charades/none.mp4", hard=True)], "hard link"),
    ([_special("charades/dev", tarfile.CHRTYPE)], "not a file, folder or link"),
    ([_special("charades/fifo", tarfile.FIFOTYPE)], "not a file, folder or link"),
]


@pytest.mark.parametrize(("members", "message"), BAD)
def test_unsafe_members_are_refused_and_nothing_lands_outside(
    tmp_path: Path, members: list, message: str
) -> None:
    archive = _archive(tmp_path / "shard.tar.gz", members)
    target = tmp_path / "area" / "videos" / "charades"
    before = _tree(tmp_path)
    with pytest.raises(InputError, match=message) as info:
        extract_archive(archive, target, strip="charades")
    assert str(archive) in str(info.value)
    after = _tree(tmp_path) - before
    assert all(p.startswith("area/videos/charades") or p in ("area", "area/videos") for p in after)
    assert not (tmp_path / "evil.mp4").exists() and not (tmp_path / "area/evil.mp4").exists()


def test_both_layouts_land_in_the_target_and_links_inside_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "videos" / "charades"
    prefixed = _archive(
        tmp_path / "a.tar.gz",
        [
            ("charades/A.mp4", b"aaa"),
            ("charades/sub/B.mp4", b"bb"),
            _link("charades/C.mp4", "A.mp4"),
            _link("charades/sub/D.mp4", "charades/sub/B.mp4", hard=True),
        ],
    )
    bare = _archive(tmp_path / "b.tar.gz", [("./E.mp4", b"e"), ("F.mp4", b"ff")])
    first = extract_archive(prefixed, target, strip="charades")
    assert (first.written, first.present, first.links) == (2, 0, 2)
    second = extract_archive(bare, target, strip="charades")
    assert second.files == 2
    assert (target / "A.mp4").read_bytes() == b"aaa" and (
        target / "sub/B.mp4"
    ).read_bytes() == b"bb"
    assert (target / "C.mp4").is_symlink() and (target / "C.mp4").read_bytes() == b"aaa"
    assert (target / "sub/D.mp4").read_bytes() == b"bb"
    assert (target / "E.mp4").read_bytes() == b"e" and (target / "F.mp4").read_bytes() == b"ff"
    assert not list(target.rglob("*.part"))
    again = extract_archive(prefixed, target, strip="charades")  # a second run rewrites nothing
    assert (again.written, again.present) == (0, 2)


def test_a_truncated_archive_is_one_error(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "a.tar.gz", [("charades/A.mp4", bytes(range(256)) * 400)])
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(InputError, match="not a readable tar archive") as info:
        extract_archive(archive, tmp_path / "out", strip="charades")
    assert str(archive) in str(info.value)
    assert not list((tmp_path / "out").rglob("A.mp4"))  # never a truncated file under its name


def test_original_benchmarks_print_their_manual_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "d"
    code = main(["data", "download", "charades-sta", "qvhighlights", "--root", str(root)])
    out = capsys.readouterr().out
    assert code == 0
    assert "charades-sta: the videos are not on the Hugging Face Hub" in out
    assert f"-> {root}/charades_sta/charades_sta_test.txt" in out
    assert f"-> {root}/charades_sta/Charades_v1_test.csv" in out
    assert f"rename its folder Charades_v1_480 to {root}/charades_sta/videos" in out
    assert "https://nlp.cs.unc.edu/data/jielei/qvh/qvhilights_videos.tar.gz" in out
    assert f"in {root}/qvhighlights/videos" in out
    assert "then check with: timelens-eval data status qvhighlights" in out
    assert not root.exists()  # nothing was downloaded or created
